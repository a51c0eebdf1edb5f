// Package ingest turns the webhook bodies of monitoring systems into one
// normalized Alert shape. Decoders are pure functions of the body: they do no
// I/O, keep no state and never panic on hostile input, so the HTTP layer can
// run them on the request goroutine before anything touches the database.
package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Status is whether an alert is currently firing.
type Status string

// The two states every source is reduced to.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Severity orders alerts by urgency. The zero value is SeverityNone, and a
// larger value is more urgent, so severities compare with < and >.
type Severity uint8

// The five severities of the bot, least urgent first.
const (
	SeverityNone Severity = iota
	SeverityNotice
	SeverityWarning
	SeverityError
	SeverityCritical
)

var severityNames = [...]string{"none", "notice", "warning", "error", "critical"}

// String returns the canonical lower-case name.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText encodes the canonical name, so JSON and YAML show "critical".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the canonical names and the aliases of ParseSeverity.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q (want one of critical, error, warning, notice, none)", b)
	}
	*s = v
	return nil
}

// severityAliases maps the words monitoring systems use to our five levels.
// Zabbix names its levels Not classified, Information, Warning, Average, High
// and Disaster; PagerDuty and Opsgenie use P1..P5; people write sev1..sev4.
var severityAliases = map[string]Severity{
	"critical": SeverityCritical, "crit": SeverityCritical, "fatal": SeverityCritical,
	"emergency": SeverityCritical, "emerg": SeverityCritical, "disaster": SeverityCritical,
	"page": SeverityCritical, "p1": SeverityCritical, "sev1": SeverityCritical,
	"error": SeverityError, "err": SeverityError, "high": SeverityError,
	"major": SeverityError, "p2": SeverityError, "sev2": SeverityError,
	"warning": SeverityWarning, "warn": SeverityWarning, "average": SeverityWarning,
	"medium": SeverityWarning, "minor": SeverityWarning, "p3": SeverityWarning, "sev3": SeverityWarning,
	"notice": SeverityNotice, "info": SeverityNotice, "information": SeverityNotice,
	"informational": SeverityNotice, "low": SeverityNotice, "p4": SeverityNotice,
	"p5": SeverityNotice, "sev4": SeverityNotice, "sev5": SeverityNotice,
	"none": SeverityNone, "not classified": SeverityNone, "unknown": SeverityNone, "ok": SeverityNone,
}

// ParseSeverity maps a severity word from any supported source, ignoring case
// and surrounding space. It reports false for words it does not know.
func ParseSeverity(s string) (Severity, bool) {
	v, ok := severityAliases[strings.ToLower(strings.TrimSpace(s))]
	return v, ok
}

// Alert is one alert from any source, normalized. It is the only thing the
// rest of the bot sees of a webhook.
type Alert struct {
	// Fingerprint identifies the alert across notifications from one
	// integration: a refire or a resolve of the same problem carries the
	// same fingerprint. Never empty after decoding.
	Fingerprint string
	Status      Status
	// Severity is the source's severity, or the integration's default when
	// the source gives none. Routes may cap it later.
	Severity    Severity
	Summary     string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	// EndsAt is set for resolved alerts; zero for firing ones.
	EndsAt time.Time
	// SourceURL links back to the alert in the monitoring system.
	SourceURL string
}

// Batch is what a decoder made of one webhook body.
type Batch struct {
	Alerts []Alert
	// Truncated counts alerts the sender says it left out of the body
	// (Alertmanager's and Grafana's truncatedAlerts).
	Truncated int
	// Ignored counts entries that were valid but carry nothing to act on,
	// such as a Grafana legacy "pending" or "paused" notification.
	Ignored int

	// shape, set by the decoder, says where the alerts' parts were in
	// the body, for the errors of the limits (see checkLimits).
	shape shape
}

// FieldError is a client error that names the offending part of the body.
// The HTTP layer answers it with 400 and the field in the JSON error.
type FieldError struct {
	// Field is a path into the body such as "alerts[2].labels", or "" when
	// the whole body is at fault (not JSON, wrong shape).
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// LabelsFingerprint derives a stable fingerprint from a label set when the
// source gives none: a hash of the sorted name/value pairs, so the same
// labels always give the same fingerprint whatever their order in the body.
func LabelsFingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		// 0xff cannot occur in valid UTF-8, so it separates unambiguously.
		h.Write([]byte(n))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[n]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
