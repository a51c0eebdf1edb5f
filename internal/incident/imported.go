package incident

import (
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// Imported is an incident from another pager's history: its course is
// enough for the handoff report's measures, and it never pages.
type Imported struct {
	// Source and SourceID name it where it came from ("pagerduty",
	// "PT4KHLK"); importing the same one again changes nothing.
	Source, SourceID string
	Team             string
	Title            string
	Alerts           int
	CreatedAt        time.Time
	// Events are its course, oldest first (acks, resolves, escalations).
	Events []Event
}

// Import records an incident of another pager's history in tx, resolved,
// with its timeline, and returns its id, or 0 and false when it was
// imported before.
func Import(tx *store.Tx, in Imported) (int64, bool, error) {
	key := "import/" + in.Source + "/" + in.SourceID
	var exists int
	if err := tx.QueryRow(`SELECT count(*) FROM incidents WHERE group_key = ?`, key).Scan(&exists); err != nil {
		return 0, false, fmt.Errorf("look up imported incident: %w", err)
	}
	if exists > 0 {
		return 0, false, nil
	}
	var ackAt, ackBy, resAt, resBy any
	resolvedAt := in.CreatedAt
	for _, e := range in.Events {
		switch e.Kind {
		case KindAcknowledged:
			if ackAt == nil {
				ackAt, ackBy = e.At.UnixMilli(), e.Actor
			}
		case KindResolved:
			resAt, resBy, resolvedAt = e.At.UnixMilli(), e.Actor, e.At
		}
	}
	if resAt == nil {
		resAt, resBy = resolvedAt.UnixMilli(), in.Source
	}
	res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, alert_count, firing_count,
		created_at, updated_at, page_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by)
		VALUES (?, ?, ?, ?, ?, 3, 'resolved', ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
		key, in.Source, in.Team, in.Source, in.Title, max(in.Alerts, 1), in.CreatedAt.UnixMilli(), resolvedAt.UnixMilli(),
		in.CreatedAt.UnixMilli(), ackAt, ackBy, resAt, resBy)
	if err != nil {
		return 0, false, fmt.Errorf("import incident %s: %w", in.SourceID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, false, err
	}
	events := append([]Event{{At: in.CreatedAt, Kind: KindTriggered, Actor: in.Source, Detail: "imported from " + in.Source + " " + in.SourceID}}, in.Events...)
	for _, e := range events {
		if _, err := tx.Exec(`INSERT INTO timeline (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`,
			id, e.At.UnixMilli(), e.Kind, e.Actor, e.Detail); err != nil {
			return 0, false, fmt.Errorf("import incident %s: %w", in.SourceID, err)
		}
	}
	return id, true, nil
}
