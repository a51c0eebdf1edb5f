package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

var t0 = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// openDomain opens a store in a temporary directory and a router sending
// every alert to team ops, grouped by alertname.
func openDomain(t *testing.T) (*store.Store, *Router, *slog.Logger) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	router, err := NewRouter(nil, config.Route{Name: "default", Team: "ops", EscalationPolicy: "p", GroupBy: []string{"alertname"}})
	if err != nil {
		t.Fatal(err)
	}
	return st, router, log
}

// A new incident's paging starts with its alert; if it cannot, the alert
// is still taken, nothing of the failed start is kept, and a page timer
// retries it.
func TestAFailedFirstPageDoesNotLoseTheAlert(t *testing.T) {
	st, router, log := openDomain(t)
	tests := []struct {
		name       string
		start      error
		wantKinds  []string
		wantTimers int
	}{
		{"paging starts with the alert", nil, []string{KindTriggered, KindPaging}, 0},
		{"a failed start is undone and retried by a timer", errors.New("engine down"), []string{KindTriggered}, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService(st, clock.NewFake(t0), router, nil, Options{Logger: log,
				PagingStarted: func(tx *store.Tx, inc Incident) error {
					if _, err := tx.Exec(`UPDATE incidents SET title = 'half-started' WHERE id = ?`, inc.ID); err != nil {
						return err
					}
					return tt.start
				}})
			res, err := s.Ingest(context.Background(), "am", []ingest.Alert{{
				Fingerprint: "f" + tt.name, Status: ingest.StatusFiring, Severity: ingest.SeverityCritical,
				Summary: "Disk full", Labels: map[string]string{"alertname": "Disk" + string(rune('A'+i))}, StartsAt: t0,
			}})
			if err != nil || len(res.Incidents) != 1 {
				t.Fatalf("ingest = %+v, %v; want the alert taken", res, err)
			}
			d, err := s.Get(context.Background(), res.Incidents[0])
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range d.Timeline {
				kinds = append(kinds, e.Kind)
			}
			if len(kinds) != len(tt.wantKinds) || kinds[len(kinds)-1] != tt.wantKinds[len(tt.wantKinds)-1] {
				t.Errorf("timeline %v, want %v", kinds, tt.wantKinds)
			}
			if tt.start != nil && d.Title == "half-started" {
				t.Error("the failed start's changes were kept")
			}
			var timers int
			if err := st.Read().QueryRow(`SELECT count(*) FROM timers WHERE incident_id = ? AND kind = ?`, d.ID, TimerPage).Scan(&timers); err != nil {
				t.Fatal(err)
			}
			if timers != tt.wantTimers {
				t.Errorf("%d page timers, want %d", timers, tt.wantTimers)
			}
		})
	}
}

// What one request says of an incident (it opened, a burst of alerts
// joined) reaches a consumer that shows the latest state as one update,
// the burst counted; a consumer that takes every event gets one per
// alert. Every alert keeps its timeline entry.
func TestABurstOfAlertsIsOneEventForTheLatestState(t *testing.T) {
	st, router, log := openDomain(t)
	clk := clock.NewFake(t0)
	pub := outbox.NewPublisher([]outbox.Subscription{
		{Consumer: "room", Kinds: []string{"alert.*", "incident.*"}, Latest: true},
		{Consumer: "hook", Kinds: []string{"alert.*"}},
	}, clk, nil)
	s := NewService(st, clk, router, pub, Options{Logger: log})
	var alerts []ingest.Alert
	for i := range 10 {
		alerts = append(alerts, ingest.Alert{Fingerprint: fmt.Sprint("f", i), Status: ingest.StatusFiring, Severity: ingest.SeverityWarning,
			Summary: fmt.Sprintf("node-%d down", i), Labels: map[string]string{"alertname": "NodeDown", "n": fmt.Sprint(i)}, StartsAt: t0})
	}
	res, err := s.Ingest(context.Background(), "am", alerts)
	if err != nil || len(res.Incidents) != 1 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	rows := func(consumer, kind string) []EventPayload {
		r, err := st.Read().Query(`SELECT payload FROM outbox WHERE consumer = ? AND kind = ? ORDER BY id`, consumer, kind)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []EventPayload
		for r.Next() {
			var b []byte
			r.Scan(&b)
			var p EventPayload
			json.Unmarshal(b, &p)
			out = append(out, p)
		}
		return out
	}
	// One update for the room: triggered, paging, three alerts listed,
	// six counted.
	var all []EventPayload
	for _, kind := range []string{KindTriggered, KindAlertAdded} {
		all = append(all, rows("room", kind)...)
	}
	if len(all) != 1 || all[0].Incident.AlertCount != 10 {
		t.Fatalf("the room's updates = %+v, want one with the latest state", all)
	}
	lines := all[0].Lines
	want := []EventLine{{Event: KindTriggered, Actor: "am", Detail: "node-0 down"},
		{Event: KindPaging, Actor: "bot", Detail: "escalation policy p"},
		{Event: KindAlertAdded, Actor: "am", Detail: "node-1 down"}, {Event: KindAlertAdded, Actor: "am", Detail: "node-2 down"},
		{Event: KindAlertAdded, Actor: "am", Detail: "node-3 down"}, {Event: KindAlertAdded, More: 6}}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("lines = %+v, want %+v", lines, want)
	}
	if hook := rows("hook", KindAlertAdded); len(hook) != 9 {
		t.Errorf("the webhook got %d alert events, want 9", len(hook))
	}
	d, err := s.Get(context.Background(), res.Incidents[0])
	if err != nil {
		t.Fatal(err)
	}
	added := 0
	for _, e := range d.Timeline {
		if e.Kind == KindAlertAdded {
			added++
		}
	}
	if added != 9 {
		t.Errorf("%d alert.added entries on the timeline, want 9", added)
	}
}
