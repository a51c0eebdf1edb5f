package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// RoomPager pages a team's own chat rooms (an escalation step's "room"
// target): the page and the incident's card, on every platform where the
// team has a room.
type RoomPager struct {
	platforms []Platform
	// teams is the teams by name, swapped whole by Reload.
	teams atomic.Pointer[map[string]config.Team]
}

// NewRoomPager returns the notify:rooms consumer.
func NewRoomPager(platforms []Platform, teams []config.Team) *RoomPager {
	r := &RoomPager{platforms: platforms}
	r.setTeams(teams)
	return r
}

// Reload puts cfg's teams in force for the pages delivered from now: a
// page goes to the rooms its team has in cfg, and a team cfg no longer
// has gets no page (a permanent failure the timeline shows). The
// platforms are kept: they are the ones the bot started with.
func (r *RoomPager) Reload(cfg *config.Config) { r.setTeams(cfg.Teams) }

func (r *RoomPager) setTeams(teams []config.Team) {
	m := make(map[string]config.Team, len(teams))
	for _, t := range teams {
		m[t.Name] = t
	}
	r.teams.Store(&m)
}

// teamRoom is a team's room on a platform, "" when it has none there.
func teamRoom(t config.Team, platform string) string {
	switch platform {
	case "slack":
		return t.Rooms.Slack
	case "discord":
		return t.Rooms.Discord
	case "telegram":
		if t.Rooms.Telegram != "" {
			return t.Rooms.Telegram + ":0" // the group's general topic
		}
	}
	return ""
}

// Deliver posts the page into each of the team's rooms, alerting the
// whole room where the platform can (RoomAlerter): paging a room is
// meant to wake whoever is in it. A team with no room anywhere is a
// permanent failure the timeline shows.
func (r *RoomPager) Deliver(ctx context.Context, m outbox.Message) error {
	var p oncall.RoomPage
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return outbox.Permanent(fmt.Errorf("decode room page %d: %w", m.ID, err))
	}
	t := (*r.teams.Load())[p.Team]
	sent := 0
	var errs []error
	for _, pl := range r.platforms {
		id := teamRoom(t, pl.Name())
		if id == "" {
			continue
		}
		if err := alertRoom(ctx, pl, Room{ID: id}, p.Text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
			continue
		}
		sent++
	}
	switch {
	case sent > 0:
		return nil
	case len(errs) > 0:
		return errors.Join(errs...)
	}
	return outbox.Permanent(fmt.Errorf("team %s has no chat room on any configured platform", p.Team))
}

// alertRoom posts text into a team's room, with the platform's mention
// of the whole room when it has one.
func alertRoom(ctx context.Context, pl Platform, room Room, text string) error {
	if a, ok := pl.(RoomAlerter); ok {
		return a.AlertRoom(ctx, room, text)
	}
	return pl.Post(ctx, room, text)
}
