package incident

import (
	"fmt"

	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// HandlePageTimer runs when an incident's alert_delay has passed. If the
// incident is still triggered it records that paging starts and publishes
// an incident.paging event for the escalation engine and every surface.
func (s *Service) HandlePageTimer(tx *store.Tx, t timer.Timer) error {
	var status Status
	var policy string
	if err := tx.QueryRow(`SELECT status, policy FROM incidents WHERE id = ?`, t.IncidentID).Scan(&status, &policy); err != nil {
		return fmt.Errorf("load incident %d for paging: %w", t.IncidentID, err)
	}
	if status != StatusTriggered {
		return nil
	}
	return s.record(tx, s.clock.Now(), t.IncidentID, KindPaging, "bot", nil, "escalation policy "+policy)
}
