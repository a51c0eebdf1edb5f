package app

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/triage"
)

// setupTriage registers the triage consumer when the configuration has a
// triage section: each new incident is triaged after its page, through
// the outbox, so a slow source never holds back a page or a card.
func (a *App) setupTriage(ctx context.Context, cfg *config.Config) {
	if cfg.Triage == nil {
		return
	}
	// The similar-incident search reads the triage's own index: file the
	// history it has not seen (from before triage was on).
	now := a.Clock.Now()
	if n, err := triage.Backfill(ctx, a.Store, now.Add(-triage.HistoryWindow), now.Add(time.Minute)); err != nil {
		a.log.Error("triage: index the history", "err", err)
	} else {
		a.log.Debug("triage: history indexed", "incidents", n)
	}
	sources := []triage.Source{triage.History{DB: a.Store.Read()}}
	if p := cfg.Triage.Prometheus; p != nil {
		if src, err := triage.NewPrometheus(p.URL, a.Clock.Now); err == nil {
			sources = append(sources, src)
		} else {
			a.log.Error("triage: prometheus", "err", err)
		}
	}
	if l := cfg.Triage.Logs; l != nil {
		if src, err := triage.NewLogs(l.URLTemplate, a.Clock.Now); err == nil {
			src.Lines = l.Lines
			sources = append(sources, src)
		} else {
			a.log.Error("triage: logs", "err", err)
		}
	}
	if k := cfg.Triage.Kubernetes; k != nil {
		if src, err := triage.NewKubernetes(k.Kubeconfig, k.InCluster, a.Clock.Now); err == nil {
			src.LogLines = k.LogLines
			sources = append(sources, src)
		} else {
			a.log.Error("triage: kubernetes", "err", err)
		}
	}
	metrics := triage.NewMetrics(a.Registry)
	runner := triage.Runner{Sources: sources, Timeout: cfg.Triage.Timeout.Std(), Now: a.Clock.Now}
	if ai := cfg.Triage.AI; ai != nil {
		var extra []*regexp.Regexp
		for _, p := range ai.Redact {
			extra = append(extra, regexp.MustCompile(p)) // checked by config.Check
		}
		analyzer := triage.NewOpenAI(ai.BaseURL, ai.APIKey, ai.Model, extra, a.Clock.Now)
		analyzer.Budget, analyzer.Timeout, analyzer.Observe = ai.DailyTokens, ai.Timeout.Std(), metrics.ObserveAI
		analyzer.Spending = triage.Ledger{Store: a.Store}
		runner.AI = analyzer
	}
	a.triage = &triage.Triager{
		Runner:    runner,
		Store:     a.Store,
		Incidents: a.Incidents,
		Enabled:   a.triages,
		SourcesOf: a.triageSourcesOf,
		Metrics:   metrics,
	}
	a.Outbox.Register(triage.Consumer, a.triage)
	// Triage yields to rooms and pages: in a storm it trickles, one at a
	// time, and catches up once they are delivered, 32 at a time: more
	// only share the cores (a triage is a few milliseconds of work around
	// its sources' answers) and crowd the next incident's room.
	a.Outbox.Background(triage.Consumer)
	a.Outbox.Limit(triage.Consumer, triageInFlight)
	a.pub.Subscribe(outbox.Subscription{Consumer: triage.Consumer, Kinds: []string{"incident.triggered"}})
	if runner.AI != nil {
		// The AI is asked once the summary is in the room, in a delivery
		// of its own: the summary never waits for a model.
		a.triage.AskAI = func(tx *store.Tx, id int64) error {
			payload, err := json.Marshal(triage.AIRequest{Incident: id})
			if err != nil {
				return err
			}
			return a.pub.Send(tx, triage.AIConsumer, outbox.Event{Kind: "triage.ai", OrderingKey: fmt.Sprintf("incident/%d", id),
				IdempotencyKey: fmt.Sprintf("triage-ai/%d/%d", id, a.Clock.Now().UnixNano()), Payload: payload})
		}
		a.Outbox.Register(triage.AIConsumer, a.triage.AIPhase())
		// A question mostly waits on the model: a burst's questions go out
		// together rather than in rounds (the budget and the circuit bound
		// what they cost).
		a.Outbox.Limit(triage.AIConsumer, aiInFlight)
	}
}

// triageInFlight is how many triages may run at once.
const triageInFlight = 32

// aiInFlight is how many AI questions may be out at once.
const aiInFlight = 256

// triages reports whether inc, opened by an alert of integration, is
// triaged, as the configuration in force says: unless its route or the
// integration says triage: false.
func (a *App) triages(inc incident.Incident, integration string) bool {
	route, in := triageSettingsOf(a.Live(), inc.Route, integration)
	return (route.Triage == nil || *route.Triage) && (in == nil || in.Triage == nil || *in.Triage)
}

// triageSourcesOf returns the sources the triage of inc, opened by an
// alert of integration, is limited to, as the configuration in force
// says: its route's list, the integration's, or the sources on both when
// both have one; nil for all.
func (a *App) triageSourcesOf(inc incident.Incident, integration string) []string {
	route, in := triageSettingsOf(a.Live(), inc.Route, integration)
	switch {
	case in == nil || in.TriageSources == nil:
		return route.TriageSources
	case route.TriageSources == nil:
		return in.TriageSources
	}
	both := []string{}
	for _, s := range route.TriageSources {
		if slices.Contains(in.TriageSources, s) {
			both = append(both, s)
		}
	}
	return both
}

// triageSettingsOf finds the route of that name (the default route when
// it is gone) and the integration (nil when none is configured by that
// name) in live.
func triageSettingsOf(live *config.Config, routeName, integration string) (config.Route, *config.Integration) {
	route := live.DefaultRoute
	for _, r := range live.Routes {
		if r.Name == routeName {
			route = r
			break
		}
	}
	for i := range live.Integrations {
		if live.Integrations[i].Name == integration {
			return route, &live.Integrations[i]
		}
	}
	return route, nil
}

// TriageOf returns incident id's triage, nil when it has none.
func (a *App) TriageOf(ctx context.Context, id int64) (*triage.Report, error) {
	return triage.Load(ctx, a.Store.Read(), id)
}
