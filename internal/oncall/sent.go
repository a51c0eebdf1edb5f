package oncall

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// Sent is one notification the engine decided on, as a report reads it.
type Sent struct {
	Incident int64
	Person   string
	Method   string
	// State is queued, sent, delivered, failed or undeliverable.
	State string
	// Step is the policy step that paged (0 for the first), Cycle its
	// round.
	Cycle, Step int
	At          time.Time
}

// Paged reports whether the notification reached, or left for, the
// person: it interrupted them.
func (s Sent) Paged() bool { return s.State == "sent" || s.State == "delivered" }

// SentFor returns the notifications of the given incidents, oldest first.
func SentFor(ctx context.Context, db *sql.DB, incidents []int64) ([]Sent, error) {
	var out []Sent
	for start := 0; start < len(incidents); start += 500 {
		end := min(start+500, len(incidents))
		ids := make([]string, 0, end-start)
		for _, id := range incidents[start:end] {
			ids = append(ids, fmt.Sprint(id))
		}
		rows, err := db.QueryContext(ctx, `SELECT incident_id, person, method, state, cycle, step, created_at FROM notifications
			WHERE incident_id IN (`+strings.Join(ids, ",")+`) ORDER BY created_at, id`)
		if err != nil {
			return nil, fmt.Errorf("read notifications: %w", err)
		}
		for rows.Next() {
			var s Sent
			var at int64
			if err := rows.Scan(&s.Incident, &s.Person, &s.Method, &s.State, &s.Cycle, &s.Step, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read notifications: %w", err)
			}
			s.At = time.UnixMilli(at).UTC()
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read notifications: %w", err)
		}
	}
	return out, nil
}

// ImportSent records a notification of another pager's history, for the
// handoff report: key keeps a second import from counting it twice.
func ImportSent(tx *store.Tx, incident int64, key string, s Sent) error {
	_, err := tx.Exec(`INSERT INTO notifications (incident_id, idempotency_key, person, method, cycle, step, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
		incident, "import/"+key, s.Person, s.Method, s.Cycle, s.Step, s.State, s.At.UnixMilli(), s.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("import notification %s: %w", key, err)
	}
	return nil
}
