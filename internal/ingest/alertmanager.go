package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// amEnvelope is the part of an Alertmanager webhook body the bot uses. Fields
// it does not use (version, groupKey, receiver, groupLabels, commonLabels,
// externalURL, ...) are deliberately not declared: senders disagree on their
// types (prometheus_bot's numeric groupKey overflows uint64), and a field that
// is not declared cannot fail decoding. T is the alert type, so Grafana can
// decode its extra per-alert fields in the same single pass.
type amEnvelope[T any] struct {
	Status          string `json:"status"`
	Alerts          []T    `json:"alerts"`
	TruncatedAlerts int    `json:"truncatedAlerts"`
	// Labels is only looked at to recognize a single alert object posted
	// without its envelope, a mistake common with older integrations.
	Labels json.RawMessage `json:"labels"`
}

// amAlert is one entry of an Alertmanager "alerts" array.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     jsonTime          `json:"startsAt"`
	EndsAt       jsonTime          `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// decodeAlertmanager decodes a Prometheus Alertmanager webhook body (version
// "4"; "3" and unversioned senders decode the same) into one Alert per entry
// of its "alerts" array, in order and without deduplication.
//
// An alert without a status takes the envelope's, and firing when neither
// has one. A firing alert never keeps endsAt; a resolved one without endsAt
// ends at opts.Now, and an alert without startsAt starts then. An alert
// must have at least one label, as Alertmanager's own API demands. The
// fingerprint defaults to LabelsFingerprint of the labels; the severity comes
// from the "severity" or else the "priority" label; the summary is the
// "summary" or "title" annotation, else "<alertname> on <instance>", else
// "alert <fingerprint>"; generatorURL is the source link when it is an
// absolute http(s) URL. Unknown fields are ignored.
func decodeAlertmanager(body []byte, opts Options) (Batch, error) {
	const what = "an Alertmanager webhook envelope (a JSON object with an \"alerts\" array)"
	if err := checkObjectBody(body, what); err != nil {
		return Batch{}, err
	}
	var env amEnvelope[amAlert]
	if err := unmarshal(body, &env); err != nil {
		return Batch{}, envelopeDecodeError[amAlert](body, err, what)
	}
	return env.toBatch(opts, what, func(a *amAlert, i int, st Status) (Alert, error) {
		return a.toAlert(i, st, opts, a.GeneratorURL)
	})
}

// toBatch validates the envelope and converts every alert with conv, which
// receives the status an alert without its own status inherits.
func (e *amEnvelope[T]) toBatch(opts Options, what string, conv func(a *T, i int, fallback Status) (Alert, error)) (Batch, error) {
	if e.Alerts == nil {
		// encoding/json leaves the slice nil for both a missing key and
		// null, and makes it non-nil for [], which is a valid empty batch.
		if len(e.Labels) > 0 {
			return Batch{}, &FieldError{Msg: "body looks like a single alert object; it must be " + what}
		}
		return Batch{}, &FieldError{Field: "alerts", Msg: "missing; the body must be " + what}
	}
	if e.TruncatedAlerts < 0 {
		return Batch{}, &FieldError{Field: "truncatedAlerts", Msg: fmt.Sprintf("must not be negative, got %d", e.TruncatedAlerts)}
	}
	fallback := StatusFiring
	if e.Status != "" {
		st, ok := parseStatus(e.Status)
		if !ok {
			return Batch{}, &FieldError{Field: "status", Msg: `must be "firing" or "resolved", got ` + quoteShort(e.Status)}
		}
		fallback = st
	}
	b := Batch{Alerts: make([]Alert, 0, len(e.Alerts)), Truncated: e.TruncatedAlerts, shape: amShape}
	for i := range e.Alerts {
		a, err := conv(&e.Alerts[i], i, fallback)
		if err != nil {
			return Batch{}, err
		}
		b.Alerts = append(b.Alerts, a)
	}
	return b, nil
}

// toAlert normalizes one Alertmanager-style alert. i is its index in the
// body, for error paths. urls are the candidate source links, best first.
func (a *amAlert) toAlert(i int, fallback Status, opts Options, urls ...string) (Alert, error) {
	status := fallback
	if a.Status != "" {
		st, ok := parseStatus(a.Status)
		if !ok {
			return Alert{}, &FieldError{Field: indexPath("alerts", i, "status"), Msg: `must be "firing" or "resolved", got ` + quoteShort(a.Status)}
		}
		status = st
	}
	if err := a.StartsAt.check("alerts", i, "startsAt"); err != nil {
		return Alert{}, err
	}
	if err := a.EndsAt.check("alerts", i, "endsAt"); err != nil {
		return Alert{}, err
	}
	if len(a.Labels) == 0 {
		// Alertmanager's own API refuses such an alert ("at least one
		// label pair required"), Grafana always sets alertname, and an
		// alert without labels can be neither routed nor named.
		return Alert{}, &FieldError{Field: indexPath("alerts", i, "labels"), Msg: "must not be empty: an alert needs at least one label, such as alertname"}
	}

	out := Alert{
		Fingerprint: a.Fingerprint,
		Status:      status,
		Labels:      nonNilMap(a.Labels),
		Annotations: nonNilMap(a.Annotations),
		StartsAt:    a.StartsAt.t,
		SourceURL:   firstHTTPURL(urls...),
	}
	if strings.TrimSpace(out.Fingerprint) == "" {
		out.Fingerprint = LabelsFingerprint(out.Labels)
	}
	if out.StartsAt.IsZero() {
		out.StartsAt = opts.Now
	}
	// Alertmanager puts a future endsAt on firing alerts as an expiry
	// deadline; it is not an end, so only resolved alerts keep theirs.
	if status == StatusResolved {
		out.EndsAt = a.EndsAt.t
		if out.EndsAt.IsZero() {
			out.EndsAt = opts.Now
		}
	}
	out.Severity = severityFromLabels(out.Labels, opts.DefaultSeverity, "severity", "priority")
	out.Summary = amSummary(out.Labels, out.Annotations, out.Fingerprint)
	return out, nil
}

// amSummary picks the one-line description of an Alertmanager-style alert.
func amSummary(labels, annotations map[string]string, fingerprint string) string {
	for _, k := range [...]string{"summary", "title"} {
		if s := summaryText(annotations[k]); s != "" {
			return s
		}
	}
	if name := strings.TrimSpace(labels["alertname"]); name != "" {
		if inst := strings.TrimSpace(labels["instance"]); inst != "" {
			return summaryText(name + " on " + inst)
		}
		return summaryText(name)
	}
	return summaryText("alert " + fingerprint)
}

// envelopeDecodeError reports a failed json.Unmarshal of an envelope. The
// type errors of encoding/json carry a path without array indices
// ("alerts.labels"), which does not tell a sender which of fifty alerts is
// wrong, so on this error path only the alerts are decoded again one by one
// to find the index.
func envelopeDecodeError[T any](body []byte, err error, what string) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return mapDecodeError(err, "", what)
	}
	if f := stripEmbedded(te.Field); f != "alerts" && !strings.HasPrefix(f, "alerts.") {
		return mapDecodeError(err, "", what)
	}
	var raw struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return &FieldError{Field: "alerts", Msg: fmt.Sprintf("expected an array of alert objects, got %s (at byte offset %d)", te.Value, byteOffset(te.Offset))}
	}
	for i, r := range raw.Alerts {
		var a T
		if err := json.Unmarshal(r, &a); err != nil {
			var ite *json.UnmarshalTypeError
			if errors.As(err, &ite) {
				// The first failing alert holds the first error of the
				// whole body, so the outer offset still applies.
				return typeFieldError(ite, indexPath("alerts", i, ""), te.Offset)
			}
			return mapDecodeError(err, indexPath("alerts", i, ""), what)
		}
	}
	return typeFieldError(te, "", te.Offset)
}
