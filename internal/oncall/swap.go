package oncall

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// SwapState is where a swap request stands. Expired is never stored: an
// open swap whose range has ended without a taker reads as expired.
type SwapState string

// Swap states.
const (
	SwapOpen      SwapState = "open"
	SwapTaken     SwapState = "taken"
	SwapCancelled SwapState = "cancelled"
	SwapExpired   SwapState = "expired"
)

// Swap is a request for cover.
type Swap struct {
	ID         int64     `json:"id"`
	Schedule   string    `json:"schedule"`
	Requester  string    `json:"requester"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	State      SwapState `json:"state"`
	TakenBy    string    `json:"taken_by,omitempty"`
	OverrideID int64     `json:"override_id,omitempty"`
	Note       string    `json:"note,omitempty"`
}

// RefusedError refuses a change the current state does not allow, saying
// why in words for the person who asked.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Publisher publishes an event to whoever subscribed.
type Publisher interface {
	Publish(tx *store.Tx, e outbox.Event) error
}

// SetPublisher makes swap events (swap.requested, swap.taken,
// swap.cancelled) go out through the outbox.
func (s *Service) SetPublisher(p Publisher) { s.pub = p }

// teamOf returns the team whose schedule this is, for event routing.
func (s *Service) teamOf(schedule string) string {
	for _, t := range s.d().teams {
		if t.Schedule == schedule {
			return t.Name
		}
	}
	return ""
}

// mates reports whether person may take shifts of schedule: a participant
// of one of its layers, or a member of a team that uses it.
func (s *Service) mates(schedule, person string) bool {
	if sc, ok := s.Schedule(schedule); ok {
		for _, l := range sc.Layers {
			if slices.Contains(l.Participants, person) {
				return true
			}
		}
	}
	for _, t := range s.d().teams {
		if t.Schedule == schedule && slices.Contains(t.Members, person) {
			return true
		}
	}
	return false
}

func (s *Service) publishSwap(tx *store.Tx, kind string, sw Swap) error {
	if s.pub == nil {
		return nil
	}
	b, err := json.Marshal(struct {
		Event string `json:"event"`
		Swap  Swap   `json:"swap"`
	}{kind, sw})
	if err != nil {
		return err
	}
	return s.pub.Publish(tx, outbox.Event{Kind: kind, Team: s.teamOf(sw.Schedule),
		OrderingKey:    "swap/" + strconv.FormatInt(sw.ID, 10),
		IdempotencyKey: kind + "/" + strconv.FormatInt(sw.ID, 10), Payload: b})
}

// RequestSwap asks the requester's teammates to cover [start, end).
func (s *Service) RequestSwap(ctx context.Context, schedule, requester string, start, end time.Time, note string) (Swap, error) {
	sc, ok := s.Schedule(schedule)
	if !ok {
		return Swap{}, fmt.Errorf("schedule %q: %w", schedule, ErrUnknown)
	}
	now := s.clock.Now()
	switch {
	case !s.mates(schedule, requester):
		return Swap{}, &InvalidError{"requester", fmt.Sprintf("%q takes no shifts on %s", requester, schedule)}
	case !end.After(start):
		return Swap{}, &InvalidError{"end", "must be after start"}
	case !end.After(now):
		return Swap{}, &InvalidError{"end", "is in the past"}
	}
	onCall := false
	for _, seg := range sc.Final(later(start, now), end) {
		if slices.Contains(seg.Users, requester) {
			onCall = true
			break
		}
	}
	if !onCall {
		return Swap{}, &RefusedError{fmt.Sprintf("%s is not on call at any time in that range; there is nothing to cover", requester)}
	}
	sw := Swap{Schedule: schedule, Requester: requester, Start: start.UTC().Truncate(time.Millisecond),
		End: end.UTC().Truncate(time.Millisecond), State: SwapOpen, Note: note}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`INSERT INTO swaps (schedule, requester, start_at, end_at, state, note, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`, schedule, requester, start.UnixMilli(), end.UnixMilli(), note, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("insert swap: %w", err)
		}
		if sw.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return s.publishSwap(tx, "swap.requested", sw)
	})
	return sw, err
}

const swapColumns = `id, schedule, requester, start_at, end_at, state, taken_by, COALESCE(override_id, 0), note`

func scanSwap(r interface{ Scan(...any) error }, now time.Time) (Swap, error) {
	var sw Swap
	var start, end int64
	if err := r.Scan(&sw.ID, &sw.Schedule, &sw.Requester, &start, &end, &sw.State, &sw.TakenBy, &sw.OverrideID, &sw.Note); err != nil {
		return Swap{}, err
	}
	sw.Start, sw.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
	if sw.State == SwapOpen && !sw.End.After(now) {
		sw.State = SwapExpired
	}
	return sw, nil
}

// loadSwap reads one swap inside a write transaction.
func loadSwap(tx *store.Tx, schedule string, id int64, now time.Time) (Swap, error) {
	sw, err := scanSwap(tx.QueryRow(`SELECT `+swapColumns+` FROM swaps WHERE id = ? AND schedule = ?`, id, schedule), now)
	if errors.Is(err, sql.ErrNoRows) {
		return Swap{}, fmt.Errorf("swap %d: %w", id, ErrUnknown)
	}
	return sw, err
}

// Swaps lists a schedule's swap requests, newest first.
func (s *Service) Swaps(ctx context.Context, schedule string) ([]Swap, error) {
	rows, err := s.store.Read().QueryContext(ctx, `SELECT `+swapColumns+` FROM swaps WHERE schedule = ? ORDER BY id DESC LIMIT 200`, schedule)
	if err != nil {
		return nil, fmt.Errorf("list swaps: %w", err)
	}
	defer rows.Close()
	out := []Swap{}
	now := s.clock.Now()
	for rows.Next() {
		sw, err := scanSwap(rows, now)
		if err != nil {
			return nil, fmt.Errorf("list swaps: %w", err)
		}
		out = append(out, sw)
	}
	return out, rows.Err()
}

// AcceptSwap gives an open swap to acceptor, the first to ask: the swap
// is taken and an override puts acceptor on call in the requester's place
// for what remains of the range.
func (s *Service) AcceptSwap(ctx context.Context, schedule string, id int64, acceptor string) (Swap, error) {
	if !s.mates(schedule, acceptor) {
		return Swap{}, &RefusedError{fmt.Sprintf("%s takes no shifts on %s, so cannot cover one", acceptor, schedule)}
	}
	var sw Swap
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		now := s.clock.Now()
		var err error
		if sw, err = loadSwap(tx, schedule, id, now); err != nil {
			return err
		}
		switch {
		case sw.State == SwapTaken:
			return &RefusedError{fmt.Sprintf("swap %d was already taken by %s", id, sw.TakenBy)}
		case sw.State != SwapOpen:
			return &RefusedError{fmt.Sprintf("swap %d is %s", id, sw.State)}
		case sw.Requester == acceptor:
			return &RefusedError{"you cannot cover your own shift"}
		}
		res, err := tx.Exec(`INSERT INTO schedule_overrides (schedule, kind, user_name, replaces, start_at, end_at, created_at, created_by, note)
			VALUES (?, 'replace', ?, ?, ?, ?, ?, ?, ?)`, schedule, acceptor, sw.Requester,
			later(sw.Start, now).UnixMilli(), sw.End.UnixMilli(), now.UnixMilli(), acceptor, "swap "+strconv.FormatInt(id, 10))
		if err != nil {
			return fmt.Errorf("create swap override: %w", err)
		}
		if sw.OverrideID, err = res.LastInsertId(); err != nil {
			return err
		}
		// The state condition makes the first acceptor win even if two
		// race: the loser's update changes nothing.
		up, err := tx.Exec(`UPDATE swaps SET state = 'taken', taken_by = ?, override_id = ?, updated_at = ? WHERE id = ? AND state = 'open'`,
			acceptor, sw.OverrideID, now.UnixMilli(), id)
		if err != nil {
			return fmt.Errorf("take swap: %w", err)
		}
		if n, _ := up.RowsAffected(); n == 0 {
			return &RefusedError{fmt.Sprintf("swap %d was just taken by someone else", id)}
		}
		sw.State, sw.TakenBy = SwapTaken, acceptor
		return s.publishSwap(tx, "swap.taken", sw)
	})
	if err != nil {
		return Swap{}, err
	}
	return sw, s.reload(ctx, schedule)
}

// CancelSwap withdraws an open swap; only its requester or a lead of the
// schedule's team may.
func (s *Service) CancelSwap(ctx context.Context, schedule string, id int64, by string) (Swap, error) {
	var sw Swap
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		now := s.clock.Now()
		var err error
		if sw, err = loadSwap(tx, schedule, id, now); err != nil {
			return err
		}
		if sw.State != SwapOpen {
			return &RefusedError{fmt.Sprintf("swap %d is %s, not open", id, sw.State)}
		}
		if by != sw.Requester && !slices.Contains(s.d().teams[s.teamOf(schedule)].Leads, by) {
			return &RefusedError{fmt.Sprintf("only %s or a team lead may cancel swap %d", sw.Requester, id)}
		}
		if _, err := tx.Exec(`UPDATE swaps SET state = 'cancelled', updated_at = ? WHERE id = ?`, now.UnixMilli(), id); err != nil {
			return fmt.Errorf("cancel swap: %w", err)
		}
		sw.State = SwapCancelled
		return s.publishSwap(tx, "swap.cancelled", sw)
	})
	return sw, err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TakeShift puts person on call alone from now until the current
// stretch of the schedule ends: "I've got this" in an emergency.
func (s *Service) TakeShift(ctx context.Context, schedule, person string) (Override, error) {
	sc, ok := s.Schedule(schedule)
	if !ok {
		return Override{}, fmt.Errorf("schedule %q: %w", schedule, ErrUnknown)
	}
	if !s.mates(schedule, person) {
		return Override{}, &RefusedError{fmt.Sprintf("%s takes no shifts on %s", person, schedule)}
	}
	now := s.clock.Now()
	until := now.Add(12 * time.Hour)
	if final := sc.Final(now, now.Add(handoffHorizon)); len(final) > 0 && final[0].End.Before(now.Add(handoffHorizon)) {
		until = final[0].End
	}
	return s.AddOverride(ctx, schedule, NewOverride{Kind: Replace, User: person, Start: now, End: until, Note: "took the shift"}, person)
}
