package incident

import (
	"fmt"
	"strconv"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// A storm's alerts join their incidents by the thousand. Each keeps its
// row and its timeline entry, and consumers that take every event
// (outgoing webhooks) get one per alert; but a chat room shows the latest
// state, so the alert events of one incident and kind in one transaction
// reach it as one event that counts them, with the first few's details:
// one outbox row, one snapshot of the incident, instead of one each.

// burstDetails is how many of a burst's details its event carries.
const burstDetails = 3

// burstKey names one incident's alert events of one kind.
type burstKey struct {
	incident int64
	kind     string
}

// alertRun is what a burst gathered for one key.
type alertRun struct {
	lastEvent int64 // its last timeline entry: the event's idempotency key
	actor     string
	count     int
	details   []string
}

// burst is one transaction's gathered alert events, in first-seen order.
type burst struct {
	order []burstKey
	runs  map[burstKey]*alertRun
}

type burstSlot struct{}

func burstOf(tx *store.Tx) *burst {
	return tx.Local(burstSlot{}, func() any { return &burst{runs: map[burstKey]*alertRun{}} }).(*burst)
}

// recordAlert appends an alert event to the incident's timeline, publishes
// it to the consumers that take every event, and gathers it for the rest
// (announceBurst publishes the gathered).
func (s *Service) recordAlert(tx *store.Tx, now time.Time, incID int64, kind, actor string, alertID int64, detail string) error {
	res, err := tx.Exec(`INSERT INTO timeline (incident_id, at, kind, actor, alert_id, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		incID, now.UnixMilli(), kind, actor, alertID, detail)
	if err != nil {
		return fmt.Errorf("append %s to timeline: %w", kind, err)
	}
	evID, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("append %s to timeline: %w", kind, err)
	}
	if s.pub == nil || !s.pub.Wants(kind) {
		return nil
	}
	if s.pub.WantsEach(kind) {
		inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, incID))
		if err != nil {
			return fmt.Errorf("snapshot incident %d: %w", incID, err)
		}
		payload := EventPayload{Event: kind, At: now.UTC(), Actor: actor, Detail: detail, Incident: inc}
		if err := s.pub.PublishEach(tx, outbox.Event{Kind: kind, Team: inc.Team,
			OrderingKey: "incident/" + strconv.FormatInt(incID, 10), IdempotencyKey: "timeline/" + strconv.FormatInt(evID, 10),
			Payload: payload.marshal()}); err != nil {
			return err
		}
	}
	b := burstOf(tx)
	k := burstKey{incID, kind}
	run, ok := b.runs[k]
	if !ok {
		run = &alertRun{actor: actor}
		b.runs[k] = run
		b.order = append(b.order, k)
	}
	run.lastEvent = evID
	run.count++
	if len(run.details) < burstDetails {
		run.details = append(run.details, detail)
	}
	return nil
}

// announceBurst publishes, to the consumers that show the latest state,
// one event for each run of alert events gathered in this transaction:
// those of incident incID, or all of them when incID is 0.
func (s *Service) announceBurst(tx *store.Tx, now time.Time, incID int64) error {
	if s.pub == nil {
		return nil
	}
	b := burstOf(tx)
	if len(b.order) == 0 {
		return nil
	}
	kept := b.order[:0]
	for _, k := range b.order {
		if incID != 0 && k.incident != incID {
			kept = append(kept, k)
			continue
		}
		run := b.runs[k]
		delete(b.runs, k)
		inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, k.incident))
		if err != nil {
			return fmt.Errorf("snapshot incident %d: %w", k.incident, err)
		}
		payload := EventPayload{Event: k.kind, At: now.UTC(), Actor: run.actor, Detail: run.details[0], Incident: inc}
		if run.count > 1 {
			payload.Count, payload.Details = run.count, run.details
		}
		if err := s.pub.PublishLatest(tx, outbox.Event{Kind: k.kind, Team: inc.Team,
			OrderingKey: "incident/" + strconv.FormatInt(k.incident, 10), IdempotencyKey: "timeline/" + strconv.FormatInt(run.lastEvent, 10),
			Payload: payload.marshal()}); err != nil {
			return err
		}
	}
	b.order = kept
	return nil
}
