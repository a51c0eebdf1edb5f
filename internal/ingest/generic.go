package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxGenericAlerts bounds one generic body, so that a runaway script cannot
// open a thousand incidents with one request.
const maxGenericAlerts = 1000

// genericAlert is one alert of the bot's own format; see decodeGeneric.
type genericAlert struct {
	Title     string            `json:"title"`
	Message   string            `json:"message"`
	Severity  string            `json:"severity"`
	DedupKey  string            `json:"dedup_key"`
	Status    string            `json:"status"`
	Labels    map[string]string `json:"labels"`
	Link      string            `json:"link"`
	StartedAt string            `json:"started_at"`
}

// genericObjectShape and genericArrayShape say where toAlert takes an
// alert's parts from, in a body of one alert and in an array.
var (
	genericObjectShape = shape{single: true, labels: "labels",
		annotationMembers: map[string]string{"message": "message"}, fingerprint: "dedup_key"}
	genericArrayShape = shape{labels: "labels",
		annotationMembers: map[string]string{"message": "message"}, fingerprint: "dedup_key"}
)

// genericTitleLabel is the extra entry under which the title joins the labels
// when a default dedup key is derived. Prometheus reserves names starting
// with "__", so real label sets do not use it.
const genericTitleLabel = "__title__"

// decodeGeneric decodes the bot's own webhook format, meant for scripts and
// tools that have no native integration.
//
// The body is either one alert object or a JSON array of 0 to 1000 alert
// objects. An alert object has these members; all are optional except title:
//
//	title       string, required, not blank. Becomes the summary, cut to
//	            500 characters.
//	message     string. Longer text, kept as the "message" annotation:
//	            at most 16 KiB.
//	severity    string, one of critical, error, warning, notice, none or an
//	            alias such as crit, fatal, high, major, medium, minor, info,
//	            low, p1..p5, sev1..sev5, Zabbix's Disaster/High/Average/
//	            Warning/Information/Not classified (any case). Missing or
//	            empty means the integration's default severity; an unknown
//	            word is an error.
//	dedup_key   string. Identifies the problem: a later alert with the same
//	            key updates or resolves it. Missing or blank means a key
//	            derived from labels and title: LabelsFingerprint of labels
//	            plus an entry "__title__" holding title. At most 255
//	            bytes.
//	status      string: "firing", "triggered" or "trigger" for a problem
//	            (the default when missing or empty); "resolved", "resolve"
//	            or "ok" to resolve it. Any case. Anything else is an error.
//	labels      object whose values are all strings. Used for routing.
//	            At most 128 labels, names of at most 1024 bytes, values
//	            of at most 2048.
//	link        string, an absolute http or https URL back to the source,
//	            of at most 8 KiB. Anything else, apart from "", is an
//	            error.
//	started_at  string, an RFC 3339 timestamp such as
//	            "2024-05-01T12:00:00Z" or "2024-05-01T14:00:00.5+02:00".
//	            Missing or empty means the time the bot received the alert.
//
// A resolved alert ends at the time the bot received it. Members not listed
// are ignored, and JSON null counts as missing. Errors name the member:
// "severity" for a single object, "[3].severity" for the fourth element of
// an array. The sizes above are the limits of every source (see
// MaxLabelsPerAlert); one alert over a limit refuses the whole body.
//
// Example:
//
//	{"title": "Backup failed on db1", "severity": "error",
//	 "dedup_key": "backup-db1", "labels": {"team": "storage"},
//	 "link": "https://ci.example.com/jobs/42"}
func decodeGeneric(body []byte, opts Options) (Batch, error) {
	const what = "an alert object or an array of alert objects"
	switch kind := jsonKind(body); kind {
	case "object":
		var g genericAlert
		if err := json.Unmarshal(body, &g); err != nil {
			return Batch{}, mapDecodeError(err, "", what)
		}
		a, err := g.toAlert(-1, opts)
		if err != nil {
			return Batch{}, err
		}
		return Batch{Alerts: []Alert{a}, shape: genericObjectShape}, nil
	case "array":
		// Elements are decoded one by one so a type error can name its
		// index, which encoding/json's paths leave out.
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return Batch{}, mapDecodeError(err, "", what)
		}
		if len(raws) > maxGenericAlerts {
			return Batch{}, &FieldError{Msg: "too many alerts: " + strconv.Itoa(len(raws)) + " in one body, at most " + strconv.Itoa(maxGenericAlerts)}
		}
		b := Batch{Alerts: make([]Alert, 0, len(raws)), shape: genericArrayShape}
		for i, raw := range raws {
			prefix := indexPath("", i, "")
			if k := jsonKind(raw); k != "object" {
				return Batch{}, &FieldError{Field: prefix, Msg: "expected an alert object, got " + k}
			}
			var g genericAlert
			if err := json.Unmarshal(raw, &g); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					// The offset is relative to the element, not the
					// body, so it would mislead.
					return Batch{}, typeFieldError(te, prefix, -1)
				}
				return Batch{}, mapDecodeError(err, prefix, what)
			}
			a, err := g.toAlert(i, opts)
			if err != nil {
				return Batch{}, err
			}
			b.Alerts = append(b.Alerts, a)
		}
		return b, nil
	case "nothing":
		return Batch{}, &FieldError{Msg: "body is empty; want " + what}
	default:
		if !json.Valid(body) {
			return Batch{}, syntaxOrWrap(json.Unmarshal(body, new(any)), what)
		}
		return Batch{}, &FieldError{Msg: "body must be " + what + ", got a JSON " + kind}
	}
}

// toAlert validates one generic alert; i is its index in the body's array,
// -1 when the body is the alert.
func (g *genericAlert) toAlert(i int, opts Options) (Alert, error) {
	prefix := ""
	if i >= 0 {
		prefix = indexPath("", i, "")
	}
	title := strings.TrimSpace(g.Title)
	if title == "" {
		return Alert{}, &FieldError{Field: joinPath(prefix, "title"), Msg: "missing or blank"}
	}

	status := StatusFiring
	switch strings.ToLower(strings.TrimSpace(g.Status)) {
	case "", "firing", "triggered", "trigger":
	case "resolved", "resolve", "ok":
		status = StatusResolved
	default:
		return Alert{}, &FieldError{Field: joinPath(prefix, "status"), Msg: `want "firing" or "resolved", got ` + quoteShort(g.Status)}
	}

	severity := opts.DefaultSeverity
	if strings.TrimSpace(g.Severity) != "" {
		s, ok := ParseSeverity(g.Severity)
		if !ok {
			return Alert{}, &FieldError{Field: joinPath(prefix, "severity"), Msg: "want one of critical, error, warning, notice, none, got " + quoteShort(g.Severity)}
		}
		severity = s
	}

	if n := len(g.Link); n > MaxSourceURLBytes {
		// Other sources' links are extras, left out when unusable; this
		// one is the sender's own choice, so it is refused as the limits
		// refuse (see MaxSourceURLBytes).
		return Alert{}, limitError(i, g.Labels, summaryText(title), joinPath(prefix, "link"),
			fmt.Sprintf("link is %d bytes long; the limit is %d bytes for a link", n, MaxSourceURLBytes))
	}
	if g.Link != "" && !isHTTPURL(g.Link) {
		return Alert{}, &FieldError{Field: joinPath(prefix, "link"), Msg: "want an absolute http or https URL, got " + quoteShort(g.Link)}
	}

	startsAt := opts.Now
	if g.StartedAt != "" {
		var t time.Time
		if err := t.UnmarshalText([]byte(g.StartedAt)); err != nil {
			return Alert{}, &FieldError{Field: joinPath(prefix, "started_at"), Msg: "want an RFC 3339 timestamp such as \"2024-05-01T12:00:00Z\", got " + quoteShort(g.StartedAt)}
		}
		startsAt = t
	}

	labels := nonNilMap(g.Labels)
	fp := g.DedupKey
	if strings.TrimSpace(fp) == "" {
		withTitle := make(map[string]string, len(labels)+1)
		for k, v := range labels {
			withTitle[k] = v
		}
		withTitle[genericTitleLabel] = title
		fp = LabelsFingerprint(withTitle)
	}

	annotations := make(map[string]string, 1)
	if g.Message != "" {
		annotations["message"] = g.Message
	}
	a := Alert{
		Fingerprint: fp,
		Status:      status,
		Severity:    severity,
		Summary:     summaryText(title),
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    startsAt,
		SourceURL:   g.Link,
	}
	if status == StatusResolved {
		a.EndsAt = opts.Now
	}
	return a, nil
}
