package ingest

import (
	"fmt"
	"strings"
	"testing"
)

func genericDefaultKey(labels map[string]string, title string) string {
	m := map[string]string{"__title__": title}
	for k, v := range labels {
		m[k] = v
	}
	return LabelsFingerprint(m)
}

func TestGenericRules(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		alerts []want
	}{
		{"documented example", `{"title": "Backup failed on db1", "severity": "error",
			"dedup_key": "backup-db1", "labels": {"team": "storage"},
			"link": "https://ci.example.com/jobs/42"}`, []want{{
			Fingerprint: "backup-db1", Status: StatusFiring, Severity: SeverityError, Summary: "Backup failed on db1",
			SourceURL: "https://ci.example.com/jobs/42", Labels: map[string]string{"team": "storage"}, Annotations: map[string]string{},
		}}},
		{"minimal object", `{"title":"  Disk full  "}`, []want{{
			Fingerprint: genericDefaultKey(nil, "Disk full"), Status: StatusFiring, Severity: SeverityNotice, Summary: "Disk full",
			Labels: map[string]string{}, Annotations: map[string]string{},
		}}},
		{"all fields", `{"title":"T","message":"details","severity":"P1","status":"resolve","labels":{"a":"1"},"started_at":"2024-05-01T14:00:00.5+02:00","unknown":[1]}`, []want{{
			Fingerprint: genericDefaultKey(map[string]string{"a": "1"}, "T"), Status: StatusResolved, Severity: SeverityCritical,
			Summary: "T", StartsAt: "2024-05-01T12:00:00.5Z", EndsAt: "now",
			Labels: map[string]string{"a": "1"}, Annotations: map[string]string{"message": "details"},
		}}},
		{"nulls count as missing", `{"title":"T","message":null,"severity":null,"dedup_key":null,"status":null,"labels":null,"link":null,"started_at":null}`, []want{{
			Fingerprint: genericDefaultKey(nil, "T"), Status: StatusFiring, Severity: SeverityNotice, Summary: "T",
		}}},
		{"status aliases", `[{"title":"a","status":"Triggered"},{"title":"b","status":"TRIGGER"},{"title":"c","status":"firing"},
			{"title":"d","status":"OK"},{"title":"e","status":"resolved"},{"title":"f","status":" resolve "}]`, []want{
			{Fingerprint: genericDefaultKey(nil, "a"), Status: StatusFiring, Severity: SeverityNotice, Summary: "a"},
			{Fingerprint: genericDefaultKey(nil, "b"), Status: StatusFiring, Severity: SeverityNotice, Summary: "b"},
			{Fingerprint: genericDefaultKey(nil, "c"), Status: StatusFiring, Severity: SeverityNotice, Summary: "c"},
			{Fingerprint: genericDefaultKey(nil, "d"), Status: StatusResolved, Severity: SeverityNotice, Summary: "d", EndsAt: "now"},
			{Fingerprint: genericDefaultKey(nil, "e"), Status: StatusResolved, Severity: SeverityNotice, Summary: "e", EndsAt: "now"},
			{Fingerprint: genericDefaultKey(nil, "f"), Status: StatusResolved, Severity: SeverityNotice, Summary: "f", EndsAt: "now"},
		}},
		{"default key depends on labels and title only", `[{"title":"T","labels":{"x":"1","y":"2"},"message":"m1"},{"title":"T","labels":{"y":"2","x":"1"},"severity":"critical"},{"title":"U","labels":{"x":"1","y":"2"}},{"title":"T","labels":{"__title__":"T","x":"1","y":"2"}}]`, []want{
			{Fingerprint: genericDefaultKey(map[string]string{"x": "1", "y": "2"}, "T"), Status: StatusFiring, Severity: SeverityNotice, Summary: "T"},
			{Fingerprint: genericDefaultKey(map[string]string{"x": "1", "y": "2"}, "T"), Status: StatusFiring, Severity: SeverityCritical, Summary: "T"},
			{Fingerprint: genericDefaultKey(map[string]string{"x": "1", "y": "2"}, "U"), Status: StatusFiring, Severity: SeverityNotice, Summary: "U"},
			{Fingerprint: genericDefaultKey(map[string]string{"x": "1", "y": "2"}, "T"), Status: StatusFiring, Severity: SeverityNotice, Summary: "T"},
		}},
		{"blank dedup key means default", `{"title":"T","dedup_key":"  "}`, []want{{
			Fingerprint: genericDefaultKey(nil, "T"), Status: StatusFiring, Severity: SeverityNotice, Summary: "T",
		}}},
		{"empty array", `[]`, nil},
		{"long title cut", `{"title":"` + strings.Repeat("x", 1000) + `","dedup_key":"k"}`, []want{{
			Fingerprint: "k", Status: StatusFiring, Severity: SeverityNotice, Summary: strings.Repeat("x", 499) + "…",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeGeneric([]byte(tt.body), testOpts)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			checkAlerts(t, b.Alerts, tt.alerts)
		})
	}
}

func TestGenericLimit(t *testing.T) {
	build := func(n int) []byte {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"title":"t%d"}`, i)
		}
		return []byte("[" + strings.Join(items, ",") + "]")
	}
	b, err := decodeGeneric(build(maxGenericAlerts), testOpts)
	if err != nil || len(b.Alerts) != maxGenericAlerts {
		t.Fatalf("1000 alerts: %v, %d alerts", err, len(b.Alerts))
	}
	_, err = decodeGeneric(build(maxGenericAlerts+1), testOpts)
	wantFieldError(t, err, "", "1001", "at most 1000")
}

func TestGenericErrors(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		field     string
		fragments []string
	}{
		{"empty", ``, "", []string{"empty"}},
		{"null", `null`, "", []string{"null"}},
		{"string", `"Disk full"`, "", []string{"string"}},
		{"not JSON", `title=Disk full`, "", []string{"not valid JSON", "byte offset 1"}},
		{"truncated array", `[{"title":"a"},`, "", []string{"not valid JSON"}},
		{"missing title", `{"message":"m"}`, "title", []string{"missing"}},
		{"blank title", `{"title":" \t"}`, "title", []string{"blank"}},
		{"title a number", `{"title":5}`, "title", []string{"expected a string, got number"}},
		{"title missing in array", `[{"title":"a"},{"title":"b"},{"title":"c"},{"message":"d"}]`, "[3].title", []string{"missing"}},
		{"nested array", `[[{"title":"a"}]]`, "[0]", []string{"got array"}},
		{"null element", `[{"title":"a"},null]`, "[1]", []string{"got null"}},
		{"unknown severity", `{"title":"T","severity":"urgent"}`, "severity", []string{`"urgent"`}},
		{"unknown severity in array", `[{"title":"T"},{"title":"T","severity":"sev9"}]`, "[1].severity", []string{`"sev9"`}},
		{"unknown status", `{"title":"T","status":"acknowledged"}`, "status", []string{`"acknowledged"`}},
		{"label a number", `{"title":"T","labels":{"a":1}}`, "labels", []string{"values must be strings", "byte offset 27"}},
		{"label a number in array", `[{"title":"T"},{"title":"T","labels":{"a":true}}]`, "[1].labels", []string{"values must be strings"}},
		{"labels an array", `{"title":"T","labels":["a"]}`, "labels", []string{"object of strings"}},
		{"relative link", `{"title":"T","link":"/jobs/42"}`, "link", []string{"absolute http"}},
		{"mailto link", `{"title":"T","link":"mailto:ops@example.com"}`, "link", []string{"absolute http"}},
		{"link a number", `[{"title":"T","link":42}]`, "[0].link", []string{"string"}},
		{"started_at not RFC 3339", `{"title":"T","started_at":"2024-05-01 12:00:00"}`, "started_at", []string{"RFC 3339"}},
		{"started_at a number", `{"title":"T","started_at":1714564800}`, "started_at", []string{"string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeGeneric([]byte(tt.body), testOpts)
			wantFieldError(t, err, tt.field, tt.fragments...)
			if len(b.Alerts) != 0 {
				t.Errorf("error came with alerts: %+v", b)
			}
		})
	}
}

func FuzzGeneric(f *testing.F) {
	addFuzzSeeds(f,
		`{"title":"T","message":"m","severity":"warn","dedup_key":"k","status":"ok","labels":{"a":"b"},"link":"https://x.example/","started_at":"2024-05-01T12:00:00Z"}`,
		`[{"title":"a"},{"title":"b","status":"trigger"}]`,
		`[]`,
		`[[]]`,
		`{"title":""}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeGeneric(body, testOpts)
		checkDecodeResult(t, b, err)
		if err == nil && len(b.Alerts) > maxGenericAlerts {
			t.Fatalf("%d alerts passed the limit", len(b.Alerts))
		}
	})
}
