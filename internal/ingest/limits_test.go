package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// jsonText encodes v for a body under construction.
func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// manyEntries returns n entries "<prefix>0".."<prefix>n-1", each valued v.
func manyEntries(prefix string, n int, v string) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprint(prefix, i)] = v
	}
	return m
}

// with returns m with more entries.
func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// amBody is an Alertmanager (or Grafana unified) body of a good alert
// followed by one named Big with the given parts.
func amBody(t *testing.T, labels, annotations map[string]string, extra map[string]any) string {
	t.Helper()
	big := map[string]any{"labels": with(labels, "alertname", "Big"), "annotations": annotations}
	for k, v := range extra {
		big[k] = v
	}
	return jsonText(t, map[string]any{"alerts": []any{
		map[string]any{"labels": map[string]string{"alertname": "Fine"}},
		big,
	}})
}

// Every limit of one alert, for every source: at the limit the body is
// taken, one past it the whole body is refused with an error naming the
// limit, the field the sender wrote and the alert.
func TestLimitsOfOneAlert(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	type tc struct {
		name   string
		format string
		body   string
		// field and fragments of the error; field "-" means the body
		// must be taken.
		field     string
		fragments []string
	}
	var tests []tc
	add := func(name, format, body, field string, fragments ...string) {
		tests = append(tests, tc{name, format, body, field, fragments})
	}

	// Alertmanager and Grafana's unified alerting share the envelope.
	for _, format := range []string{"alertmanager", "grafana"} {
		am := func(labels, annotations map[string]string, extra map[string]any) string {
			return amBody(t, labels, annotations, extra)
		}
		add(format+": labels at the limit", format, am(manyEntries("l", MaxLabelsPerAlert-1, "v"), nil, nil), "-")
		add(format+": too many labels", format, am(manyEntries("l", MaxLabelsPerAlert, "v"), nil, nil),
			"alerts[1].labels", "alert 1", `alertname "Big"`, "129 labels", "limit is 128 labels per alert")
		add(format+": label name at the limit", format, am(map[string]string{long(MaxLabelNameBytes): "v"}, nil, nil), "-")
		add(format+": label name too long", format, am(map[string]string{long(MaxLabelNameBytes + 1): "v"}, nil, nil),
			"alerts[1].labels", "alert 1", `alertname "Big"`, "label name of 1025 bytes", "limit is 1024 bytes per label name")
		add(format+": label value at the limit", format, am(map[string]string{"instance": long(MaxLabelValueBytes)}, nil, nil), "-")
		add(format+": label value too long", format, am(map[string]string{"instance": long(MaxLabelValueBytes + 1)}, nil, nil),
			"alerts[1].labels.instance", "alert 1", `alertname "Big"`, `label "instance" is 2049 bytes`, "limit is 2048 bytes per label value")
		add(format+": a long value of a label that is no identifier", format, am(map[string]string{"k8s.io/app": long(MaxLabelValueBytes + 1)}, nil, nil),
			"alerts[1].labels", `label "k8s.io/app" is 2049 bytes`)
		add(format+": annotations at the limit", format, am(nil, manyEntries("a", MaxAnnotationsPerAlert, "v"), nil), "-")
		add(format+": too many annotations", format, am(nil, manyEntries("a", MaxAnnotationsPerAlert+1, "v"), nil),
			"alerts[1].annotations", "alert 1", "129 annotations", "limit is 128 annotations per alert")
		add(format+": annotation name too long", format, am(nil, map[string]string{long(MaxAnnotationNameBytes + 1): "v"}, nil),
			"alerts[1].annotations", "annotation name of 1025 bytes", "limit is 1024 bytes per annotation name")
		add(format+": annotation value at the limit", format, am(nil, map[string]string{"description": long(MaxAnnotationValueBytes)}, nil), "-")
		add(format+": annotation value too long", format, am(nil, map[string]string{"description": long(MaxAnnotationValueBytes + 1)}, nil),
			"alerts[1].annotations.description", "alert 1", `alertname "Big"`, `annotation "description" is 16385 bytes`, "limit is 16384 bytes per annotation value")
		add(format+": fingerprint at the limit", format, am(nil, nil, map[string]any{"fingerprint": long(MaxFingerprintBytes)}), "-")
		add(format+": fingerprint too long", format, am(nil, nil, map[string]any{"fingerprint": long(MaxFingerprintBytes + 1)}),
			"alerts[1].fingerprint", "alert 1", "fingerprint is 256 bytes", "limit is 255 bytes")
	}

	// Grafana's legacy notification: labels from tags and ruleName,
	// annotations from message and title.
	legacy := func(tags map[string]string, fields ...string) string {
		m := map[string]any{"ruleName": "Legacy", "state": "alerting", "tags": tags}
		for i := 0; i+1 < len(fields); i += 2 {
			m[fields[i]] = fields[i+1]
		}
		return jsonText(t, m)
	}
	add("grafana legacy: tags at the limit", "grafana", legacy(manyEntries("t", MaxLabelsPerAlert-1, "v")), "-")
	add("grafana legacy: too many tags", "grafana", legacy(manyEntries("t", MaxLabelsPerAlert, "v")),
		"tags", "the alert", `alertname "Legacy"`, "129 labels")
	add("grafana legacy: tag value too long", "grafana", legacy(map[string]string{"team": long(MaxLabelValueBytes + 1)}),
		"tags.team", `label "team" is 2049 bytes`)
	add("grafana legacy: rule name too long", "grafana", legacy(nil, "ruleName", long(MaxLabelValueBytes+1)),
		"ruleName", `ruleName is 2049 bytes long and becomes label "alertname"`, "limit is 2048 bytes per label value")
	add("grafana legacy: message too long", "grafana", legacy(nil, "message", long(MaxAnnotationValueBytes+1)),
		"message", `alertname "Legacy"`, "message is 16385 bytes long", "limit is 16384 bytes per annotation value")
	add("grafana legacy: title too long", "grafana", legacy(nil, "title", long(MaxAnnotationValueBytes+1)),
		"title", "title is 16385 bytes long")

	// The generic format, one object and an array.
	generic := func(fields map[string]any) string {
		m := map[string]any{"title": "Backup failed"}
		for k, v := range fields {
			m[k] = v
		}
		return jsonText(t, m)
	}
	genericArray := func(fields map[string]any) string {
		return "[" + generic(nil) + "," + generic(fields) + "]"
	}
	add("generic: labels at the limit", "generic", generic(map[string]any{"labels": manyEntries("l", MaxLabelsPerAlert, "v")}), "-")
	add("generic: too many labels", "generic", generic(map[string]any{"labels": manyEntries("l", MaxLabelsPerAlert+1, "v")}),
		"labels", "the alert", `"Backup failed"`, "129 labels")
	add("generic: too many labels, in an array", "generic", genericArray(map[string]any{"labels": manyEntries("l", MaxLabelsPerAlert+1, "v")}),
		"[1].labels", "alert 1", "129 labels")
	add("generic: label name too long", "generic", genericArray(map[string]any{"labels": map[string]string{long(MaxLabelNameBytes + 1): "v"}}),
		"[1].labels", "label name of 1025 bytes")
	add("generic: label value too long", "generic", genericArray(map[string]any{"labels": map[string]string{"alertname": long(MaxLabelValueBytes + 1)}}),
		"[1].labels.alertname", `label "alertname" is 2049 bytes`)
	add("generic: message at the limit", "generic", generic(map[string]any{"message": long(MaxAnnotationValueBytes)}), "-")
	add("generic: message too long", "generic", genericArray(map[string]any{"message": long(MaxAnnotationValueBytes + 1)}),
		"[1].message", "alert 1", "message is 16385 bytes long", "limit is 16384 bytes per annotation value")
	add("generic: dedup key at the limit", "generic", generic(map[string]any{"dedup_key": long(MaxFingerprintBytes)}), "-")
	add("generic: dedup key too long", "generic", generic(map[string]any{"dedup_key": long(MaxFingerprintBytes + 1)}),
		"dedup_key", "dedup_key is 256 bytes long", "limit is 255 bytes")
	add("generic: link at the limit", "generic", generic(map[string]any{"link": "https://x/" + long(MaxSourceURLBytes-len("https://x/"))}), "-")
	add("generic: link too long", "generic", genericArray(map[string]any{"link": "https://x/" + long(MaxSourceURLBytes)}),
		"[1].link", "8202 bytes long", "limit is 8192 bytes for a link")

	// Zabbix, both shapes: every label and annotation is a member.
	zabbix := func(fields ...string) string {
		m := map[string]any{}
		for i := 0; i+1 < len(fields); i += 2 {
			m[fields[i]] = fields[i+1]
		}
		return jsonText(t, m)
	}
	add("zabbix oncall: title at the limit", "zabbix", zabbix("alert_uid", "1", "title", long(MaxLabelValueBytes)), "-")
	add("zabbix oncall: title too long", "zabbix", zabbix("alert_uid", "1", "title", long(MaxLabelValueBytes+1)),
		"title", "the alert", `title is 2049 bytes long and becomes label "alertname"`, "limit is 2048 bytes per label value")
	add("zabbix oncall: severity too long", "zabbix", zabbix("alert_uid", "1", "title", "Disk full", "severity", long(MaxLabelValueBytes+1)),
		"severity", `alertname "Disk full"`, "severity is 2049 bytes long;")
	add("zabbix oncall: message too long", "zabbix", zabbix("alert_uid", "1", "title", "Disk full", "message", long(MaxAnnotationValueBytes+1)),
		"message", `alertname "Disk full"`, "message is 16385 bytes long")
	add("zabbix oncall: alert_uid too long", "zabbix", zabbix("alert_uid", long(MaxFingerprintBytes+1), "title", "Disk full"),
		"alert_uid", "alert_uid is 256 bytes long")
	add("zabbix media type: hostname too long", "zabbix", zabbix("hostname", long(MaxLabelValueBytes+1), "trigger", "Disk full"),
		"hostname", `"Disk full"`, "hostname is 2049 bytes long")
	add("zabbix media type: trigger too long", "zabbix", zabbix("hostname", "db1", "trigger", long(MaxLabelValueBytes+1)),
		"trigger", "trigger is 2049 bytes long")
	add("zabbix media type: item too long", "zabbix", zabbix("hostname", "db1", "trigger", "Disk full", "item", long(MaxAnnotationValueBytes+1)),
		"item", "item is 16385 bytes long", "limit is 16384 bytes per annotation value")
	add("zabbix media type: event_id too long", "zabbix", zabbix("hostname", "db1", "trigger", "Disk full", "event_id", long(MaxFingerprintBytes+1)),
		"event_id", "event_id is 256 bytes long")
	add("zabbix media type: eventid too long", "zabbix", zabbix("hostname", "db1", "trigger", "Disk full", "eventid", long(MaxFingerprintBytes+1)),
		"eventid", "eventid is 256 bytes long")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Decode(tt.format, []byte(tt.body), testOpts)
			if tt.field == "-" {
				if err != nil {
					t.Fatalf("refused at the limit: %v", err)
				}
				checkDecodeResult(t, b, nil)
				return
			}
			wantFieldError(t, err, tt.field, append(tt.fragments, "nothing of this body was stored")...)
			if len(b.Alerts) != 0 {
				t.Errorf("a refused body returned %d alerts", len(b.Alerts))
			}
		})
	}
}

// The alert of the security finding: 30,000 labels in one alert, in a body
// well under the 1 MiB the HTTP layer takes, is refused before anything is
// kept, its well-formed neighbours with it.
func TestAnAlertWithThirtyThousandLabelsIsRefused(t *testing.T) {
	body := amBody(t, manyEntries("label_", 30000, "v"), nil, nil)
	if len(body) >= 1<<20 {
		t.Fatalf("body is %d bytes; the test wants one the HTTP layer takes", len(body))
	}
	b, err := Decode("alertmanager", []byte(body), testOpts)
	wantFieldError(t, err, "alerts[1].labels", "alert 1", `alertname "Big"`, "30001 labels", "limit is 128 labels per alert")
	if b.Alerts != nil {
		t.Errorf("refused body returned alerts: %d", len(b.Alerts))
	}
}

// A link too long to open is an unusable link: sources whose links are
// extras leave it out, as they leave out one that is not http(s).
func TestALinkTooLongIsLeftOut(t *testing.T) {
	long := "https://prometheus.example.com/graph?g0.expr=" + strings.Repeat("x", MaxSourceURLBytes)
	body := jsonText(t, map[string]any{"alerts": []any{map[string]any{
		"labels": map[string]string{"alertname": "A"}, "generatorURL": long}}})
	for _, format := range []string{"alertmanager", "grafana"} {
		b, err := Decode(format, []byte(body), testOpts)
		if err != nil || len(b.Alerts) != 1 {
			t.Fatalf("%s: %v, %d alerts", format, err, len(b.Alerts))
		}
		if b.Alerts[0].SourceURL != "" {
			t.Errorf("%s: kept a link of %d bytes", format, len(b.Alerts[0].SourceURL))
		}
	}
}

// When several entries of one alert are over a limit, the error names the
// first by name, whatever the map's order.
func TestTheFirstEntryOverALimitIsNamed(t *testing.T) {
	values := map[string]string{}
	for _, n := range []string{"zeta", "beta", "alpha", "gamma"} {
		values[n] = strings.Repeat("x", MaxLabelValueBytes+1)
	}
	body := amBody(t, values, nil, nil)
	for range 20 {
		_, err := Decode("alertmanager", []byte(body), testOpts)
		wantFieldError(t, err, "alerts[1].labels.alpha", `label "alpha"`)
	}
}

// Well-formed payloads of real senders are all within the limits.
func TestFixturesAreWithinTheLimits(t *testing.T) {
	for _, root := range []string{"testdata", sharedFixturesDir} {
		for _, format := range fixtureFormats {
			for _, f := range fixtureFiles(t, root, format) {
				body := readFile(t, f)
				raw, rawErr := decoders[format](body, testOpts)
				if rawErr != nil {
					continue // a fixture of a refused shape
				}
				if _, err := Decode(format, body, testOpts); err != nil {
					t.Errorf("%s: a body the decoder takes (%d alerts) is refused by the limits: %v", f, len(raw.Alerts), err)
				}
			}
		}
	}
}
