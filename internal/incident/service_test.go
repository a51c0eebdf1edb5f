package incident

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/store"
)

// A new incident's paging starts with its alert; if it cannot, the alert
// is still taken, nothing of the failed start is kept, and a page timer
// retries it.
func TestAFailedFirstPageDoesNotLoseTheAlert(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	router, err := NewRouter(nil, config.Route{Name: "default", Team: "ops", EscalationPolicy: "p", GroupBy: []string{"alertname"}})
	if err != nil {
		t.Fatal(err)
	}
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
