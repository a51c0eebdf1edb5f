package ingest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestZabbixFixtures(t *testing.T) {
	const trigger = "Zabbix agent on www.example.com is unreachable for 5 minutes"
	b, err := decodeZabbix(readFile(t, filepath.Join("testdata", "zabbix", "zulip_zabbix_problem.json")), testOpts)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	checkDecodeResult(t, b, nil)
	if b.Truncated != 0 || b.Ignored != 0 {
		t.Errorf("Truncated, Ignored = %d, %d", b.Truncated, b.Ignored)
	}
	// The body has no event id, so host and trigger identify the problem.
	checkAlerts(t, b.Alerts, []want{{
		Fingerprint: LabelsFingerprint(map[string]string{"hostname": "www.example.com", "trigger": trigger}),
		Status:      StatusFiring,
		Severity:    SeverityWarning, // Zabbix "Average"
		Summary:     trigger,
		SourceURL:   "https://zabbix.example.com/tr_events.php?triggerid=14032&eventid=10528",
		Labels:      map[string]string{"hostname": "www.example.com", "trigger": trigger, "severity": "Average", "source": "zabbix"},
		Annotations: map[string]string{"item": "Agent ping is Up (1)"},
	}})
	if n := len(fixtureFiles(t, "testdata", "zabbix")); n != 1 {
		t.Errorf("%d zabbix fixtures in testdata; this test covers 1", n)
	}
}

func TestZabbixRules(t *testing.T) {
	tests := []struct {
		name string
		body string
		want want
	}{
		{"oncall alerting", `{"alert_uid":"u1","title":"Disk full","state":"alerting","message":"sda1 at 99%","image_url":"https://i/x.png","link_to_upstream_details":"https://zbx.example.com/tr_events.php?eventid=1"}`, want{
			Fingerprint: "u1", Status: StatusFiring, Severity: SeverityNotice, Summary: "Disk full",
			SourceURL:   "https://zbx.example.com/tr_events.php?eventid=1",
			Labels:      map[string]string{"alertname": "Disk full", "source": "zabbix"},
			Annotations: map[string]string{"message": "sda1 at 99%"},
		}},
		{"oncall ok resolves", `{"alert_uid":"u1","title":"Disk full","state":"OK"}`, want{
			Fingerprint: "u1", Status: StatusResolved, Severity: SeverityNotice, Summary: "Disk full", EndsAt: "now",
			Annotations: map[string]string{},
		}},
		{"oncall problem and severity", `{"alert_uid":"u2","title":"T","state":"Problem","severity":"Disaster","link_to_upstream_details":"zabbix.local/x"}`, want{
			Fingerprint: "u2", Status: StatusFiring, Severity: SeverityCritical, Summary: "T",
			Labels: map[string]string{"alertname": "T", "source": "zabbix", "severity": "Disaster"},
		}},
		{"oncall resolved word", `{"alert_uid":"u3","title":"T","state":"resolved"}`, want{
			Fingerprint: "u3", Status: StatusResolved, Severity: SeverityNotice, Summary: "T", EndsAt: "now",
		}},
		{"oncall numeric uid and no title", `{"alert_uid":12345,"state":"alerting"}`, want{
			Fingerprint: "12345", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert 12345",
			Labels: map[string]string{"source": "zabbix"},
		}},
		{"oncall unknown severity word", `{"alert_uid":"u4","title":"T","severity":"urgent-ish"}`, want{
			Fingerprint: "u4", Status: StatusFiring, Severity: SeverityNotice, Summary: "T",
		}},
		{"media type resolved with event id", `{"hostname":"db1","severity":"High","status":"RESOLVED","item":"load","trigger":"Load too high","link":"http://zbx/","event_id":"987"}`, want{
			Fingerprint: "987", Status: StatusResolved, Severity: SeverityError, Summary: "Load too high", EndsAt: "now",
			SourceURL: "http://zbx/",
		}},
		{"media type OK and numeric eventid", `{"hostname":"db1","trigger":"Load too high","status":"ok","eventid":42,"severity":"Not classified"}`, want{
			Fingerprint: "42", Status: StatusResolved, Severity: SeverityNone, Summary: "Load too high", EndsAt: "now",
			Labels: map[string]string{"hostname": "db1", "trigger": "Load too high", "severity": "Not classified", "source": "zabbix"},
		}},
		{"media type severities", `{"hostname":"h","trigger":"t","status":"PROBLEM","severity":"Information"}`, want{
			Fingerprint: LabelsFingerprint(map[string]string{"hostname": "h", "trigger": "t"}), Status: StatusFiring,
			Severity: SeverityNotice, Summary: "t",
		}},
		{"media type without trigger", `{"hostname":"h","status":"PROBLEM","item":"ping"}`, want{
			Fingerprint: LabelsFingerprint(map[string]string{"hostname": "h", "trigger": ""}), Status: StatusFiring,
			Severity: SeverityNotice, Summary: "ping", Labels: map[string]string{"hostname": "h", "source": "zabbix"},
		}},
		{"media type empty event id falls back", `{"hostname":"h","trigger":"t","event_id":"","eventid":null}`, want{
			Fingerprint: LabelsFingerprint(map[string]string{"hostname": "h", "trigger": "t"}), Status: StatusFiring,
			Severity: SeverityNotice, Summary: "t",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeZabbix([]byte(tt.body), testOpts)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			checkAlerts(t, b.Alerts, []want{tt.want})
		})
	}
}

func TestZabbixErrors(t *testing.T) {
	// What grafana_oncall.sh sends when the trigger name holds quotes: the
	// shell pastes the subject into the JSON template unescaped.
	const shellInterpolated = `{"alert_uid": "e-1", "title": "Problem: "nginx" is down on web1", "state": "alerting", "message": "x"}`
	tests := []struct {
		name      string
		body      string
		field     string
		fragments []string
	}{
		{"unescaped quote from the media script", shellInterpolated, "", []string{"not valid JSON", "byte offset 41", "invalid character 'n'", "escape"}},
		{"raw newline in a string", "{\"alert_uid\":\"e\",\"title\":\"a\nb\"}", "", []string{"not valid JSON", "byte offset 27"}},
		{"empty body", ``, "", []string{"empty"}},
		{"null", `null`, "", []string{"null"}},
		{"array", `[{"alert_uid":"x"}]`, "", []string{"array"}},
		{"neither shape", `{"subject":"x","body":"y"}`, "alert_uid", []string{"missing", "hostname", "trigger"}},
		{"oncall without uid", `{"title":"Disk full","state":"alerting"}`, "alert_uid", []string{"missing"}},
		{"oncall null uid", `{"alert_uid":null,"title":"Disk full","state":"alerting"}`, "alert_uid", []string{"missing"}},
		{"oncall empty uid", `{"alert_uid":"","title":"Disk full","state":"alerting"}`, "alert_uid", []string{"empty"}},
		{"oncall blank uid", `{"alert_uid":"  ","title":"Disk full"}`, "alert_uid", []string{"empty"}},
		{"oncall object uid", `{"alert_uid":{"id":1},"title":"Disk full"}`, "alert_uid", []string{"object"}},
		{"oncall bad state", `{"alert_uid":"u","title":"T","state":"acknowledged"}`, "state", []string{`"acknowledged"`}},
		{"oncall title a number", `{"alert_uid":"u","title":5}`, "title", []string{"string"}},
		{"media bad status", `{"hostname":"h","trigger":"t","status":"UPDATE"}`, "status", []string{`"UPDATE"`}},
		{"media status a bool", `{"hostname":"h","trigger":"t","status":true}`, "status", []string{"string", "bool"}},
		{"media nothing to identify", `{"hostname":"","trigger":" ","status":"PROBLEM"}`, "trigger", []string{"missing"}},
		{"media event id an array", `{"hostname":"h","trigger":"t","event_id":[1]}`, "event_id", []string{"array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeZabbix([]byte(tt.body), testOpts)
			wantFieldError(t, err, tt.field, tt.fragments...)
			if len(b.Alerts) != 0 {
				t.Errorf("error came with alerts: %+v", b)
			}
		})
	}
	if i := strings.Index(shellInterpolated, `nginx`); i != 41 {
		t.Fatalf("offset in test table is stale: the bad byte is at %d", i)
	}
}

func FuzzZabbix(f *testing.F) {
	addFuzzSeeds(f,
		`{"alert_uid":"u","title":"t","state":"ok","message":"m"}`,
		`{"alert_uid": "e-1", "title": "Problem: "nginx" is down", "state": "alerting"}`,
		`{"hostname":"h","trigger":"t","status":"RESOLVED","eventid":1}`,
		`{"hostname":"","trigger":""}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeZabbix(body, testOpts)
		checkDecodeResult(t, b, err)
		if err == nil && len(b.Alerts) != 1 {
			t.Fatalf("a Zabbix body gave %d alerts", len(b.Alerts))
		}
	})
}
