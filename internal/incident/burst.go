package incident

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// A transaction can say many things about one incident: a new incident is
// triggered, starts paging, pages its first step and notifies someone; a
// storm's alerts join their incident by the thousand. Every event keeps
// its timeline entry, and consumers that take every event (outgoing
// webhooks) get each. But a chat room shows the latest state, so all of
// an incident's events of one transaction reach it as one update: one
// outbox row and one snapshot of the incident instead of one per event,
// with the events as its lines, a burst's alerts past the first few
// counted.

// shownPerKind is how many events of a counted kind an update lists.
const shownPerKind = 3

// countedKinds are the kinds a storm repeats by the thousand.
var countedKinds = map[string]bool{
	KindAlertAdded: true, KindAlertResolved: true, KindAlertRefired: true, KindStormJoined: true,
}

// update is what one transaction says of one incident.
type update struct {
	lines     []EventLine
	shown     map[string]int // counted kind -> lines listed
	more      map[string]int // counted kind -> events left out
	moreOrder []string       // the kinds of more, in the order first left out
	lastEvent int64          // its last timeline entry: the update's idempotency key
	urgent    bool
	prompt    bool // someone waits to read it: not gathered (see RecordPrompt)
}

// updates are one transaction's, by incident in first-seen order.
type updates struct {
	order []int64
	by    map[int64]*update
}

type updatesSlot struct{}

// updatesOf returns the transaction's updates, arranging on first use for
// them to be published before it commits.
func (s *Service) updatesOf(tx *store.Tx) *updates {
	return tx.Local(updatesSlot{}, func() any {
		u := &updates{by: map[int64]*update{}}
		tx.BeforeCommit(func() error { return s.announce(tx, u) })
		return u
	}).(*updates)
}

// gather adds one event to its incident's update.
func (s *Service) gather(tx *store.Tx, incID, evID int64, line EventLine, urgent bool) {
	us := s.updatesOf(tx)
	u, ok := us.by[incID]
	if !ok {
		u = &update{shown: map[string]int{}, more: map[string]int{}}
		us.by[incID] = u
		us.order = append(us.order, incID)
	}
	u.lastEvent = evID
	u.urgent = u.urgent || urgent
	if countedKinds[line.Event] {
		if u.shown[line.Event] >= shownPerKind {
			if u.more[line.Event] == 0 {
				u.moreOrder = append(u.moreOrder, line.Event)
			}
			u.more[line.Event]++
			return
		}
		u.shown[line.Event]++
	}
	u.lines = append(u.lines, line)
}

// announce publishes each incident's update to the consumers that show the
// latest state.
func (s *Service) announce(tx *store.Tx, us *updates) error {
	now := s.clock.Now().UTC()
	for _, id := range us.order {
		u := us.by[id]
		for _, kind := range u.moreOrder {
			u.lines = append(u.lines, EventLine{Event: kind, More: u.more[kind]})
		}
		inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("snapshot incident %d: %w", id, err)
		}
		if inc.ParentID != 0 {
			continue // in a storm: the storm's room and card show it
		}
		last := u.lines[len(u.lines)-1]
		payload := EventPayload{Event: last.Event, At: now, Actor: last.Actor, Detail: last.Detail, Incident: inc}
		for _, l := range u.lines {
			for _, p := range l.Paging {
				if !slices.Contains(payload.Paging, p) {
					payload.Paging = append(payload.Paging, p)
				}
			}
		}
		if len(u.lines) > 1 {
			payload.Lines = u.lines
		}
		if err := s.pub.PublishLatest(tx, outbox.Event{Kind: last.Event, Team: inc.Team,
			OrderingKey: "incident/" + strconv.FormatInt(id, 10), IdempotencyKey: "timeline/" + strconv.FormatInt(u.lastEvent, 10),
			Payload: payload.marshal(),
			// A new incident's first word opens its rooms: ahead of the
			// updates about older ones.
			Urgent: u.urgent, Prompt: u.prompt}); err != nil {
			return err
		}
	}
	us.order, us.by = nil, map[int64]*update{}
	return nil
}

// publishEach publishes one event to the consumers that take every event.
func (s *Service) publishEach(tx *store.Tx, now time.Time, incID, evID int64, kind, actor, detail string, paging []string) error {
	inc, err := scanIncident(tx.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, incID))
	if err != nil {
		return fmt.Errorf("snapshot incident %d: %w", incID, err)
	}
	payload := EventPayload{Event: kind, At: now.UTC(), Actor: actor, Detail: detail, Paging: paging, Incident: inc}
	return s.pub.PublishEach(tx, outbox.Event{Kind: kind, Team: inc.Team,
		OrderingKey: "incident/" + strconv.FormatInt(incID, 10), IdempotencyKey: "timeline/" + strconv.FormatInt(evID, 10),
		Payload: payload.marshal(), Urgent: kind == KindTriggered || kind == KindReopened})
}
