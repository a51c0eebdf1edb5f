package shutdown

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type baseKey struct{}

// A long request that selects on Started ends when Shutdown is called, so
// Shutdown returns at once instead of at its deadline; the server's own
// BaseContext stays the parent.
func TestAttachEndsLongRequestsOnShutdown(t *testing.T) {
	entered := make(chan struct{})
	var sawBase any
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawBase = r.Context().Value(baseKey{})
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		close(entered)
		select {
		case <-Started(r.Context()):
		case <-r.Context().Done():
		}
	}))
	srv.Config.BaseContext = func(net.Listener) context.Context {
		return context.WithValue(context.Background(), baseKey{}, "base")
	}
	Attach(srv.Config)
	srv.Start()
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a guard, not a wait
	defer cancel()
	began := time.Now()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %v; the long request was not told", err, time.Since(began))
	}
	io.Copy(io.Discard, resp.Body)
	if sawBase != "base" {
		t.Errorf("request context lost the server's BaseContext: value %v", sawBase)
	}
}

func TestStartedWithoutAttachNeverFires(t *testing.T) {
	if ch := Started(context.Background()); ch != nil {
		t.Fatalf("Started of a bare context = %v, want nil", ch)
	}
	done := make(chan struct{})
	close(done)
	select {
	case <-Started(NewContext(context.Background(), done)):
	default:
		t.Fatal("Started of NewContext with a closed channel is not ready")
	}
}
