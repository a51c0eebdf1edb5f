package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/plan"
	"github.com/oncallbot/bot/internal/store"
)

// applyAtStart applies the objects of the file the bot starts with
// through the same plan as `bot apply` (without pruning, and leaving alone
// what that file has not changed since the bot last started), then
// returns the running configuration: the applied set, which objects
// applied since by `bot apply` are part of, with the file's server
// settings. See docs/adr/0003-configuration-as-code.md.
func applyAtStart(ctx context.Context, st *store.Store, file *config.Config, now time.Time, log *slog.Logger) (*config.Config, error) {
	digester, err := plan.DigesterOf(ctx, st.Read())
	if err != nil {
		return nil, err
	}
	desired, err := plan.FromConfig(file, digester)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	applied, err := plan.Applied(ctx, st.Read())
	if err != nil {
		return nil, err
	}
	live, err := plan.LiveSet(ctx, st.Read(), applied)
	if err != nil {
		return nil, err
	}
	opts := plan.Options{Start: true}
	p, err := plan.Compute(desired, applied, live, opts)
	if err != nil {
		return nil, err
	}
	layers, err := plan.LayerStatesOf(ctx, st.Read())
	if err != nil {
		return nil, err
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		return plan.Apply(tx, p, desired, applied, plan.ApplyOptions{Options: opts, Actor: "start", Now: now, Digester: digester, Layers: layers})
	})
	if err != nil {
		return nil, fmt.Errorf("apply the configuration at start: %w", err)
	}
	counts := map[plan.Action]int{}
	for _, c := range p.Changes {
		counts[c.Action]++
		switch c.Action {
		case plan.Create, plan.Update:
			log.Debug("configuration applied at start", "object", c.Key.String(), "action", string(c.Action), "source", c.Source)
		case plan.Drift:
			log.Info("configuration: run-time changes kept", "object", c.Key.String(), "fields", len(c.Drift))
		}
	}
	if p.HasChanges() {
		log.Info("configuration applied at start", "created", counts[plan.Create], "updated", counts[plan.Update])
	}
	if applied, err = plan.Applied(ctx, st.Read()); err != nil {
		return nil, err
	}
	running := *file.Settings()
	if err := plan.Objects(&running, applied); err != nil {
		return nil, fmt.Errorf("the applied configuration: %w", err)
	}
	if err := running.Check(); err != nil {
		return nil, fmt.Errorf("the applied configuration with this file's settings does not hold together: %w", err)
	}
	return &running, nil
}
