package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder is a consumer that remembers what it got and answers with the
// errors queued for it, one per call.
type recorder struct {
	mu   sync.Mutex
	got  []Message
	errs []error
}

func (r *recorder) Deliver(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		return err
	}
	return nil
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.got {
		out = append(out, m.Kind)
	}
	return out
}

func publish(t *testing.T, s *store.Store, p *Publisher, events ...Event) {
	t.Helper()
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		for _, e := range events {
			if err := p.Publish(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type outboxRow struct {
	state    string
	attempts int
	next     time.Time
	lastErr  string
}

func rowOf(t *testing.T, s *store.Store, key string) outboxRow {
	t.Helper()
	var r outboxRow
	var next int64
	err := s.Read().QueryRow(`SELECT state, attempts, next_attempt_at, last_error FROM outbox WHERE idempotency_key = ?`, key).
		Scan(&r.state, &r.attempts, &next, &r.lastErr)
	if err != nil {
		t.Fatalf("row %s: %v", key, err)
	}
	r.next = time.UnixMilli(next).UTC()
	return r
}

func TestSubscriptionFilters(t *testing.T) {
	tests := []struct {
		name string
		sub  Subscription
		e    Event
		want bool
	}{
		{"empty matches all", Subscription{}, Event{Kind: "incident.triggered", Team: "ops"}, true},
		{"exact kind", Subscription{Kinds: []string{"incident.acked"}}, Event{Kind: "incident.acked"}, true},
		{"other kind", Subscription{Kinds: []string{"incident.acked"}}, Event{Kind: "incident.resolved"}, false},
		{"prefix wildcard", Subscription{Kinds: []string{"incident.*"}}, Event{Kind: "incident.resolved"}, true},
		{"wildcard is a prefix, not a substring", Subscription{Kinds: []string{"page.*"}}, Event{Kind: "incident.page"}, false},
		{"team filter hit", Subscription{Teams: []string{"db", "ops"}}, Event{Kind: "x", Team: "ops"}, true},
		{"team filter miss", Subscription{Teams: []string{"db"}}, Event{Kind: "x", Team: "ops"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sub.wants(tt.e); got != tt.want {
				t.Errorf("wants = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPublishIsIdempotentAndNeedsKeys(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	p := NewPublisher([]Subscription{{Consumer: "a"}, {Consumer: "b", Kinds: []string{"other"}}}, fc, nil)
	e := Event{Kind: "incident.triggered", OrderingKey: "inc-1", IdempotencyKey: "k1", Payload: []byte(`{}`)}
	publish(t, s, p, e, e)
	var n int
	if err := s.Read().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("rows = %d, want 1 (one subscriber wants it, the repeat is ignored)", n)
	}
	// A nil payload is stored, not dropped: OR IGNORE would otherwise
	// swallow the NOT NULL violation along with duplicates.
	publish(t, s, p, Event{Kind: "incident.acked", OrderingKey: "inc-1", IdempotencyKey: "k2"})
	if r := rowOf(t, s, "k2"); r.state != "pending" {
		t.Errorf("nil-payload event row = %+v", r)
	}
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		return p.Publish(tx, Event{Kind: "incident.triggered"})
	})
	if err == nil {
		t.Error("publishing without an idempotency key succeeded")
	}
}

func TestDispatcherKeepsKeyOrderAndRetries(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := NewDispatcher(s, fc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	d.BaseBackoff = 10 * time.Second
	rec := &recorder{errs: []error{errors.New("platform down")}}
	d.Register("chat", rec)
	p := NewPublisher([]Subscription{{Consumer: "chat"}}, fc, nil)
	publish(t, s, p,
		Event{Kind: "triggered", OrderingKey: "inc-1", IdempotencyKey: "1"},
		Event{Kind: "acked", OrderingKey: "inc-1", IdempotencyKey: "2"},
	)
	ctx := context.Background()

	// The first attempt fails: the second event of the key must wait
	// behind it rather than overtake it.
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.kinds(); len(got) != 1 || got[0] != "triggered" {
		t.Fatalf("after first drain got %v, want [triggered]", got)
	}
	r := rowOf(t, s, "1")
	if r.state != "pending" || r.attempts != 1 || r.lastErr != "platform down" {
		t.Fatalf("failed row = %+v", r)
	}
	if wait := r.next.Sub(t0); wait < 8*time.Second || wait > 12*time.Second {
		t.Errorf("retry in %s, want 10s ±20%%", wait)
	}

	// Not due yet: nothing is attempted.
	fc.Advance(5 * time.Second)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.kinds()); n != 1 {
		t.Fatalf("attempted %d times before the backoff ended", n)
	}

	fc.Advance(10 * time.Second)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"triggered", "triggered", "acked"}
	if got := rec.kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries = %v, want %v", got, want)
	}
	for _, k := range []string{"1", "2"} {
		if r := rowOf(t, s, k); r.state != "delivered" {
			t.Errorf("row %s state %q, want delivered", k, r.state)
		}
	}
}

func TestDispatcherErrorKinds(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantState string
		wantWait  time.Duration // exact when Retry-After is given, else 0
		attempts  int           // recorded attempts after the one delivery
	}{
		{"permanent goes dead at once", Permanent(errors.New("400 channel_not_found")), "dead", 0, 1},
		{"retry-after is honoured", &RetryAfterError{After: 42 * time.Second, Err: errors.New("429")}, "pending", 42 * time.Second, 1},
		{"a deferral waits and is no failed attempt", &DeferError{After: 3 * time.Second, Why: "pace"}, "pending", 3 * time.Second, 0},
		{"panic is contained and dead", nil, "dead", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			fc := clock.NewFake(t0)
			d := NewDispatcher(s, fc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			var dead []string
			d.Dead = func(_ context.Context, m Message, _ error) { dead = append(dead, m.IdempotencyKey) }
			if tt.err == nil {
				d.Register("chat", ConsumerFunc(func(context.Context, Message) error { panic("adapter bug") }))
			} else {
				d.Register("chat", &recorder{errs: []error{tt.err}})
			}
			publish(t, s, NewPublisher([]Subscription{{Consumer: "chat"}}, fc, nil),
				Event{Kind: "page", OrderingKey: "p", IdempotencyKey: "k"})
			if _, err := d.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := rowOf(t, s, "k")
			if r.state != tt.wantState {
				t.Errorf("state %q, want %q (last error %q)", r.state, tt.wantState, r.lastErr)
			}
			if (tt.wantState == "dead") != (len(dead) == 1) {
				t.Errorf("Dead hook heard %v", dead)
			}
			if tt.wantWait > 0 && r.next.Sub(t0) != tt.wantWait {
				t.Errorf("next attempt in %s, want %s", r.next.Sub(t0), tt.wantWait)
			}
			if r.attempts != tt.attempts {
				t.Errorf("%d attempts recorded, want %d", r.attempts, tt.attempts)
			}
		})
	}
}

func TestDispatcherGivesUpAfterMaxAge(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := NewDispatcher(s, fc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	d.MaxAge = time.Hour
	d.Register("chat", ConsumerFunc(func(context.Context, Message) error { return errors.New("still down") }))
	publish(t, s, NewPublisher([]Subscription{{Consumer: "chat"}}, fc, nil),
		Event{Kind: "page", OrderingKey: "p", IdempotencyKey: "k"})
	for range 30 {
		if _, err := d.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if rowOf(t, s, "k").state == "dead" {
			break
		}
		fc.Advance(10 * time.Minute)
	}
	r := rowOf(t, s, "k")
	if r.state != "dead" {
		t.Fatalf("state %q after %d attempts, want dead", r.state, r.attempts)
	}
	if fc.Now().Sub(t0) < time.Hour {
		t.Errorf("given up after %s, before MaxAge", fc.Now().Sub(t0))
	}
}

func TestUnknownConsumerIsDeadNotStuck(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := NewDispatcher(s, fc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		return NewPublisher(nil, fc, nil).Send(tx, "sms", Event{Kind: "page", OrderingKey: "p", IdempotencyKey: "k"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := rowOf(t, s, "k"); r.state != "dead" || r.lastErr == "" {
		t.Errorf("row = %+v, want dead naming the missing consumer", r)
	}
}
