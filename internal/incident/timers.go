package incident

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// HandlePageTimer runs when an incident's alert_delay has passed. If the
// incident is still triggered it records that paging starts and publishes
// an incident.paging event for the escalation engine and every surface.
func (s *Service) HandlePageTimer(tx *store.Tx, t timer.Timer) error {
	return s.startPaging(tx, s.clock.Now(), t.IncidentID)
}

// startPaging starts an incident's escalation if it is still triggered.
func (s *Service) startPaging(tx *store.Tx, now time.Time, id int64) error {
	var status Status
	var policy string
	if err := tx.QueryRow(`SELECT status, policy FROM incidents WHERE id = ?`, id).Scan(&status, &policy); err != nil {
		return fmt.Errorf("load incident %d for paging: %w", id, err)
	}
	if status != StatusTriggered {
		return nil
	}
	if err := s.record(tx, now, id, KindPaging, "bot", nil, "escalation policy "+policy); err != nil {
		return err
	}
	if s.opts.PagingStarted == nil {
		return nil
	}
	inc, err := s.Load(tx, id)
	if err != nil {
		return err
	}
	return s.opts.PagingStarted(tx, inc)
}

// Load reads an incident inside a write transaction, for the escalation
// engine.
func (s *Service) Load(tx *store.Tx, id int64) (Incident, error) {
	inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, ErrNotFound
	}
	if err != nil {
		return Incident{}, fmt.Errorf("load incident %d: %w", id, err)
	}
	return inc, nil
}

// Record appends an entry to an incident's timeline and publishes it,
// inside tx, for the parts of the bot that act on incidents (escalation,
// notifications).
func (s *Service) Record(tx *store.Tx, id int64, kind, actor, detail string) error {
	return s.record(tx, s.clock.Now(), id, kind, actor, nil, detail)
}

// RecordPrompt is Record for an entry someone is waiting to read (a new
// incident's triage): the rooms get it at once, not held back to be
// gathered with a burst's routine updates, though at routine priority.
func (s *Service) RecordPrompt(tx *store.Tx, id int64, kind, actor, detail string) error {
	if err := s.Record(tx, id, kind, actor, detail); err != nil {
		return err
	}
	if s.pub != nil && s.pub.Wants(kind) {
		if u, ok := s.updatesOf(tx).by[id]; ok {
			u.prompt = true
		}
	}
	return nil
}

// Recorded reports whether incident id's timeline already has an entry of
// kind with exactly detail, for what is said once per incident.
func (s *Service) Recorded(tx *store.Tx, id int64, kind, detail string) (bool, error) {
	var found bool
	err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM timeline WHERE incident_id = ? AND kind = ? AND detail = ?)`, id, kind, detail).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("read timeline of incident %d: %w", id, err)
	}
	return found, nil
}

// RecordPaging is Record for an entry that pages people: the published
// event names them, so chat rooms can call them in.
func (s *Service) RecordPaging(tx *store.Tx, id int64, kind, actor, detail string, people []string) error {
	return s.recordPaging(tx, s.clock.Now(), id, kind, actor, nil, detail, people)
}
