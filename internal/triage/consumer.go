package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// Consumer is the outbox consumer that triages new incidents: it hears of
// each incident.triggered event after the page went out, runs the
// sources, keeps the report and says its summary on the incident's
// timeline (KindTriaged), which the rooms show like any other line.
const Consumer = "triage"

// KindTriaged is the timeline entry of a triage: its summary.
const KindTriaged = incident.KindTriaged

// AIConsumer is the outbox consumer that asks the AI about a triaged
// incident, once its rule-based summary is in the room: the summary never
// waits for a model, and the question has a delivery of its own (its own
// time, its own retries).
const AIConsumer = "triage:ai"

// KindTriageAI is the timeline entry of the AI's analysis, or of why
// there is none.
const KindTriageAI = incident.KindTriageAI

// Incidents is what triage needs of incidents.
type Incidents interface {
	Incident(ctx context.Context, id int64) (incident.Incident, error)
	ListAlerts(ctx context.Context, id int64, p incident.Page) (incident.AlertPage, error)
	// RecordPrompt puts the summary on the timeline, to reach the rooms at once.
	RecordPrompt(tx *store.Tx, id int64, kind, actor, detail string) error
}

// Triager triages incidents as the outbox hands their opening over.
type Triager struct {
	Runner    Runner
	Store     *store.Store
	Incidents Incidents
	// Enabled says whether a new incident is triaged (its route's or its
	// integration's triage: false turns it off); integration is that of
	// the alert that opened it. Nil triages every incident.
	Enabled func(inc incident.Incident, integration string) bool
	// Metrics, when set, hears how each triage went.
	Metrics *Metrics
	// SourcesOf, when set, names the only sources (and "ai") an
	// incident gets, as its route and the integration of the alert that
	// opened it limit them; nil from it means all.
	SourcesOf func(inc incident.Incident, integration string) []string
	// AskAI, when set, queues the AI's question about incident id for
	// AIConsumer, in tx (the triage's own); Runner.AI is then asked
	// there, not in the triage. Without it Runner.AI is asked in line.
	AskAI func(tx *store.Tx, id int64) error
}

// Metrics are the triage's Prometheus metrics.
type Metrics struct {
	// Wait is a new incident's opening to its triage's start: how long
	// triage yielded to rooms and pages (a storm's backlog shows here).
	Wait         prometheus.Histogram
	Duration     prometheus.Histogram
	SourceErrors *prometheus.CounterVec
	AICalls      *prometheus.CounterVec
	AITokens     prometheus.Counter
}

// ObserveAI counts one AI call: its outcome and the tokens it used.
func (m *Metrics) ObserveAI(outcome string, tokens int64) {
	m.AICalls.WithLabelValues(outcome).Inc()
	m.AITokens.Add(float64(tokens))
}

// NewMetrics makes the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bot_triage_wait_seconds",
			Help:    "Time from a new incident's opening to the start of its triage, which yields to rooms and pages.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bot_triage_duration_seconds",
			Help:    "Time a triage took, its sources all answered or timed out.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		SourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_triage_source_errors_total",
			Help: "Triage sources that failed or did not answer in time, by source.",
		}, []string{"source"}),
		AICalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_triage_ai_calls_total",
			Help: "AI analyses asked for, by outcome (ok, error, circuit_open, budget_spent; unrecorded: the day's spending could not be kept).",
		}, []string{"outcome"}),
		AITokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bot_triage_ai_tokens_total",
			Help: "Tokens the AI endpoint reported using.",
		}),
	}
	reg.MustRegister(m.Wait, m.Duration, m.SourceErrors, m.AICalls, m.AITokens)
	return m
}

// Deliver triages the incident an event names.
func (t *Triager) Deliver(ctx context.Context, m outbox.Message) error {
	var ev incident.EventPayload
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		return outbox.Permanent(fmt.Errorf("decode event %d: %w", m.ID, err))
	}
	id := ev.Incident.ID
	if ev.Incident.ParentID != 0 {
		// In a storm: the storm incident is triaged, not each of its
		// thousands (which would spend the AI's budget on one outage);
		// /oncall triage still digs into one of them.
		return nil
	}
	_, err := t.run(ctx, id, true)
	return err
}

// Triage runs the triage of incident id now (/oncall triage, where
// asking is the setting), keeps it and says it on the timeline.
func (t *Triager) Triage(ctx context.Context, id int64) (Report, error) {
	return t.run(ctx, id, false)
}

// run triages incident id; when asEnabled, only if Enabled says so (a
// zero report otherwise).
func (t *Triager) run(ctx context.Context, id int64, asEnabled bool) (Report, error) {
	inc, err := t.Incidents.Incident(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("triage incident %d: %w", id, err)
	}
	// The first alerts tell what fired; a storm's thousands add nothing.
	alerts, err := t.Incidents.ListAlerts(ctx, id, incident.Page{Limit: 100})
	if err != nil {
		return Report{}, fmt.Errorf("triage incident %d: %w", id, err)
	}
	integration := ""
	if len(alerts.Alerts) > 0 {
		integration = alerts.Alerts[0].Integration
	}
	if asEnabled && t.Enabled != nil && !t.Enabled(inc, integration) {
		return Report{}, nil
	}
	if m := t.Metrics; m != nil && asEnabled && t.Runner.Now != nil {
		m.Wait.Observe(max(t.Runner.Now().Sub(inc.CreatedAt), 0).Seconds())
	}
	runner := t.runnerFor(inc, integration)
	ask := runner.AI != nil && t.AskAI != nil
	if ask {
		runner.AI = nil // asked after, by AIConsumer
	}
	start := time.Now()
	rep := runner.Run(ctx, incident.Detail{Incident: inc, Alerts: alerts.Alerts})
	if m := t.Metrics; m != nil {
		m.Duration.Observe(time.Since(start).Seconds())
		for _, s := range rep.Sources {
			if !s.OK {
				m.SourceErrors.WithLabelValues(s.Name).Inc()
			}
		}
	}
	err = t.Store.Write(ctx, func(tx *store.Tx) error {
		if err := Save(tx, id, rep); err != nil {
			return err
		}
		if err := Index(tx, inc); err != nil {
			return err
		}
		if err := t.Incidents.RecordPrompt(tx, id, KindTriaged, "bot", rep.Line()); err != nil {
			return err
		}
		if ask {
			return t.AskAI(tx, id)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

// runnerFor is the runner with the sources inc gets.
func (t *Triager) runnerFor(inc incident.Incident, integration string) Runner {
	if t.SourcesOf != nil {
		if only := t.SourcesOf(inc, integration); only != nil {
			return t.Runner.Only(only)
		}
	}
	return t.Runner
}

// AIPhase is AIConsumer: it asks the AI about an incident whose triage
// is kept, adds the answer to the triage and says it on the timeline (so
// in the rooms). An AI that fails or declines (its circuit open, the
// day's budget spent) is said there too, and not retried: the rule-based
// summary stands.
func (t *Triager) AIPhase() outbox.Consumer { return aiPhase{t} }

type aiPhase struct{ t *Triager }

// AIRequest is the payload of an AIConsumer delivery.
type AIRequest struct {
	Incident int64 `json:"incident"`
}

func (p aiPhase) Deliver(ctx context.Context, m outbox.Message) error {
	t := p.t
	var req AIRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		return outbox.Permanent(fmt.Errorf("decode AI request %d: %w", m.ID, err))
	}
	id := req.Incident
	rep, err := Load(ctx, t.Store.Read(), id)
	if err != nil {
		return err
	}
	if rep == nil || t.Runner.AI == nil {
		return nil // nothing to ask about, or no AI any more
	}
	inc, err := t.Incidents.Incident(ctx, id)
	if err != nil {
		return fmt.Errorf("ask the AI about incident %d: %w", id, err)
	}
	alerts, err := t.Incidents.ListAlerts(ctx, id, incident.Page{Limit: 100})
	if err != nil {
		return fmt.Errorf("ask the AI about incident %d: %w", id, err)
	}
	start := time.Now()
	ai, aerr := t.Runner.AI.Analyze(ctx, incident.Detail{Incident: inc, Alerts: alerts.Alerts}, *rep)
	if aerr != nil && ctx.Err() != nil {
		return aerr // shutting down: ask again after the restart
	}
	res := SourceResult{Name: "ai", OK: aerr == nil, DurationMS: time.Since(start).Milliseconds()}
	line := ""
	if aerr != nil {
		res.Error = aerr.Error()
		rep.Status = "partial"
		line = "not available: " + aerr.Error() + ". The summary above stands."
		if t.Metrics != nil {
			t.Metrics.SourceErrors.WithLabelValues("ai").Inc()
		}
	} else {
		rep.AI = ai
		line = ai.Text()
	}
	rep.Sources = append(slicesWithout(rep.Sources, "ai"), res)
	return t.Store.Write(ctx, func(tx *store.Tx) error {
		if err := Save(tx, id, *rep); err != nil {
			return err
		}
		return t.Incidents.RecordPrompt(tx, id, KindTriageAI, "bot", line)
	})
}

// slicesWithout drops the results of the source named name (an earlier
// AI answer, when the triage runs again).
func slicesWithout(rs []SourceResult, name string) []SourceResult {
	out := rs[:0:0]
	for _, r := range rs {
		if r.Name != name {
			out = append(out, r)
		}
	}
	return out
}

// Retriage runs the triage of incident id again, for /oncall triage, and
// returns its summary.
func (t *Triager) Retriage(ctx context.Context, id int64) (string, error) {
	rep, err := t.Triage(ctx, id)
	return rep.Summary, err
}
