package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/plan"
	"github.com/oncallbot/bot/internal/store"
)

// ErrReloadFailed wraps what kept a committed apply from being put in
// force; the bot runs on the configuration it had.
var ErrReloadFailed = errors.New("applied to the database, but the running bot could not take it")

// ApplyConfig plans desired's objects against the applied set and, with
// commit, applies the plan in one transaction and puts the result in
// force in the running bot (Reload). The running configuration is checked
// whole (references, token lengths for who can reach this bot, routes,
// schedules) before anything is written; a desired that does not hold
// changes nothing. desired's server settings are not used: the bot keeps
// the ones it started with.
func (a *App) ApplyConfig(ctx context.Context, desired *config.Config, o plan.Options, actor string, commit bool) (plan.Plan, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	db := a.Store.Read()
	digester, err := plan.DigesterOf(ctx, db)
	if err != nil {
		return plan.Plan{}, err
	}
	want, err := plan.FromConfig(desired, digester)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	}
	applied, err := plan.Applied(ctx, db)
	if err != nil {
		return plan.Plan{}, err
	}
	live, err := plan.LiveSet(ctx, db, applied)
	if err != nil {
		return plan.Plan{}, err
	}
	p, err := plan.Compute(want, applied, live, o)
	if err != nil {
		return p, err
	}
	strand, err := a.strandedBy(ctx, p, a.Live())
	if err != nil {
		return p, err
	}
	if len(strand) > 0 && !o.Force {
		return p, RefuseStranded(strand)
	}
	if !commit {
		return p, nil
	}
	next, err := a.running(plan.After(applied, want, p))
	if err != nil {
		return p, fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	}
	layers, err := plan.LayerStatesOf(ctx, db)
	if err != nil {
		return p, err
	}
	err = a.Store.Write(ctx, func(tx *store.Tx) error {
		if err := plan.Apply(tx, p, want, applied, plan.ApplyOptions{Options: o, Actor: actor, Now: a.Clock.Now(), Digester: digester, Layers: layers}); err != nil {
			return err
		}
		return a.moveStranded(tx, strand, next)
	})
	if err != nil {
		return p, fmt.Errorf("apply: %w", err)
	}
	if err := a.Reload(ctx, next); err != nil {
		a.log.Error("configuration applied but not put in force; the bot runs on the previous one until the next apply or restart", "err", err)
		return p, fmt.Errorf("%w: %w", ErrReloadFailed, err)
	}
	return p, nil
}

// running is the configuration the bot would run on with set applied:
// set's objects with the server settings the bot started with, checked
// whole, routes and schedules built.
func (a *App) running(set plan.Set) (*config.Config, error) {
	next := *a.Live().Settings()
	if err := plan.Objects(&next, set); err != nil {
		return nil, err
	}
	if err := next.Check(); err != nil {
		return nil, err
	}
	if err := next.CheckTokenLengths(); err != nil {
		return nil, err
	}
	if _, err := incident.NewRouter(next.Routes, next.DefaultRoute); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if _, err := oncall.SchedulesFromConfig(next.Schedules); err != nil {
		return nil, fmt.Errorf("schedules: %w", err)
	}
	return &next, nil
}

// ReloadStartFile reads the files the bot started with again and applies
// them as at start (what they changed since; nothing pruned), then puts
// the result in force: what SIGHUP does. A file that does not validate
// changes nothing.
func (a *App) ReloadStartFile(ctx context.Context, actor string) (plan.Plan, error) {
	if len(a.startPaths) == 0 {
		return plan.Plan{}, errors.New("the bot was not started from a file")
	}
	desired, err := config.LoadPaths(a.startPaths...)
	var p plan.Plan
	if err != nil {
		err = fmt.Errorf("%w: %w", plan.ErrInvalid, err)
	} else {
		p, err = a.ApplyConfig(ctx, desired, plan.Options{Start: true}, actor, true)
	}
	a.countReload(p, err)
	if errors.Is(err, plan.ErrInvalid) {
		a.tellLeadsOfFailedReload(ctx, err)
	}
	return p, err
}

// countReload counts a reload's outcome on bot_config_reloads_total.
func (a *App) countReload(p plan.Plan, err error) {
	result := "applied"
	switch {
	case errors.Is(err, plan.ErrInvalid):
		result = "invalid"
	case err != nil:
		result = "failed"
	case !p.HasChanges():
		result = "unchanged"
	}
	a.applies.WithLabelValues(result).Inc()
}

// tellLeadsOfFailedReload tells the leads of the teams the start files
// define (read leniently: the files do not validate) that the bot runs on
// its previous configuration, and why. Files too broken to name a team
// tell nobody but the log.
func (a *App) tellLeadsOfFailedReload(ctx context.Context, cause error) {
	teams := map[string]bool{}
	for _, path := range a.startPaths {
		for _, t := range config.TeamNamesIn(path) {
			teams[t] = true
		}
	}
	if len(teams) == 0 {
		return
	}
	why := strings.TrimPrefix(cause.Error(), plan.ErrInvalid.Error()+": ")
	if len(why) > 1200 {
		why = why[:1200] + "..."
	}
	now := a.Clock.Now()
	text := "The on-call configuration was not reloaded: the bot runs on the previous one. What is wrong:\n" + why
	err := a.Store.Write(ctx, func(tx *store.Tx) error {
		for team := range teams {
			key := fmt.Sprintf("config-reload-failed/%d/%s", now.UnixMilli(), team)
			if _, err := a.Engine.TellTeamLeads(tx, team, key, "On-call configuration not reloaded", text); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.log.Error("tell the leads of a failed configuration reload", "err", err)
	}
}

// ExportConfig is the applied configuration with run-time edits folded
// in, as files apply accepts, and the environment variables its literal
// secrets are written as.
func (a *App) ExportConfig(ctx context.Context) (map[string][]byte, []string, error) {
	applied, err := plan.Applied(ctx, a.Store.Read())
	if err != nil {
		return nil, nil, err
	}
	live, err := plan.LiveSet(ctx, a.Store.Read(), applied)
	if err != nil {
		return nil, nil, err
	}
	return plan.ExportFiles(live)
}
