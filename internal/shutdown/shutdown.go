// Package shutdown tells long-lived HTTP requests (event streams, long
// polls) that their server is shutting down. http.Server.Shutdown stops
// accepting connections and waits for the requests in flight to finish, but
// it never interrupts one, so a request that would otherwise run for hours
// keeps the whole process waiting until its deadline. Such a handler selects
// on Started(r.Context()) and ends when it closes.
//
// The server's owner calls Attach before serving; nothing else is needed.
// A request served without Attach (httptest, a harness) sees a channel that
// never closes, and ends only with its client or its own rules.
package shutdown

import (
	"context"
	"net"
	"net/http"
	"sync"
)

type ctxKey struct{}

// NewContext returns a copy of parent whose Started channel is started.
func NewContext(parent context.Context, started <-chan struct{}) context.Context {
	return context.WithValue(parent, ctxKey{}, started)
}

// Started returns a channel that is closed once the server serving ctx's
// request has begun to shut down. It is nil, and so never ready in a select,
// when no server said it would tell.
func Started(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(ctxKey{}).(<-chan struct{})
	return ch
}

// Attach makes srv tell its requests when it shuts down: every request's
// context carries a Started channel that closes as soon as srv.Shutdown is
// called. It keeps srv's own BaseContext, if any, as the parent. Call it
// before srv serves. srv.Close does not close the channel: it cuts every
// connection anyway.
func Attach(srv *http.Server) {
	started := make(chan struct{})
	var once sync.Once
	base := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		ctx := context.Background()
		if base != nil {
			ctx = base(l)
		}
		return NewContext(ctx, started)
	}
	srv.RegisterOnShutdown(func() { once.Do(func() { close(started) }) })
}
