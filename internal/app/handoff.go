package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// TimerHandoff is the durable timer of a team's weekly handoff: when it
// falls due the team's handoff report goes to its rooms, and the next
// one is armed.
const TimerHandoff = "report.handoff"

type handoffTimer struct {
	Team string `json:"team"`
}

// nextHandoff is when team's schedule next hands over after t: the next
// change of who is on call within two weeks, else the same local time a
// week on (a one-person rotation still has its weekly handoff).
func (a *App) nextHandoff(t config.Team, after time.Time) (time.Time, bool) {
	sc, ok := a.OnCall.Schedule(t.Schedule)
	if !ok {
		return time.Time{}, false
	}
	if hs := sc.Handoffs(after, 14*24*time.Hour, 1); len(hs) > 0 {
		return hs[0].Start, true
	}
	return after.In(sc.Zone).AddDate(0, 0, 7), true
}

// ensureHandoffTimers arms the handoff timer of every team with a
// schedule and a room that has none; run at start and after a reload.
func (a *App) ensureHandoffTimers(ctx context.Context, cfg *config.Config) error {
	if a.handoff == nil {
		return nil
	}
	return a.Store.Write(ctx, func(tx *store.Tx) error {
		pending, err := timer.Pending(tx, TimerHandoff)
		if err != nil {
			return err
		}
		armed := map[string]bool{}
		for _, t := range pending {
			var p handoffTimer
			if json.Unmarshal([]byte(t.Payload), &p) == nil {
				armed[p.Team] = true
			}
		}
		now := a.Clock.Now()
		for _, t := range cfg.Teams {
			if armed[t.Name] || !a.handoff.HasRoom(t.Name) {
				continue
			}
			due, ok := a.nextHandoff(t, now)
			if !ok {
				continue
			}
			b, _ := json.Marshal(handoffTimer{Team: t.Name})
			if err := timer.Arm(tx, TimerHandoff, 0, due, string(b), now); err != nil {
				return err
			}
			tx.AfterCommit(a.Timers.Wake)
		}
		return nil
	})
}

// handleHandoff posts the team's report of the week that just ended and
// arms the next handoff, in the timer's transaction: the post is queued
// exactly when the timer is spent.
func (a *App) handleHandoff(tx *store.Tx, t timer.Timer) error {
	var p handoffTimer
	if err := json.Unmarshal([]byte(t.Payload), &p); err != nil {
		return nil // a payload this version cannot read: drop the timer
	}
	var team config.Team
	found := false
	for _, x := range a.Live().Teams {
		if x.Name == p.Team {
			team, found = x, true
		}
	}
	if !found {
		return nil // the team is gone; its handoffs with it
	}
	now := a.Clock.Now()
	src := a.Reports()
	if r, err := src.LastWeek(team.Name, now.Add(time.Second)); err == nil {
		h, err := src.Weekly(tx.Context(), team.Name, r)
		if err != nil {
			return fmt.Errorf("handoff report of %s: %w", team.Name, err)
		}
		payload, err := json.Marshal(chat.HandoffPost{Team: team.Name, Text: h.Card(), Image: chat.ReportImage(team.Name, h)})
		if err != nil {
			return err
		}
		if err := a.pub.Send(tx, chat.HandoffConsumer, outbox.Event{Kind: "report.handoff", Team: team.Name,
			OrderingKey: "handoff/" + team.Name, IdempotencyKey: fmt.Sprintf("handoff/%s/%d", team.Name, t.Due.UnixMilli()), Payload: payload}); err != nil {
			return err
		}
	}
	due, ok := a.nextHandoff(team, t.Due.Add(time.Second))
	if !ok {
		return nil
	}
	if !due.After(now) {
		due = now.Add(time.Minute) // far behind (the bot was down): catch up, one a minute
	}
	return timer.Arm(tx, TimerHandoff, 0, due, t.Payload, now)
}
