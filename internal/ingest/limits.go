package ingest

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits on one decoded alert, whatever its source. The body limit of the
// HTTP layer (1 MiB) bounds a request, not an alert: without these, one
// alert could carry 30,000 labels or a 1 MiB value, stored and then shown in
// every room, card and page that lists its labels. They are checked by
// Decode on the normalized alerts, so every decoder is held to the same
// numbers, and a body with one alert over a limit is refused whole (400)
// before anything of it is stored.
//
// Lengths are in bytes of UTF-8, as Prometheus counts them. The numbers
// follow what monitoring systems themselves accept, with room to spare:
// Prometheus' scrape settings label_limit, label_name_length_limit and
// label_value_length_limit are off by default, and the limits commonly set
// in front of it are Grafana Mimir's (and Grafana Cloud's): 30 label names
// per series, 1024 bytes per name, 2048 per value. An alert's labels are a
// series' labels plus the rule's and Prometheus' external labels.
const (
	// MaxLabelsPerAlert is four times Mimir's 30 labels per series, so
	// an alert on a wide series, with its rule's and external labels, fits.
	MaxLabelsPerAlert = 128
	// MaxLabelNameBytes is Mimir's max_label_name_length.
	MaxLabelNameBytes = 1024
	// MaxLabelValueBytes is Mimir's max_label_value_length. A Zabbix
	// trigger or a Grafana rule name, which become labels, fits as well.
	MaxLabelValueBytes = 2048
	// MaxAnnotationsPerAlert matches labels: annotations are a label-shaped
	// map in Prometheus rules, where an alert has a handful (summary,
	// description, runbook_url, Grafana's __dashboardUid__ and friends).
	MaxAnnotationsPerAlert = 128
	// MaxAnnotationNameBytes matches labels: Prometheus names annotations
	// as it names labels.
	MaxAnnotationNameBytes = MaxLabelNameBytes
	// MaxAnnotationValueBytes is free text: a templated description with a
	// table of values, or a Zabbix message, fits several times over, a log
	// dump does not. Chat shows much less (a Slack section holds 3,000
	// characters, a Telegram message 4,096).
	MaxAnnotationValueBytes = 16 << 10
	// MaxFingerprintBytes bounds the identity a sender chooses (the
	// generic format's dedup_key, Zabbix's alert_uid or event id,
	// Alertmanager's fingerprint, 16 hex digits): PagerDuty's Events API
	// takes dedup keys of up to 255 characters.
	MaxFingerprintBytes = 255
	// MaxSourceURLBytes bounds the link back to the source. Servers and
	// proxies commonly refuse request lines past 8 KiB, so a longer link
	// would not open. Where a link is an optional extra of the source
	// (Alertmanager's generatorURL, Grafana's panel and dashboard links,
	// Zabbix's link), one too long is left out as an unusable one is; the
	// generic format, whose link is the sender's own choice, refuses it.
	MaxSourceURLBytes = 8 << 10
)

// shape says where in a body its alerts' parts were written, so that an
// error of the limits names the field the sender wrote rather than the
// normalized Alert's. Every decoder sets it on the Batch it returns; it is
// a comparable description of the format, not of one body's content.
type shape struct {
	// single is set when the body is one alert; otherwise the alerts are
	// the elements of array ("alerts"; "" for a top-level array).
	single bool
	array  string
	// labels and annotations name the member holding each map ("labels",
	// "tags"); "" when every entry is built from a member of its own.
	labels, annotations string
	// labelMembers and annotationMembers name the member an entry built
	// from a single member came from: Zabbix's alertname label is its
	// "title". They take precedence over labels and annotations.
	labelMembers, annotationMembers map[string]string
	// fingerprint names the member the fingerprint came from; a derived
	// fingerprint (a hash) never breaks the limit.
	fingerprint string
}

// amShape is the shape of Alertmanager's envelope and of Grafana's unified
// alerting one.
var amShape = shape{array: "alerts", labels: "labels", annotations: "annotations", fingerprint: "fingerprint"}

// prefix is the path of alert i in the body: "alerts[3]", "[3]" or "".
func (s *shape) prefix(i int) string {
	if s.single {
		return ""
	}
	return indexPath(s.array, i, "")
}

// mapField is the path of entry name of a map, the map's own path when
// name is not an identifier (a dotted path would misread it) or is "".
func mapField(prefix, member, name string) string {
	field := joinPath(prefix, member)
	if name == "" || !isIdentifier(name) {
		return field
	}
	return field + "." + name
}

// isIdentifier reports whether s is a Prometheus-style label name.
func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

// mapLimits are the limits of one of an alert's two maps.
type mapLimits struct {
	entry                     string // "label", "annotation"
	maxCount, maxName, maxVal int
}

var (
	labelLimits      = mapLimits{"label", MaxLabelsPerAlert, MaxLabelNameBytes, MaxLabelValueBytes}
	annotationLimits = mapLimits{"annotation", MaxAnnotationsPerAlert, MaxAnnotationNameBytes, MaxAnnotationValueBytes}
)

// checkLimits refuses the batch at its first alert over a limit, naming
// the limit, the field and the alert. Alerts are checked in body order and,
// within one, the entries over a limit in name order, so the answer to a
// body does not change with Go's map order.
func (b *Batch) checkLimits() error {
	s := &b.shape
	for i := range b.Alerts {
		a := &b.Alerts[i]
		if err := s.checkMap(a, i, a.Labels, labelLimits, s.labels, s.labelMembers); err != nil {
			return err
		}
		if err := s.checkMap(a, i, a.Annotations, annotationLimits, s.annotations, s.annotationMembers); err != nil {
			return err
		}
		if n := len(a.Fingerprint); n > MaxFingerprintBytes {
			member := s.fingerprint
			if member == "" {
				member = "fingerprint" // a decoder that derives it never gets here
			}
			return s.refuse(a, i, joinPath(s.prefix(i), s.fingerprint), fmt.Sprintf(
				"%s is %d bytes long; the limit is %d bytes for the key that identifies an alert", member, n, MaxFingerprintBytes))
		}
	}
	return nil
}

// checkMap applies limits l to m, one of alert i's maps, which the body
// holds in member (or, entry by entry, in members).
func (s *shape) checkMap(a *Alert, i int, m map[string]string, l mapLimits, member string, members map[string]string) error {
	prefix := s.prefix(i)
	if len(m) > l.maxCount {
		return s.refuse(a, i, joinPath(prefix, member), fmt.Sprintf(
			"%d %ss; the limit is %d %ss per alert", len(m), l.entry, l.maxCount, l.entry))
	}
	// The common case, nothing over a limit, is one pass without
	// allocating; only a refused alert pays for finding its first name.
	var longName, longValue string
	var nameOver, valueOver bool
	for name, v := range m {
		if len(name) > l.maxName && (!nameOver || name < longName) {
			longName, nameOver = name, true
		}
		if len(v) > l.maxVal && (!valueOver || name < longValue) {
			longValue, valueOver = name, true
		}
	}
	switch {
	case nameOver:
		return s.refuse(a, i, joinPath(prefix, member), fmt.Sprintf(
			"a %s name of %d bytes (%s); the limit is %d bytes per %s name", l.entry, len(longName), quoteShort(longName), l.maxName, l.entry))
	case valueOver:
		n := len(m[longValue])
		if from, ok := members[longValue]; ok {
			// Built from a member of its own: name that member, and
			// what it becomes when its name differs.
			becomes := ""
			if from != longValue {
				becomes = " and becomes " + l.entry + " " + quoteShort(longValue)
			}
			return s.refuse(a, i, joinPath(prefix, from), fmt.Sprintf(
				"%s is %d bytes long%s; the limit is %d bytes per %s value", from, n, becomes, l.maxVal, l.entry))
		}
		return s.refuse(a, i, mapField(prefix, member, longValue), fmt.Sprintf(
			"%s %s is %d bytes long; the limit is %d bytes per %s value", l.entry, quoteShort(longValue), n, l.maxVal, l.entry))
	}
	return nil
}

// refuse builds the error for alert i over a limit.
func (s *shape) refuse(a *Alert, i int, field, what string) error {
	if s.single {
		i = -1
	}
	return limitError(i, a.Labels, a.Summary, field, what)
}

// limitError is the error for the alert at index i of the body (-1 when
// the body is the alert) over a limit: it names the alert by index and
// alertname (or summary, for sources without one), then what is wrong.
func limitError(i int, labels map[string]string, summary, field, what string) error {
	who := "the alert"
	if i >= 0 {
		who = "alert " + strconv.Itoa(i)
	}
	if name := strings.TrimSpace(labels["alertname"]); name != "" {
		who += " (alertname " + quoteShort(name) + ")"
	} else if summary != "" {
		who += " (" + quoteShort(summary) + ")"
	}
	return &FieldError{Field: field, Msg: who + ": " + what + "; nothing of this body was stored"}
}
