package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// phoneCommands runs incident commands that arrive by SMS or phone, the
// same calls the API and chat make, and words refusals for a phone.
type phoneCommands struct {
	incidents *incident.Service
	engine    *oncall.Engine
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

func (c phoneCommands) Acknowledge(ctx context.Context, id int64, actor string) error {
	_, err := c.incidents.Acknowledge(ctx, id, actor)
	return forPerson(id, err)
}

func (c phoneCommands) Resolve(ctx context.Context, id int64, actor string) error {
	_, err := c.incidents.Resolve(ctx, id, actor)
	return forPerson(id, err)
}

func (c phoneCommands) Escalate(ctx context.Context, id int64, actor string) error {
	return forPerson(id, c.engine.Escalate(ctx, id, actor))
}

func (c phoneCommands) LatestPaged(ctx context.Context, person string) (int64, bool) {
	return c.engine.LatestPaged(ctx, person)
}
