package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/notify"
	"github.com/oncallbot/bot/internal/outbox"
)

// Live is the configuration in force: the one the bot started with, or
// the last one Reload put in force.
func (a *App) Live() *config.Config { return a.live.Load() }

// Reload puts cfg's objects in force in the running bot, without a
// restart: routes for the alerts that come next, schedules, people and
// teams for who is paged next, escalation policies from each open
// incident's next step, integrations and API tokens for the next request,
// outgoing webhooks for the events published next. Server settings
// (listen address, database, platform credentials, console tokens) are
// the ones the bot started with; cfg's are ignored.
//
// cfg must have passed config.Check. Reload checks what only building the
// parts can tell (matchers compile, zones load, calendars import) before
// it changes anything; on an error the bot runs on as before.
func (a *App) Reload(ctx context.Context, cfg *config.Config) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	router, err := incident.NewRouter(cfg.Routes, cfg.DefaultRoute)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	// The one step that can still fail, first: it changes nothing when it
	// does.
	if err := a.OnCall.Reload(ctx, cfg); err != nil {
		return fmt.Errorf("schedules: %w", err)
	}
	a.Engine.Reload(cfg)
	a.Incidents.SetRouter(router)
	a.http.Reload(cfg)
	if a.twilioIn != nil {
		a.twilioIn.SetPeople(phonesOf(cfg))
	}
	a.reloadWebhooks(cfg)
	a.reloadRaw(cfg)
	for _, r := range a.reloaders {
		r(cfg)
	}
	a.live.Store(cfg)
	if err := a.ensureHandoffTimers(ctx, cfg); err != nil {
		a.log.Error("arm the handoff reports of new teams", "err", err)
	}
	a.log.Info("configuration reloaded", "people", len(cfg.People), "teams", len(cfg.Teams), "schedules", len(cfg.Schedules),
		"policies", len(cfg.EscalationPolicies), "routes", len(cfg.Routes), "webhooks", len(cfg.Webhooks))
	return nil
}

// reloadWebhooks registers a consumer per outgoing webhook of cfg (a
// changed URL or secret takes effect from the next delivery), drops the
// ones cfg no longer has, and subscribes the new set.
func (a *App) reloadWebhooks(cfg *config.Config) {
	var subs []outbox.Subscription
	var names []string
	for _, w := range cfg.Webhooks {
		name := "webhook:" + w.Name
		a.Outbox.Register(name, notify.NewWebhook(w.URL, w.Secret, a.httpClient, a.Clock.Now))
		subs = append(subs, outbox.Subscription{Consumer: name, Kinds: w.Events, Teams: w.Teams})
		names = append(names, name)
	}
	a.pub.Replace("webhook:", subs)
	for _, old := range a.webhooks {
		if !slices.Contains(names, old) {
			a.Outbox.Unregister(old)
		}
	}
	a.webhooks = names
}

// reloadRaw does for the allnotifications contact methods what
// reloadWebhooks does for webhooks.
func (a *App) reloadRaw(cfg *config.Config) {
	subs, consumers := rawSubscriptions(cfg, a.notifyConsumers)
	var names []string
	for name, c := range consumers {
		a.Outbox.Register(name, c)
		names = append(names, name)
	}
	a.pub.Replace("raw:", subs)
	for _, old := range a.raw {
		if !slices.Contains(names, old) {
			a.Outbox.Unregister(old)
		}
	}
	a.raw = names
}

// phonesOf maps each configured phone number to its person, for the
// replies Twilio brings.
func phonesOf(cfg *config.Config) map[string]string {
	phones := map[string]string{}
	for _, p := range cfg.People {
		if p.Phone != "" {
			phones[p.Phone] = p.Name
		}
	}
	return phones
}
