package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// phoneCommands runs incident commands that arrive by SMS or phone, the
// same calls the API and chat make under chat's rule of who may act
// (chat.MayAct), and words refusals for a phone.
type phoneCommands struct {
	incidents *incident.Service
	engine    *oncall.Engine
	// teams are the teams in force (the App's live configuration).
	teams func() []config.Team
	store *store.Store
	clock interface{ Now() time.Time }
}

// saidError is a refusal meant for the person who asked.
type saidError struct{ msg string }

func (e saidError) Error() string { return e.msg }
func (e saidError) Said() string  { return e.msg }

func forPerson(id int64, err error) error {
	var conflict *incident.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, incident.ErrNotFound):
		return saidError{fmt.Sprintf("there is no incident %d", id)}
	case errors.As(err, &conflict):
		return saidError{conflict.Msg}
	}
	if ne, ok := oncall.IsNotEscalatable(err); ok {
		return saidError{ne.Msg}
	}
	return err
}

// allowed refuses person, in words, unless they may act on incident id.
func (c phoneCommands) allowed(ctx context.Context, id int64, person, verb string) error {
	d, err := c.incidents.Incident(ctx, id)
	if err != nil {
		return forPerson(id, err)
	}
	if !chat.MayAct(c.teams(), d.Team, person) {
		return saidError{fmt.Sprintf("only members of team %s may %s it; you are not on team %s", d.Team, verb, d.Team)}
	}
	return nil
}

func (c phoneCommands) Acknowledge(ctx context.Context, id int64, person, actor string) error {
	if err := c.allowed(ctx, id, person, "acknowledge"); err != nil {
		return err
	}
	_, err := c.incidents.Acknowledge(ctx, id, actor)
	return forPerson(id, err)
}

func (c phoneCommands) Resolve(ctx context.Context, id int64, person, actor string) error {
	if err := c.allowed(ctx, id, person, "resolve"); err != nil {
		return err
	}
	_, err := c.incidents.Resolve(ctx, id, actor)
	return forPerson(id, err)
}

func (c phoneCommands) Escalate(ctx context.Context, id int64, person, actor string) error {
	if err := c.allowed(ctx, id, person, "escalate"); err != nil {
		return err
	}
	return forPerson(id, c.engine.Escalate(ctx, id, actor))
}

// FirstTime claims a Twilio request's key in twilio_handled, durably:
// Twilio's signatures carry no timestamp, so a request captured once could
// be replayed at any time later, after a restart too.
func (c phoneCommands) FirstTime(ctx context.Context, key string) (bool, error) {
	first := false
	err := c.store.Write(ctx, func(tx *store.Tx) error {
		first = false
		res, err := tx.Exec(`INSERT INTO twilio_handled (key, handled_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key, c.clock.Now().UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim twilio request %s: %w", key, err)
	}
	return first, nil
}

func (c phoneCommands) LatestPaged(ctx context.Context, person string) (int64, bool) {
	return c.engine.LatestPaged(ctx, person)
}
