package oncall

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oncallbot/bot/internal/store"
)

func TestPagedTriggered(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Each incident in its status, with the notifications it sent.
	type note struct{ person, method, state string }
	incidents := []struct {
		status string
		notes  []note
	}{
		1: {"triggered", []note{{"alice", "chat", "sent"}}},
		2: {"triggered", []note{{"alice", "sms", "delivered"}, {"alice", "chat", "sent"}}}, // once, however many pages
		3: {"acknowledged", []note{{"alice", "chat", "sent"}}},                             // not triggered any more
		4: {"resolved", []note{{"alice", "chat", "sent"}}},
		5: {"triggered", []note{{"bob", "chat", "sent"}}},                                     // someone else's
		6: {"triggered", []note{{"alice", "chat", "undeliverable"}, {"bob", "chat", "sent"}}}, // never reached alice
		7: {"triggered", []note{{"alice", "chat", "failed"}}},
		8: {"triggered", []note{{"alice", "chat", "queued"}}}, // on its way
		9: {"triggered", nil},                                 // paging not started
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		for id := 1; id < len(incidents); id++ {
			inc := incidents[id]
			if _, err := tx.Exec(`INSERT INTO incidents (id, group_key, route, team, policy, title, severity, status, created_at, updated_at, page_at)
				VALUES (?, ?, 'default', 'ops', 'p', 'x', 4, ?, 0, 0, 0)`, id, fmt.Sprint("g", id), inc.status); err != nil {
				return err
			}
			for i, n := range inc.notes {
				if _, err := tx.Exec(`INSERT INTO notifications (incident_id, idempotency_key, person, method, cycle, step, state, created_at, updated_at)
					VALUES (?, ?, ?, ?, 0, ?, ?, 0, 0)`, id, fmt.Sprintf("incident/%d/%d/%s/%s", id, i, n.person, n.method), n.person, n.method, i, n.state); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{store: st}
	for person, want := range map[string][]int64{"alice": {1, 2, 8}, "bob": {5, 6}, "carol": nil} {
		got, err := e.PagedTriggered(ctx, person)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("PagedTriggered(%s) = %v, want %v", person, got, want)
		}
	}
}
