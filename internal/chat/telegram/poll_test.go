package telegram

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/clock"
)

const stubToken = "42:stub-token"

// stubAPI is a Bot API that answers from a script, method by method.
// Past its script it answers deleteWebhook with true and holds a
// getUpdates call with a timeout until the caller gives up, as a long
// poll with nothing to deliver does.
type stubAPI struct {
	srv   *httptest.Server
	calls chan stubCall

	mu     sync.Mutex
	script map[string][]stubAnswer
}

type stubCall struct {
	method string
	form   url.Values
	// scripted is whether the script answered it.
	scripted bool
}

type stubAnswer struct {
	status int
	body   string
}

func newStubAPI(t *testing.T, script map[string][]stubAnswer) *stubAPI {
	s := &stubAPI{calls: make(chan stubCall, 100), script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stubAPI) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+stubToken+"/")
	if !ok {
		http.Error(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	r.ParseForm()
	s.mu.Lock()
	var next *stubAnswer
	if q := s.script[method]; len(q) > 0 {
		next, s.script[method] = &q[0], q[1:]
	}
	s.mu.Unlock()
	s.calls <- stubCall{method, r.PostForm, next != nil}
	switch {
	case next != nil:
		w.WriteHeader(next.status)
		io.WriteString(w, next.body)
	case method == "getUpdates":
		if r.PostForm.Get("timeout") != "0" {
			<-r.Context().Done()
		}
		io.WriteString(w, `{"ok":true,"result":[]}`)
	default:
		io.WriteString(w, `{"ok":true,"result":true}`)
	}
}

// next returns the next call the stub received.
func (s *stubAPI) next(t *testing.T) stubCall {
	t.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call to the Bot API within 5s")
		return stubCall{}
	}
}

// startPoller runs p until the returned stop, which waits for Run to end
// (a test cleanup stops it too).
func startPoller(t *testing.T, p *Poller) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	stop = func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// syncBuffer is a log destination the test may read while the poller
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func message(id, text string) string {
	return `{"update_id":` + id + `,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"` + text + `"}}`
}

func TestPollerHandlesEachUpdateOnceInOrder(t *testing.T) {
	press := `{"update_id":5,"callback_query":{"id":"q1","from":{"id":1001,"is_bot":false,"first_name":"A"},"chat_instance":"c","data":"ack #1"}}`
	batch := `{"ok":true,"result":[` + strings.Join([]string{
		press,
		`{"update_id":6,"message":"not a message"}`, // stepped over
		message("7", "/oncall panic"),               // the handler panics
		message("8", "/oncall escalate"),
	}, ",") + `]}`
	api := newStubAPI(t, map[string][]stubAnswer{"getUpdates": {{200, batch}}})
	var logs syncBuffer
	var handled []int64
	p := NewPoller(stubToken, api.srv.URL+"/", func(_ context.Context, upd *models.Update) {
		handled = append(handled, upd.ID)
		if upd.Message != nil && strings.HasSuffix(upd.Message.Text, "panic") {
			panic("boom")
		}
	}, clock.NewFake(time.Unix(0, 0)), slog.New(slog.NewTextHandler(&logs, nil)))
	stop := startPoller(t, p)

	if c := api.next(t); c.method != "deleteWebhook" || c.form.Get("drop_pending_updates") != "false" {
		t.Fatalf("first call = %s %v, want deleteWebhook keeping pending updates", c.method, c.form)
	}
	first := api.next(t)
	if first.method != "getUpdates" || first.form.Has("offset") || first.form.Get("timeout") != "30" ||
		first.form.Get("allowed_updates") != `["message","callback_query"]` {
		t.Fatalf("first poll = %s %v", first.method, first.form)
	}
	// The next poll confirms the whole batch, handled or not handleable.
	if c := api.next(t); c.method != "getUpdates" || c.form.Get("offset") != "9" {
		t.Fatalf("second poll = %s %v, want offset 9", c.method, c.form)
	}
	stop()
	if want := []int64{5, 7, 8}; !slices.Equal(handled, want) {
		t.Errorf("handled %v, want %v", handled, want)
	}
	// The poll in flight at the stop may not have reached Telegram: the
	// offset goes once more, at once.
	if c := api.next(t); c.method != "getUpdates" || c.form.Get("offset") != "9" || c.form.Get("timeout") != "0" {
		t.Fatalf("call at the stop = %s %v, want a confirming getUpdates", c.method, c.form)
	}
	for _, want := range []string{"does not decode", "update_id=6", "panicked", "update_id=7"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestPollerFinishesTheUpdateInHandAndConfirmsItWhenStopped(t *testing.T) {
	batch := `{"ok":true,"result":[` + message("9", "/oncall ack") + `,` + message("10", "/oncall resolve") + `,` + message("11", "/oncall ack") + `]}`
	api := newStubAPI(t, map[string][]stubAnswer{"getUpdates": {{200, batch}}})
	ctx, cancel := context.WithCancel(context.Background())
	var handled []int64
	var ctxErr error
	p := NewPoller(stubToken, api.srv.URL, func(hctx context.Context, upd *models.Update) {
		handled = append(handled, upd.ID)
		if upd.ID == 10 {
			cancel() // the bot is told to stop mid-batch
			ctxErr = hctx.Err()
		}
	}, clock.NewFake(time.Unix(0, 0)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !slices.Equal(handled, []int64{9, 10}) || ctxErr != nil {
		t.Fatalf("handled %v (context of the last: %v), want 9 and 10 finished", handled, ctxErr)
	}
	var last stubCall
	for len(api.calls) > 0 {
		last = <-api.calls
	}
	// 11 stays unconfirmed: Telegram gives it to the next start.
	if last.method != "getUpdates" || last.form.Get("offset") != "11" || last.form.Get("timeout") != "0" {
		t.Fatalf("last call = %s %v, want getUpdates confirming up to 10", last.method, last.form)
	}
}

func TestPollerWaitsOnItsClockAfterAFailure(t *testing.T) {
	const empty = `{"ok":true,"result":[]}`
	tests := []struct {
		name   string
		script map[string][]stubAnswer
		waits  []time.Duration
	}{
		{"429 is waited out for its retry_after",
			map[string][]stubAnswer{"getUpdates": {{429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`}}},
			[]time.Duration{7 * time.Second}},
		{"a webhook still set (409) backs off, doubling",
			map[string][]stubAnswer{"getUpdates": {
				{409, `{"ok":false,"error_code":409,"description":"Conflict: can't use getUpdates method while webhook is active"}`},
				{409, `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`},
				{502, `<html>Bad Gateway</html>`},
			}},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"an answer resets the backoff",
			map[string][]stubAnswer{"getUpdates": {{500, `{"ok":false,"error_code":500,"description":"Internal"}`}, {200, empty}, {500, `{"ok":false,"error_code":500}`}}},
			[]time.Duration{time.Second, time.Second}},
		{"deleteWebhook is retried before polling",
			map[string][]stubAnswer{"deleteWebhook": {{500, `{"ok":false,"error_code":500,"description":"Internal"}`}}},
			[]time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newStubAPI(t, tt.script)
			clk := clock.NewFake(time.Unix(0, 0))
			p := NewPoller(stubToken, api.srv.URL, func(context.Context, *models.Update) {}, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
			armed := clk.TimerCreated()
			startPoller(t, p)
			for i, d := range tt.waits {
				select {
				case <-armed:
				case <-time.After(5 * time.Second):
					t.Fatalf("wait %d: the poller did not start waiting", i+1)
				}
				clk.Advance(d - time.Millisecond)
				if clk.Pending() != 1 {
					t.Fatalf("wait %d: called again before %s", i+1, d)
				}
				armed = clk.TimerCreated()
				clk.Advance(time.Millisecond)
				if clk.Pending() != 0 {
					t.Fatalf("wait %d: still waiting after %s", i+1, d)
				}
			}
			// Past its script the stub holds a poll: the poller got there.
			for {
				if c := api.next(t); c.method == "getUpdates" && !c.scripted {
					break
				}
			}
		})
	}
}

func TestPollerKeepsTheTokenOutOfItsLog(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused
	var logs syncBuffer
	clk := clock.NewFake(time.Unix(0, 0))
	p := NewPoller(stubToken, down.URL, func(context.Context, *models.Update) {}, clk, slog.New(slog.NewTextHandler(&logs, nil)))
	armed := clk.TimerCreated()
	startPoller(t, p)
	select {
	case <-armed:
	case <-time.After(5 * time.Second):
		t.Fatal("the poller did not wait after failing")
	}
	if got := logs.String(); !strings.Contains(got, "deleteWebhook") || strings.Contains(got, "stub-token") {
		t.Fatalf("log = %s, want the failure without the token", got)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		err      error
		failures int
		want     time.Duration
	}{
		{&apiError{Code: 429, RetryAfter: 3 * time.Second}, 5, 3 * time.Second},
		{&apiError{Code: 409}, 1, time.Second},
		{&apiError{Code: 409}, 2, 2 * time.Second},
		{io.ErrUnexpectedEOF, 6, 32 * time.Second},
		{io.ErrUnexpectedEOF, 7, time.Minute},
		{io.ErrUnexpectedEOF, 40, time.Minute},
	}
	for _, tt := range tests {
		if got := backoff(tt.err, tt.failures); got != tt.want {
			t.Errorf("backoff(%v, %d) = %s, want %s", tt.err, tt.failures, got, tt.want)
		}
	}
}
