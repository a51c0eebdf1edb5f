package ingest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// legacyFingerprint is the documented identity of a legacy Grafana rule.
func legacyFingerprint(org, dashboard, panel, rule, name string) string {
	return LabelsFingerprint(map[string]string{
		"grafana_org": org, "grafana_dashboard": dashboard, "grafana_panel": panel,
		"grafana_rule_id": rule, "alertname": name,
	})
}

func TestGrafanaFixtures(t *testing.T) {
	const g9URL = "https://grafana.example.com/alerting/grafana/zTjxv_C7k/view"
	zulipLegacyFP := legacyFingerprint("0", "1", "1", "0", "Test rule")
	tests := []struct {
		file      string
		truncated int
		alerts    []want
	}{
		{"zulip_grafana9_firing_3alerts_valueString.json", 0, []want{
			{Fingerprint: "aaafafe0953f0962", Status: StatusFiring, Severity: SeverityNotice,
				Summary: "This is a summary field, failure on badhost.example.com", SourceURL: g9URL,
				StartsAt: "2022-06-17T01:11:00.782137894Z",
				Labels:   map[string]string{"alertname": "Test alert", "deploy": "prod", "instance": "badhost.example.com", "job": "rabbitmq", "test": "true"}},
			{Fingerprint: "fb31814ac93dbe7d", Status: StatusFiring, Severity: SeverityNotice,
				Summary: "This is a summary field, failure on otherhost.example.com", SourceURL: g9URL,
				StartsAt: "2022-06-17T01:11:00.782137894Z"},
			{Fingerprint: "6f9cd313db421ef1", Status: StatusFiring, Severity: SeverityNotice,
				Summary: "Testing **another** failing alert", SourceURL: "https://grafana.example.com/alerting/grafana/_0rkK_C7z/view",
				StartsAt:    "2022-06-17T01:03:00.782137894Z",
				Annotations: map[string]string{"description": "Description **here**", "runbook_url": "https://example.com/", "summary": "Testing **another** failing alert"}},
		}},
		{"zulip_grafana9_resolved_1alert.json", 0, []want{{
			Fingerprint: "d8a21484c9c25a60", Status: StatusResolved, Severity: SeverityNotice,
			Summary: "This is a summary field, failure on <no value>", SourceURL: g9URL,
			StartsAt: "2022-06-17T00:41:00.782137894Z", EndsAt: "2022-06-17T00:51:24.067337833Z",
		}}},
		{"zulip_grafana11_firing_values_dashboard_panel_image.json", 0, []want{{
			Fingerprint: "e6349a25f5ef0e9e", Status: StatusFiring, Severity: SeverityNotice, Summary: "High memory usage",
			SourceURL: "https://play.grafana.org/alerting/grafana/dd2f0260-3cfc-4c65-a4c4-f3f632c551f4/view?orgId=1",
			StartsAt:  "2024-03-01T02:09:00Z",
			Labels:    map[string]string{"alertname": "Memory (copy)", "debug": "true", "grafana_folder": "device"},
		}}},
		{"zulip_grafana8_test_notification_resolved_truncated1.json", 1, []want{{
			// status says resolved while state says alerting: status wins.
			// generatorURL is empty and so are the panel and dashboard URLs.
			Fingerprint: "57c6d9296de2ad39", Status: StatusResolved, Severity: SeverityNotice, Summary: "Notification test",
			StartsAt: "2022-08-31T05:54:04.52289368Z", EndsAt: "2022-08-31T10:30:00.52288431Z",
		}}},
		{"zulip_grafana_legacy_alerting_evalmatches.json", 0, []want{{
			Fingerprint: zulipLegacyFP, Status: StatusFiring, Severity: SeverityNotice,
			Summary: "[Alerting] Test notification", SourceURL: "http://localhost:3000/",
			Labels: map[string]string{"alertname": "Test rule"},
			Annotations: map[string]string{
				"message":      "Someone is testing the alert notification within grafana.",
				"title":        "[Alerting] Test notification",
				"eval_matches": "High value=100, Higher Value=200",
			},
		}}},
		{"zulip_grafana_legacy_ok.json", 0, []want{{
			// Same rule as the alerting fixture, so the same fingerprint.
			Fingerprint: zulipLegacyFP, Status: StatusResolved, Severity: SeverityNotice,
			Summary: "[Ok] Test notification", SourceURL: "http://localhost:3000/", EndsAt: "now",
			Annotations: map[string]string{
				"message":      "Someone is testing the alert notification within grafana.",
				"title":        "[Ok] Test notification",
				"eval_matches": "High value=0",
			},
		}}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			b, err := decodeGrafana(readFile(t, filepath.Join("testdata", "grafana", tt.file)), testOpts)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			if b.Truncated != tt.truncated || b.Ignored != 0 {
				t.Errorf("Truncated, Ignored = %d, %d; want %d, 0", b.Truncated, b.Ignored, tt.truncated)
			}
			checkAlerts(t, b.Alerts, tt.alerts)
		})
	}
	for _, f := range fixtureFiles(t, "testdata", "grafana") {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

// Grafana's unified webhook is Alertmanager's plus fields, so any
// Alertmanager body must decode the same way through the Grafana decoder.
func TestGrafanaAgreesWithAlertmanager(t *testing.T) {
	for _, f := range fixtureFiles(t, "testdata", "alertmanager") {
		body := readFile(t, f)
		am, amErr := decodeAlertmanager(body, testOpts)
		gr, grErr := decodeGrafana(body, testOpts)
		if amErr != nil || grErr != nil {
			t.Errorf("%s: errors %v / %v", f, amErr, grErr)
			continue
		}
		if !reflect.DeepEqual(am, gr) {
			t.Errorf("%s: decoders disagree:\nalertmanager %+v\ngrafana      %+v", f, am, gr)
		}
	}
}

func TestGrafanaRules(t *testing.T) {
	many := `{"ruleName":"r","state":"alerting","evalMatches":[` + strings.Repeat(`{"metric":"m","value":1},`, 11) + `{"metric":"m","value":1}]}`
	tests := []struct {
		name    string
		body    string
		ignored int
		alerts  []want
	}{
		{"source URL falls back to panel then dashboard", `{"alerts":[
			{"labels":{"job":"j"},"fingerprint":"a","generatorURL":"","panelURL":"https://g.example.com/d/x?viewPanel=2","dashboardURL":"https://g.example.com/d/x"},
			{"labels":{"job":"j"},"fingerprint":"b","generatorURL":"not a url","panelURL":"","dashboardURL":"https://g.example.com/d/x"},
			{"labels":{"job":"j"},"fingerprint":"c","generatorURL":"https://g.example.com/alerting/c/view","panelURL":"https://g.example.com/p"},
			{"labels":{"job":"j"},"fingerprint":"d","panelURL":"javascript:alert(1)","dashboardURL":"//g.example.com/d/x"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a", SourceURL: "https://g.example.com/d/x?viewPanel=2"},
			{Fingerprint: "b", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert b", SourceURL: "https://g.example.com/d/x"},
			{Fingerprint: "c", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert c", SourceURL: "https://g.example.com/alerting/c/view"},
			{Fingerprint: "d", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert d"},
		}},
		{"values null or object, envelope extras", `{"orgId":1,"state":"alerting","title":"[FIRING:2]","message":"m","alerts":[
			{"labels":{"job":"j"},"fingerprint":"a","values":null,"valueString":"","imageURL":"x"},{"labels":{"job":"j"},"fingerprint":"b","values":{"A":1.5}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
			{Fingerprint: "b", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert b"},
		}},
		{"legacy no_data fires and says so", `{"ruleName":"Disk","ruleId":7,"orgId":2,"dashboardId":3,"panelId":4,"state":"no_data","title":"[No Data] Disk","tags":{"severity":"critical","team":"db"}}`, 0, []want{{
			Fingerprint: legacyFingerprint("2", "3", "4", "7", "Disk"), Status: StatusFiring, Severity: SeverityCritical,
			Summary: "[No Data] Disk", Labels: map[string]string{"alertname": "Disk", "severity": "critical", "team": "db"},
			Annotations: map[string]string{"title": "[No Data] Disk", "state": "no_data"},
		}}},
		{"legacy state in any case, ids as strings, null tags", `{"ruleName":"Disk","ruleId":"7","orgId":"2","dashboardId":3,"panelId":4,"state":"OK","tags":null}`, 0, []want{{
			Fingerprint: legacyFingerprint("2", "3", "4", "7", "Disk"), Status: StatusResolved, Severity: SeverityNotice,
			Summary: "Disk", EndsAt: "now", Labels: map[string]string{"alertname": "Disk"}, Annotations: map[string]string{},
		}}},
		{"legacy ruleName overrides an alertname tag", `{"ruleName":"Disk","state":"alerting","tags":{"alertname":"other"},"ruleUrl":"ftp://x/"}`, 0, []want{{
			Fingerprint: legacyFingerprint("", "", "", "", "Disk"), Status: StatusFiring, Severity: SeverityNotice,
			Summary: "Disk", Labels: map[string]string{"alertname": "Disk"},
		}}},
		{"legacy eval matches with null and cut after ten", many, 0, []want{{
			Fingerprint: legacyFingerprint("", "", "", "", "r"), Status: StatusFiring, Severity: SeverityNotice, Summary: "r",
			Annotations: map[string]string{"eval_matches": strings.Repeat("m=1, ", 9) + "m=1, and 2 more"},
		}}},
		{"legacy eval match values", `{"ruleId":1,"title":"t","state":"alerting","evalMatches":[{"metric":"a","value":null},{"value":2.5e3},{"metric":3,"value":"x"},{"metric":"b","value":{}}]}`, 0, []want{{
			Fingerprint: legacyFingerprint("", "", "", "1", ""), Status: StatusFiring, Severity: SeverityNotice,
			Summary: "t", Labels: map[string]string{},
			Annotations: map[string]string{"title": "t", "eval_matches": "a=null, 2.5e3, 3=x, b=object"},
		}}},
		{"legacy pending is ignored", `{"ruleName":"Disk","state":"pending"}`, 1, nil},
		{"legacy paused is ignored", `{"ruleName":"Disk","state":"Paused","evalMatches":[]}`, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeGrafana([]byte(tt.body), testOpts)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			if b.Ignored != tt.ignored {
				t.Errorf("Ignored = %d, want %d", b.Ignored, tt.ignored)
			}
			checkAlerts(t, b.Alerts, tt.alerts)
		})
	}
}

func TestGrafanaErrors(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		field     string
		fragments []string
	}{
		{"empty", ``, "", []string{"empty"}},
		{"null", `null`, "", []string{"null"}},
		{"array", `[{"ruleName":"x","state":"alerting"}]`, "", []string{"array"}},
		{"not JSON", `{"ruleName": "x" "state"}`, "", []string{"not valid JSON", "byte offset 17"}},
		{"single alert object", `{"status":"firing","labels":{"alertname":"X"},"annotations":{},"generatorURL":"https://x/"}`, "", []string{"single alert object"}},
		{"neither shape", `{"state":"alerting","title":"x","message":"y"}`, "alerts", []string{"missing"}},
		{"legacy unknown state", `{"ruleName":"x","state":"firing"}`, "state", []string{`"firing"`}},
		{"legacy missing state", `{"ruleName":"x"}`, "state", []string{"missing"}},
		{"legacy tag not a string", `{"ruleName":"x","state":"ok","tags":{"n":1}}`, "tags", []string{"values must be strings"}},
		{"legacy tags an array", `{"ruleName":"x","state":"ok","tags":["a"]}`, "tags", []string{"object of strings"}},
		{"legacy orgId an object", `{"ruleName":"x","state":"ok","orgId":{}}`, "orgId", []string{"number or a string"}},
		{"legacy ruleId a bool", `{"ruleUrl":"http://x/","state":"ok","ruleId":true}`, "ruleId", []string{"boolean"}},
		{"legacy evalMatches an object", `{"ruleName":"x","state":"ok","evalMatches":{}}`, "evalMatches", []string{"array"}},
		{"legacy ruleName a number", `{"ruleName":5,"state":"ok"}`, "ruleName", []string{"string"}},
		{"unified label not a string", `{"alerts":[{"labels":{"a":"b"}},{"panelURL":"x","labels":{"x":null,"y":2}}]}`, "alerts[1].labels", []string{"values must be strings"}},
		{"unified panelURL a number", `{"alerts":[{"panelURL":1}]}`, "alerts[0].panelURL", []string{"expected a string"}},
		{"unified bad status", `{"alerts":[{"status":"alerting"}]}`, "alerts[0].status", []string{`"alerting"`}},
		{"unified negative truncation", `{"alerts":[],"truncatedAlerts":-3}`, "truncatedAlerts", []string{"negative"}},
		// Grafana always labels an alert with at least alertname.
		{"unified labels empty", `{"alerts":[{"labels":{"alertname":"A"}},{"labels":{},"panelURL":"https://g/p"}]}`, "alerts[1].labels", []string{"must not be empty"}},
		{"unified labels missing", `{"alerts":[{"status":"firing","fingerprint":"a"}]}`, "alerts[0].labels", []string{"must not be empty"}},
		// A legacy notification always names its rule; with neither a
		// rule name nor a title the incident would have no name.
		{"legacy without ruleName or title", `{"ruleId":1,"state":"alerting"}`, "ruleName", []string{"missing"}},
		{"legacy blank ruleName and title", `{"ruleName":" ","title":"","ruleUrl":"http://g/r","state":"ok"}`, "ruleName", []string{"missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeGrafana([]byte(tt.body), testOpts)
			wantFieldError(t, err, tt.field, tt.fragments...)
			if len(b.Alerts) != 0 || b.Ignored != 0 {
				t.Errorf("error came with a batch: %+v", b)
			}
		})
	}
}

func FuzzGrafana(f *testing.F) {
	addFuzzSeeds(f,
		`{"ruleName":"r","state":"no_data","evalMatches":[{"value":null,"metric":"m"}],"tags":{"severity":"high"}}`,
		`{"ruleId":1,"state":"pending"}`,
		`{"alerts":[{"panelURL":"https://g/p","dashboardURL":"https://g/d"}]}`,
		`{"state":"alerting"}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeGrafana(body, testOpts)
		checkDecodeResult(t, b, err)
		fastAndSlowAgree[grafanaBody](t, body)
		if err == nil && b.Ignored > 0 && len(b.Alerts) > 0 {
			t.Fatalf("a legacy body both ignored and produced alerts: %+v", b)
		}
	})
}
