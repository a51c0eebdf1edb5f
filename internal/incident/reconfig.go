package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// KindPolicyMoved is a timeline entry: an apply removed the incident's
// escalation policy, and the incident follows another from its next step.
const KindPolicyMoved = "incident.policy_moved"

// Open lists every incident not resolved, oldest first: what an apply
// that removes a policy, schedule, person or team must not strand.
func (s *Service) Open(ctx context.Context) ([]Incident, error) {
	rows, err := s.store.Read().QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE status != 'resolved' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list open incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list open incidents: %w", err)
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// MovePolicy gives incident id the escalation policy policy, in tx, and
// says why on its timeline. Its escalation keeps its place and takes the
// new policy's steps from the next one.
func (s *Service) MovePolicy(tx *store.Tx, id int64, policy, why string) error {
	if _, err := tx.Exec(`UPDATE incidents SET policy = ?, updated_at = ? WHERE id = ?`, policy, s.clock.Now().UnixMilli(), id); err != nil {
		return fmt.Errorf("move incident %d to policy %s: %w", id, policy, err)
	}
	return s.record(tx, s.clock.Now(), id, KindPolicyMoved, "bot", nil, why)
}

// Tag labels incident id for the handoff report (actionable, noise,
// needs-tuning); a later tag replaces an earlier one in the report, and
// both stay on the timeline.
func (s *Service) Tag(ctx context.Context, id int64, actor, tag string) (Incident, error) {
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		return s.record(tx, now, id, KindTagged, actor, nil, tag)
	})
}
