package outbox

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/oncallbot/bot/internal/clock"
)

// A reload replaces a group of subscriptions and consumers while the
// dispatcher runs: events published after it go to the new set, a new
// consumer gets its rows, a removed one's pending rows are given up.
func TestReplaceSubscriptionsAndConsumersLive(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := NewDispatcher(s, fc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	old, kept, added := &recorder{}, &recorder{}, &recorder{}
	d.Register("webhook:old", old)
	d.Register("chat:web", kept)
	p := NewPublisher([]Subscription{{Consumer: "webhook:old"}, {Consumer: "chat:web"}}, fc, nil)

	publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: "i/1", IdempotencyKey: "e1"})
	// Pending for webhook:old when the reload drops it.
	p.Replace("webhook:", []Subscription{{Consumer: "webhook:new", Kinds: []string{"incident.*"}}})
	d.Register("webhook:new", added)
	d.Unregister("webhook:old")
	publish(t, s, p, Event{Kind: "incident.resolved", OrderingKey: "i/1", IdempotencyKey: "e2"})
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kept.kinds(); !slices.Equal(got, []string{"incident.triggered", "incident.resolved"}) {
		t.Errorf("the untouched consumer got %v", got)
	}
	if got := added.kinds(); !slices.Equal(got, []string{"incident.resolved"}) {
		t.Errorf("the new webhook got %v, want only what was published after the reload", got)
	}
	if got := old.kinds(); len(got) != 0 {
		t.Errorf("the removed webhook got %v", got)
	}
	var state string
	if err := s.Read().QueryRow(`SELECT state FROM outbox WHERE consumer = 'webhook:old'`).Scan(&state); err != nil || state != "dead" {
		t.Errorf("the removed webhook's pending row is %q (%v), want dead", state, err)
	}
	if p.Wants("incident.triggered") != true || len(p.current()) != 2 {
		t.Errorf("subscriptions after replace = %+v", p.current())
	}
}
