package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// Acknowledge stops the paging of a triggered incident: someone is on it.
func (s *Service) Acknowledge(ctx context.Context, id int64, actor string) (Incident, error) {
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		switch inc.Status {
		case StatusAcknowledged:
			return conflictf("incident %d is already acknowledged by %s", id, inc.AcknowledgedBy)
		case StatusResolved:
			return conflictf("incident %d is resolved; reopen it first", id)
		}
		ms := now.UnixMilli()
		if _, err := tx.Exec(`UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?`,
			ms, actor, ms, id); err != nil {
			return fmt.Errorf("acknowledge: %w", err)
		}
		if _, err := timer.Cancel(tx, id); err != nil {
			return err
		}
		if err := s.record(tx, now, id, KindAcknowledged, actor, nil, ""); err != nil {
			return err
		}
		if inc.Children > 0 {
			return s.ackStorm(tx, now, id, actor)
		}
		return nil
	})
}

// Unacknowledge puts an acknowledged incident back to triggered and starts
// paging again from the top, as when nobody had answered.
func (s *Service) Unacknowledge(ctx context.Context, id int64, actor string) (Incident, error) {
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		if inc.Status != StatusAcknowledged {
			return conflictf("incident %d is %s, not acknowledged", id, inc.Status)
		}
		ms := now.UnixMilli()
		if _, err := tx.Exec(`UPDATE incidents SET status = 'triggered', acknowledged_at = NULL, acknowledged_by = NULL,
			page_at = ?, updated_at = ? WHERE id = ?`, ms, ms, id); err != nil {
			return fmt.Errorf("unacknowledge: %w", err)
		}
		if err := s.armPage(tx, now, id, now); err != nil {
			return err
		}
		return s.record(tx, now, id, KindUnacknowledged, actor, nil, "")
	})
}

// Resolve ends an incident by hand. Its firing alerts are marked resolved,
// so the same alert firing again counts as a refire: inside the reopen
// window it reopens this incident, later it opens a new one.
func (s *Service) Resolve(ctx context.Context, id int64, actor string) (Incident, error) {
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		if inc.Status == StatusResolved {
			return conflictf("incident %d is already resolved by %s", id, inc.ResolvedBy)
		}
		ms := now.UnixMilli()
		res, err := tx.Exec(`UPDATE alerts SET status = 'resolved', ends_at = ? WHERE incident_id = ? AND status = 'firing'`, ms, id)
		if err != nil {
			return fmt.Errorf("resolve alerts: %w", err)
		}
		closed, _ := res.RowsAffected()
		tx.AfterCommit(func() { s.known.dropIncident(id) })
		if _, err := tx.Exec(`UPDATE incidents SET status = 'resolved', firing_count = 0, resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?`,
			ms, actor, ms, id); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		if err := s.stopPaging(tx, now, id, actor); err != nil {
			return err
		}
		detail := ""
		if closed > 0 {
			detail = fmt.Sprintf("%d firing alert(s) marked resolved", closed)
		}
		if err := s.record(tx, now, id, KindResolved, actor, nil, detail); err != nil {
			return err
		}
		if inc.Children > 0 {
			if err := s.resolveStorm(tx, now, id, actor); err != nil {
				return err
			}
		}
		if inc.ParentID != 0 {
			return s.childClosed(tx, now, inc.ParentID)
		}
		return nil
	})
}

// Reopen moves a resolved incident back to triggered and pages at once.
func (s *Service) Reopen(ctx context.Context, id int64, actor string) (Incident, error) {
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		if inc.Status != StatusResolved {
			return conflictf("incident %d is %s, not resolved", id, inc.Status)
		}
		other, _, err := s.openIncidentOf(tx, inc.GroupKey)
		if err != nil {
			return err
		}
		if other != 0 {
			return conflictf("incident %d is already open for the same alert group; work on it instead", other)
		}
		return s.reopen(tx, now, id, actor, now, "")
	})
}

// SetAssignee records who an incident is assigned to, inside tx; the
// escalation engine's Assign pages them in the same transaction.
func (s *Service) SetAssignee(tx *store.Tx, id int64, person string) error {
	ms := s.clock.Now().UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET assignee = ?, updated_at = ? WHERE id = ?`, person, ms, id); err != nil {
		return fmt.Errorf("assign incident %d: %w", id, err)
	}
	return nil
}

// Retrigger puts an acknowledged (or snoozed) incident back to triggered
// inside tx, without paging: the escalation engine, escalating it by
// hand, pages the next step itself in the same transaction.
func (s *Service) Retrigger(tx *store.Tx, id int64) error {
	ms := s.clock.Now().UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET status = 'triggered', acknowledged_at = NULL, acknowledged_by = NULL,
		updated_at = ? WHERE id = ? AND status = 'acknowledged'`, ms, id); err != nil {
		return fmt.Errorf("retrigger incident %d: %w", id, err)
	}
	return nil
}

// transition loads an incident in a write transaction, lets change apply
// a state change, and returns the incident as committed.
func (s *Service) transition(ctx context.Context, id int64, actor string,
	change func(tx *store.Tx, now time.Time, inc Incident) error) (Incident, error) {
	if actor == "" {
		return Incident{}, errors.New("an actor is required for every incident change")
	}
	var after Incident
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		now := s.clock.Now()
		inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("load incident %d: %w", id, err)
		}
		if err := change(tx, now, inc); err != nil {
			return err
		}
		after, err = scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
		return err
	})
	return after, err
}

// TimerSnooze ends a snooze: the incident goes back to triggered and
// paging starts again.
const TimerSnooze = "snooze_end"

// Timeline kinds of snooze and notes.
const (
	KindSnoozed = "incident.snoozed"
	KindNote    = "incident.note"
)

// Snooze acknowledges an incident for d: paging stops now and starts
// again when d has passed, unless the incident was resolved meanwhile.
func (s *Service) Snooze(ctx context.Context, id int64, actor string, d time.Duration) (Incident, error) {
	if d <= 0 || d > 7*24*time.Hour {
		return Incident{}, conflictf("a snooze lasts more than 0 and at most 7 days, not %s", d)
	}
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		if inc.Status == StatusResolved {
			return conflictf("incident %d is resolved; there is nothing to snooze", id)
		}
		ms := now.UnixMilli()
		if _, err := tx.Exec(`UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?`,
			ms, actor, ms, id); err != nil {
			return fmt.Errorf("snooze: %w", err)
		}
		if _, err := timer.Cancel(tx, id); err != nil {
			return err
		}
		if err := timer.Arm(tx, TimerSnooze, id, now.Add(d), "", now); err != nil {
			return err
		}
		if s.opts.TimerArmed != nil {
			tx.AfterCommit(s.opts.TimerArmed)
		}
		return s.record(tx, now, id, KindSnoozed, actor, nil, "until "+now.Add(d).UTC().Format(time.RFC3339))
	})
}

// HandleSnoozeEnd re-triggers a snoozed incident that is still
// acknowledged and pages from the top.
func (s *Service) HandleSnoozeEnd(tx *store.Tx, t timer.Timer) error {
	inc, err := s.Load(tx, t.IncidentID)
	if err != nil {
		return err
	}
	if inc.Status != StatusAcknowledged {
		return nil
	}
	now := s.clock.Now()
	ms := now.UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET status = 'triggered', acknowledged_at = NULL, acknowledged_by = NULL,
		page_at = ?, updated_at = ? WHERE id = ?`, ms, ms, inc.ID); err != nil {
		return fmt.Errorf("end snooze: %w", err)
	}
	if err := s.armPage(tx, now, inc.ID, now); err != nil {
		return err
	}
	return s.record(tx, now, inc.ID, KindUnacknowledged, "bot", nil, "snooze ended")
}

// AddNote puts a responder's note on the timeline.
func (s *Service) AddNote(ctx context.Context, id int64, actor, text string) (Incident, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Incident{}, conflictf("a note needs some text")
	}
	if len(text) > 4000 {
		text = text[:4000]
	}
	return s.transition(ctx, id, actor, func(tx *store.Tx, now time.Time, inc Incident) error {
		return s.record(tx, now, id, KindNote, actor, nil, text)
	})
}
