package ingest

import (
	"encoding/json"
	"strconv"
	"strings"
)

// grafanaAlert is one alert of a Grafana Alerting (8+) webhook: an
// Alertmanager alert plus links into Grafana. values, valueString,
// silenceURL and imageURL are not declared because nothing downstream uses
// them, and values in particular is null or an object depending on version.
type grafanaAlert struct {
	amAlert
	PanelURL     string `json:"panelURL"`
	DashboardURL string `json:"dashboardURL"`
}

// grafanaEvalMatch is one series that tripped a legacy Grafana rule. Both
// fields are kept raw: value is a number or null, and metric has been seen
// as a number in hand-written senders.
type grafanaEvalMatch struct {
	Value  json.RawMessage `json:"value"`
	Metric json.RawMessage `json:"metric"`
}

// grafanaBody is the union of both Grafana shapes, so that one decoding pass
// serves both and the shape is chosen by which fields came back. Unified
// alerting reuses state, title, message and orgId at the top level with the
// same types as the legacy webhook, so the union has no conflicts.
type grafanaBody struct {
	amEnvelope[grafanaAlert]

	RuleName    string             `json:"ruleName"`
	RuleID      json.RawMessage    `json:"ruleId"`
	RuleURL     string             `json:"ruleUrl"`
	State       string             `json:"state"`
	Title       string             `json:"title"`
	Message     string             `json:"message"`
	EvalMatches []grafanaEvalMatch `json:"evalMatches"`
	Tags        map[string]string  `json:"tags"`
	OrgID       json.RawMessage    `json:"orgId"`
	DashboardID json.RawMessage    `json:"dashboardId"`
	PanelID     json.RawMessage    `json:"panelId"`
}

// decodeGrafana decodes a Grafana webhook body of either generation: the
// unified alerting envelope (Grafana 8 and later), handled by the
// Alertmanager rules with Grafana's panel and dashboard links as further
// source links, or the legacy "old alerting" notification, which describes
// one rule and becomes at most one alert. Every unified alert must carry
// labels, and a legacy notification a ruleName or a title.
func decodeGrafana(body []byte, opts Options) (Batch, error) {
	const what = "a Grafana webhook: an alerting envelope with an \"alerts\" array, or a legacy notification with \"ruleName\""
	if err := checkObjectBody(body, what); err != nil {
		return Batch{}, err
	}
	var g grafanaBody
	if err := unmarshal(body, &g); err != nil {
		return Batch{}, envelopeDecodeError[grafanaAlert](body, err, what)
	}
	if g.Alerts == nil && g.isLegacy() {
		return g.legacyBatch(opts)
	}
	return g.toBatch(opts, what, func(a *grafanaAlert, i int, st Status) (Alert, error) {
		return a.toAlert(i, st, opts, a.GeneratorURL, a.PanelURL, a.DashboardURL)
	})
}

// isLegacy reports whether the body carries a field only the legacy webhook
// has. state, title and message do not count: unified alerting sends them
// too, and a single alert object posted by mistake must not pass as legacy.
func (g *grafanaBody) isLegacy() bool {
	return g.RuleName != "" || g.RuleURL != "" || len(g.RuleID) > 0 || g.EvalMatches != nil
}

// legacyBatch converts a legacy Grafana notification.
func (g *grafanaBody) legacyBatch(opts Options) (Batch, error) {
	var status Status
	noData := false
	switch strings.ToLower(strings.TrimSpace(g.State)) {
	case "alerting":
		status = StatusFiring
	case "no_data":
		status, noData = StatusFiring, true
	case "ok":
		status = StatusResolved
	case "paused", "pending":
		// Grafana reports a rule being paused or waiting out its "for"
		// period; neither is a problem yet, but the body was well formed.
		return Batch{Alerts: []Alert{}, Ignored: 1}, nil
	case "":
		return Batch{}, &FieldError{Field: "state", Msg: "missing; want one of alerting, no_data, ok, paused, pending"}
	default:
		return Batch{}, &FieldError{Field: "state", Msg: "want one of alerting, no_data, ok, paused, pending, got " + quoteShort(g.State)}
	}

	ids := map[string]string{"alertname": g.RuleName}
	for _, id := range [...]struct {
		field, label string
		raw          json.RawMessage
	}{
		{"orgId", "grafana_org", g.OrgID},
		{"dashboardId", "grafana_dashboard", g.DashboardID},
		{"panelId", "grafana_panel", g.PanelID},
		{"ruleId", "grafana_rule_id", g.RuleID},
	} {
		v, ok := scalarText(id.raw)
		if !ok {
			return Batch{}, &FieldError{Field: id.field, Msg: "expected a number or a string, got " + jsonKind(id.raw)}
		}
		ids[id.label] = v
	}

	if strings.TrimSpace(g.RuleName) == "" && strings.TrimSpace(g.Title) == "" {
		// Grafana always names the rule; without a name or a title the
		// incident would have none either.
		return Batch{}, &FieldError{Field: "ruleName", Msg: "missing, and so is title; a legacy Grafana notification names its rule"}
	}

	labels := nonNilMap(g.Tags)
	if g.RuleName != "" {
		labels["alertname"] = g.RuleName
	}
	annotations := make(map[string]string, 4)
	if g.Message != "" {
		annotations["message"] = g.Message
	}
	if g.Title != "" {
		annotations["title"] = g.Title
	}
	if noData {
		annotations["state"] = "no_data"
	}
	if len(g.EvalMatches) > 0 {
		annotations["eval_matches"] = renderEvalMatches(g.EvalMatches)
	}

	a := Alert{
		Fingerprint: LabelsFingerprint(ids),
		Status:      status,
		Severity:    severityFromLabels(labels, opts.DefaultSeverity, "severity"),
		Summary:     summaryText(g.Title),
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    opts.Now,
		SourceURL:   firstHTTPURL(g.RuleURL),
	}
	if a.Summary == "" {
		a.Summary = summaryText(g.RuleName)
	}
	if a.Summary == "" {
		a.Summary = "alert " + a.Fingerprint
	}
	if status == StatusResolved {
		a.EndsAt = opts.Now
	}
	return Batch{Alerts: []Alert{a}, shape: grafanaLegacyShape}, nil
}

// grafanaLegacyShape says where legacyBatch takes an alert's parts from.
var grafanaLegacyShape = shape{single: true, labels: "tags",
	labelMembers:      map[string]string{"alertname": "ruleName"},
	annotationMembers: map[string]string{"message": "message", "title": "title", "state": "state", "eval_matches": "evalMatches"}}

// maxEvalMatchesShown keeps the eval_matches annotation to one readable
// line; a rule over a wide query can match hundreds of series.
const maxEvalMatchesShown = 10

// renderEvalMatches writes "metric=value" pairs, for example
// "High value=100, Higher Value=200".
func renderEvalMatches(ms []grafanaEvalMatch) string {
	var sb strings.Builder
	for i, m := range ms {
		if i == maxEvalMatchesShown {
			sb.WriteString(", and ")
			sb.WriteString(strconv.Itoa(len(ms) - i))
			sb.WriteString(" more")
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		if metric, ok := scalarText(m.Metric); ok && metric != "" {
			sb.WriteString(metric)
			sb.WriteByte('=')
		}
		value, ok := scalarText(m.Value)
		switch kind := jsonKind(m.Value); {
		case !ok:
			// A kind Grafana never sends: name it rather than drop the
			// match.
			value = kind
		case kind == "null" || kind == "nothing":
			// Grafana sends null when the series had no data point.
			value = "null"
		}
		sb.WriteString(value)
	}
	return truncateRunes(sb.String(), maxSummaryRunes)
}
