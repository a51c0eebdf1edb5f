package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

// SocketMode takes the slash command, button presses and events over
// Slack's Socket Mode: the bot opens a websocket to Slack with the app-level
// token, so it needs no public URL and no signing secret (the token
// authenticates the connection). Every envelope is acknowledged by its
// envelope_id; a slash command's acknowledgement carries its answer.
type SocketMode struct {
	in     *Inbound
	client *socketmode.Client
	clock  clock.Clock
	log    *slog.Logger
	// retryWait is how long to wait before connecting again after the n-th
	// refusal in a row (n from 1).
	retryWait func(n int) time.Duration
	// connected is set when a connection opens, so a refusal after a good
	// connection starts the waits from the shortest again.
	connected atomic.Bool
}

// NewSocketMode returns the listener for in's commands. appToken is the
// app-level token (xapp-...) that apps.connections.open requires; apiURL
// is as for New; the waits between refused connections run on clk.
func NewSocketMode(in *Inbound, botToken, appToken, apiURL string, clk clock.Clock, log *slog.Logger) *SocketMode {
	opts := []slack.Option{slack.OptionAppLevelToken(appToken)}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &SocketMode{
		in:        in,
		client:    socketmode.New(slack.New(botToken, opts...)),
		clock:     clk,
		log:       log,
		retryWait: refusedBackoff,
	}
}

// refusedBackoff doubles the wait after each refusal in a row, from 5
// seconds up to 5 minutes: a refused token rarely fixes itself, but a
// Slack outage that answers 404 does, and retrying costs one request.
func refusedBackoff(n int) time.Duration { return chat.DoublingWait(n, 5*time.Second, 5*time.Minute) }

// Run connects and serves envelopes until ctx ends. slack-go reconnects
// by itself, with its own backoff, when a connection drops, fails to open
// or Slack asks with a disconnect message; it gives up only when Slack
// refuses the app token, and then Run waits and tries again rather than
// leave the bot deaf until a restart.
func (s *SocketMode) Run(ctx context.Context) {
	var handlers sync.WaitGroup
	defer handlers.Wait()
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		s.dispatch(ctx, &handlers)
	}()
	// The dispatcher adds handlers: it must stop before they are waited for.
	defer func() { <-dispatched }()

	refusals := 0
	for {
		err := s.client.RunContext(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.connected.Swap(false) {
			refusals = 0
		}
		refusals++
		wait := s.retryWait(refusals)
		s.log.Error("slack socket mode: Slack refused the connection; retrying",
			"err", err, "refusals", refusals, "retry_in", wait)
		t := s.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// dispatch reads the client's events until ctx ends, handing each
// envelope to a goroutine of its own so a slow one (a Web API call in a
// press's answer) does not hold back the acknowledgement of the next.
func (s *SocketMode) dispatch(ctx context.Context, handlers *sync.WaitGroup) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.client.Events:
			s.handle(ctx, ev, handlers)
		}
	}
}

func (s *SocketMode) handle(ctx context.Context, ev socketmode.Event, handlers *sync.WaitGroup) {
	switch ev.Type {
	case socketmode.EventTypeConnecting, socketmode.EventTypeHello:
		s.log.Debug("slack socket mode", "event", ev.Type)
	case socketmode.EventTypeConnected:
		s.connected.Store(true)
		s.log.Info("slack socket mode: connected")
	case socketmode.EventTypeConnectionError:
		if e, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
			s.log.Warn("slack socket mode: cannot connect; retrying",
				"err", e.ErrorObj, "attempt", e.Attempt, "retry_in", e.Backoff)
		}
	case socketmode.EventTypeInvalidAuth:
		s.log.Error("slack socket mode: apps.connections.open refused the app token")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		if e, ok := ev.Data.(*slack.IncomingEventError); ok && errors.Is(e.ErrorObj, net.ErrClosed) {
			// slack-go closes the connection itself after a disconnect
			// message or a missed ping, and its reader reports that.
			s.log.Debug("slack socket mode: connection closed; reconnecting")
			return
		}
		s.log.Warn("slack socket mode: bad traffic on the connection", "event", ev.Type, "detail", describe(ev.Data))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slack.SlashCommand)
		if !ok || ev.Request == nil {
			return
		}
		req := *ev.Request
		handlers.Go(func() {
			// The acknowledgement carries the answer; a picture with it
			// follows through the Web API, as over HTTP.
			reply := s.in.runCommand(ctx, cmd)
			s.ack(ctx, req, commandResponse(reply))
			s.in.postImage(ctx, cmd.ChannelID, reply)
		})
	case socketmode.EventTypeInteractive:
		cb, ok := ev.Data.(slack.InteractionCallback)
		if !ok || ev.Request == nil {
			return
		}
		req := *ev.Request
		handlers.Go(func() {
			// Acknowledged once the command has run, as the HTTP endpoint
			// answers 200 only then; the private answer goes through the
			// Web API after, so a slow call cannot delay the ack past the
			// three seconds Slack waits.
			reply, ok := s.in.runPress(ctx, cb)
			s.ack(ctx, req, nil)
			if ok {
				s.in.answerPress(ctx, cb, reply)
			}
		})
	case socketmode.EventTypeEventsAPI:
		if ev.Request == nil {
			return
		}
		// Events are not used yet; acknowledged so Slack does not resend.
		req := *ev.Request
		handlers.Go(func() { s.ack(ctx, req, nil) })
	}
}

// ack acknowledges an envelope, with payload when there is one.
func (s *SocketMode) ack(ctx context.Context, req socketmode.Request, payload any) {
	if err := s.client.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		s.log.Warn("slack socket mode: acknowledge an envelope", "type", req.Type, "envelope", req.EnvelopeID, "err", err)
	}
}

// describe turns the data of the client's error events into one line. A
// bad message's text is left out: it may carry the verification token.
func describe(data any) string {
	switch d := data.(type) {
	case *slack.IncomingEventError:
		return d.Error()
	case *socketmode.ErrorBadMessage:
		return d.Cause.Error()
	case *socketmode.ErrorWriteFailed:
		return d.Cause.Error()
	}
	return fmt.Sprint(data)
}
