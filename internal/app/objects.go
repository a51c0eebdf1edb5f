package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/plan"
)

// liveSet is the applied set with run-time edits folded in.
func (a *App) liveSet(ctx context.Context) (plan.Set, error) {
	applied, err := plan.Applied(ctx, a.Store.Read())
	if err != nil {
		return nil, err
	}
	return plan.LiveSet(ctx, a.Store.Read(), applied)
}

// Object returns one object of the configuration in force, as the API
// shows it (secrets as their ${NAME}, never their value), or ErrNoObject.
func (a *App) Object(ctx context.Context, kind, name string) (json.RawMessage, error) {
	set, err := a.liveSet(ctx)
	if err != nil {
		return nil, err
	}
	o, ok := set[plan.Key{Kind: kind, Name: name}]
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", kind, name, plan.ErrNoObject)
	}
	return plan.Public(o)
}

// ObjectList returns every object of a kind in force, in the files'
// order.
func (a *App) ObjectList(ctx context.Context, kind string) ([]json.RawMessage, error) {
	set, err := a.liveSet(ctx)
	if err != nil {
		return nil, err
	}
	var objs []plan.Object
	for _, k := range set.Keys() {
		if k.Kind == kind {
			objs = append(objs, set[k])
		}
	}
	slices.SortStableFunc(objs, func(x, y plan.Object) int { return x.Position - y.Position })
	out := []json.RawMessage{}
	for _, o := range objs {
		p, err := plan.Public(o)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// current is the applied configuration's objects, secrets included, with
// the server settings in force (so it checks as a whole file would).
func (a *App) current(ctx context.Context) (*config.Config, error) {
	applied, err := plan.Applied(ctx, a.Store.Read())
	if err != nil {
		return nil, err
	}
	c := a.Live().Settings()
	if err := plan.Objects(c, applied); err != nil {
		return nil, err
	}
	return c, nil
}

// PutObject creates or replaces one object, through the same plan and
// apply as files: checked whole, one transaction, live. force lets it
// drop what open incidents use (see ApplyConfig).
func (a *App) PutObject(ctx context.Context, kind, name string, spec json.RawMessage, actor string, force bool) (plan.Plan, error) {
	c, err := a.current(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	if err := plan.Put(c, kind, name, spec); err != nil {
		return plan.Plan{}, fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	}
	if err := c.Check(); err != nil {
		return plan.Plan{}, fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	}
	return a.ApplyConfig(ctx, c, plan.Options{Force: force}, actor, true)
}

// DeleteObject deletes one object, as an apply with --prune of every
// other object as it is. Open incidents that use it refuse the delete
// unless force.
func (a *App) DeleteObject(ctx context.Context, kind, name, actor string, force bool) (plan.Plan, error) {
	c, err := a.current(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	if !plan.Remove(c, kind, name) {
		return plan.Plan{}, fmt.Errorf("%s %q: %w", kind, name, plan.ErrNoObject)
	}
	if err := c.Check(); err != nil {
		return plan.Plan{}, fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	}
	return a.ApplyConfig(ctx, c, plan.Options{Prune: true, Force: force}, actor, true)
}
