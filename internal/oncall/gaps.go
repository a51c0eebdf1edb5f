package oncall

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// TimerGapCheck looks for coming gaps in every team's schedule.
const TimerGapCheck = "gap_check"

// Gap checks look a week ahead, every hour.
const (
	gapLookahead = 7 * 24 * time.Hour
	gapInterval  = time.Hour
)

// EventGap is the outbox kind announcing a coming gap to subscribers.
const EventGap = "schedule.gap"

// WaitBackground waits for the work timers started off their
// transaction (calendar refreshes) to finish; tests call it to stay
// deterministic.
func (e *Engine) WaitBackground() { e.background.Wait() }

// Close ends the work timers started off their transaction and waits for
// it, so nothing touches the store after it is closed.
func (e *Engine) Close() {
	e.cancel()
	e.background.Wait()
}

// TimerICalRefresh reads URL-imported calendars again.
const TimerICalRefresh = "ical_refresh"

// EnsureGapCheck arms the hourly checks if they are not armed: the gap
// check, and the calendar refresh when a layer is imported from a URL. At
// every start, so a fresh database gets them and a restart does not make
// two.
func (e *Engine) EnsureGapCheck(ctx context.Context) error {
	kinds := []string{TimerGapCheck}
	if e.dir.HasURLImports() {
		kinds = append(kinds, TimerICalRefresh)
	}
	return e.store.Write(ctx, func(tx *store.Tx) error {
		now := e.clock.Now()
		for _, k := range kinds {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM timers WHERE kind = ?`, k).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			due := now // the gap check runs at once
			if k == TimerICalRefresh {
				due = now.Add(gapInterval) // the calendars were just read
			}
			if err := e.arm(tx, k, 0, due, "", now); err != nil {
				return err
			}
		}
		return nil
	})
}

// refreshCalendars runs in the timer's transaction but must not do I/O
// there; it re-arms itself and refreshes after the commit.
func (e *Engine) refreshCalendars(tx *store.Tx, _ timer.Timer) error {
	tx.AfterCommit(func() {
		e.background.Add(1)
		go func() {
			defer e.background.Done()
			ctx, cancel := context.WithTimeout(e.stop, time.Minute)
			defer cancel()
			if err := e.dir.RefreshImports(ctx); err != nil {
				slog.Warn("calendar refresh failed; keeping the shifts read before", "err", err)
			}
		}()
	})
	now := e.clock.Now()
	return e.arm(tx, TimerICalRefresh, 0, now.Add(gapInterval), "", now)
}

// checkGaps warns each team's leads of every gap in the coming week, once
// per gap (the outbox's idempotency key makes a repeat a no-op), and
// publishes it for chat and webhooks. Then it arms the next check.
func (e *Engine) checkGaps(tx *store.Tx, _ timer.Timer) error {
	now := e.clock.Now()
	for _, team := range e.dir.Teams() {
		t := e.dir.d().teams[team]
		sc, ok := e.dir.Schedule(t.Schedule)
		if !ok {
			continue
		}
		// Look from a day back so a gap under way is seen whole: a gap is
		// named by its true start, which stays put from check to check.
		from := now.Add(-24 * time.Hour)
		for _, g := range sc.Gaps(from, now.Add(gapLookahead)) {
			if !g.End.After(now) {
				continue
			}
			if err := e.warnGap(tx, team, sc, g, g.Start.Equal(from)); err != nil {
				return err
			}
		}
	}
	return e.arm(tx, TimerGapCheck, 0, now.Add(gapInterval), "", now)
}

func (e *Engine) warnGap(tx *store.Tx, team string, sc *Schedule, g Segment, startUnknown bool) error {
	id := fmt.Sprintf("gap/%s/from/%d", sc.Name, g.Start.Unix())
	if startUnknown {
		// Begun more than a day ago: its end names it.
		id = fmt.Sprintf("gap/%s/until/%d", sc.Name, g.End.Unix())
	}
	local := func(t time.Time) string { return t.In(sc.Zone).Format("Mon 2 Jan 15:04 MST") }
	text := fmt.Sprintf("Nobody is on call for %s (schedule %s) from %s to %s. Add an override or a swap to cover it.",
		team, sc.Name, local(g.Start), local(g.End))
	b, err := json.Marshal(struct {
		Event    string    `json:"event"`
		Team     string    `json:"team"`
		Schedule string    `json:"schedule"`
		Start    time.Time `json:"start"`
		End      time.Time `json:"end"`
		Text     string    `json:"text"`
	}{EventGap, team, sc.Name, g.Start, g.End, text})
	if err != nil {
		return err
	}
	if p, ok := e.sender.(Publisher); ok {
		if err := p.Publish(tx, outbox.Event{Kind: EventGap, Team: team, OrderingKey: "schedule/" + sc.Name,
			IdempotencyKey: id, Payload: b}); err != nil {
			return err
		}
	}
	var unreachable []string
	for _, lead := range e.dir.d().teams[team].Leads {
		m := e.workingMethod(lead, "voice")
		if m == "" {
			unreachable = append(unreachable, lead)
			continue
		}
		person, _ := e.dir.Person(lead)
		payload, err := json.Marshal(Page{Key: id + "/" + lead, Method: m, Person: person, Text: text,
			Subject: "Gap in the " + sc.Name + " on-call schedule"})
		if err != nil {
			return err
		}
		if err := e.sender.Send(tx, NotifyConsumer(m), outbox.Event{Kind: EventGap, Team: team,
			OrderingKey: "person/" + lead + "/" + m, IdempotencyKey: id + "/" + lead, Payload: payload}); err != nil {
			return err
		}
	}
	if len(unreachable) > 0 {
		slog.Warn("schedule gap: no configured way to tell the leads", "schedule", sc.Name, "team", team,
			"start", g.Start, "end", g.End, "leads", strings.Join(unreachable, ","), "gap", strconv.Quote(text))
	}
	return nil
}
