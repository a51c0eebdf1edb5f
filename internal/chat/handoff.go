package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/outbox"
)

// HandoffConsumer is the outbox consumer that posts a team's handoff
// report into its rooms at each weekly handoff.
const HandoffConsumer = "chat:handoff"

// HandoffPost is the payload of a handoff post: the team, and the text
// to post (the report's card, made when the handoff came) with its chart.
type HandoffPost struct {
	Team string `json:"team"`
	Text string `json:"text"`
	// Image is the report's chart, posted under the card where the
	// platform takes pictures; nil when it could not be drawn.
	Image *Image `json:"image,omitempty"`
}

// HandoffPoster posts handoff reports into teams' rooms, on every
// platform where the team has one.
type HandoffPoster struct {
	platforms []Platform
	teams     atomic.Pointer[map[string]config.Team]
	log       *slog.Logger
}

// NewHandoffPoster returns the HandoffConsumer; log hears of charts that
// could not be posted.
func NewHandoffPoster(platforms []Platform, cfg *config.Config, log *slog.Logger) *HandoffPoster {
	p := &HandoffPoster{platforms: platforms, log: log}
	p.Reload(cfg)
	return p
}

// Reload puts cfg's teams' rooms in force.
func (p *HandoffPoster) Reload(cfg *config.Config) {
	m := map[string]config.Team{}
	for _, t := range cfg.Teams {
		m[t.Name] = t
	}
	p.teams.Store(&m)
}

// Deliver posts one report. A team with no room anywhere is a permanent
// failure; a platform that fails is retried.
func (p *HandoffPoster) Deliver(ctx context.Context, m outbox.Message) error {
	var post HandoffPost
	if err := json.Unmarshal(m.Payload, &post); err != nil {
		return outbox.Permanent(fmt.Errorf("decode handoff post %d: %w", m.ID, err))
	}
	t := (*p.teams.Load())[post.Team]
	sent := 0
	var errs []error
	for _, pl := range p.platforms {
		id := teamRoom(t, pl.Name())
		if id == "" {
			continue
		}
		if err := pl.Post(ctx, Room{ID: id}, post.Text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
			continue
		}
		sent++
		// The card went: a chart that fails is logged, not the card
		// posted again.
		if ip, ok := pl.(ImagePoster); ok && post.Image != nil {
			if err := ip.PostImage(ctx, Room{ID: id}, *post.Image); err != nil && p.log != nil {
				p.log.Warn("post the handoff chart", "platform", pl.Name(), "team", post.Team, "err", err)
			}
		}
	}
	switch {
	case len(errs) > 0:
		return errors.Join(errs...)
	case sent == 0:
		return outbox.Permanent(fmt.Errorf("team %s has no chat room on any configured platform", post.Team))
	}
	return nil
}

// HasRoom reports whether team has a room the poster can post to.
func (p *HandoffPoster) HasRoom(team string) bool {
	t := (*p.teams.Load())[team]
	for _, pl := range p.platforms {
		if teamRoom(t, pl.Name()) != "" {
			return true
		}
	}
	return false
}
