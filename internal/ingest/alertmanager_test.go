package ingest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// The alertmonitor fixtures carry no fingerprint; their three alerts differ
// only by instance and summary label.
func alertmonitorLabels(ip string) map[string]string {
	return map[string]string{
		"alertname": "ICMP ping failed", "instance": ip, "job": "blackbox-icmp", "monitor": "monis",
		"severity": "major", "tags": "icmp, ping failed", "summary": "No physical connection to " + ip,
	}
}

const alertmonitorURL = "http://9ed35ff90bf8:9090/graph?g0.expr=probe_success%7Bjob%3D%22blackbox-icmp%22%7D+%3D%3D+0&g0.tab=1"

func TestAlertmanagerFixtures(t *testing.T) {
	fireLabels := map[string]string{"alertname": "Fire", "severity": "critical"}
	fireURL := "http://localhost:9090/graph?g0.expr=vector%28666%29&g0.tab=1"
	cloudeonURL := "http://k8s-node1:9090/graph?g0.expr=%281+-+avg+by%28instance%29+%28irate%28node_cpu_seconds_total%7Bmode%3D%22idle%22%7D%5B5m%5D%29%29%29+%2A+100+%3E+95&g0.tab=1"
	zulipURL := "http://cobalt:9090/graph?g0.expr=avg+by%28host%29+%28sensors_temp_input%7Bfeature%3D~%22core_%5B0-9%5D%2B%22%7D%29+%3E+15&g0.tab=1"
	diskCS30 := map[string]string{"alertname": "DiskSpace", "device": "rootfs", "fstype": "rootfs", "instance": "cs30.evilcorp", "mountpoint": "/", "severity": "severe"}

	tests := []struct {
		file      string
		truncated int
		alerts    []want
	}{
		{"alertmanager_bot_firing.json", 0, []want{{
			// The firing alert's endsAt, three minutes after startsAt, is
			// Alertmanager's expiry and must be dropped.
			Fingerprint: LabelsFingerprint(fireLabels), Status: StatusFiring, Severity: SeverityCritical,
			Summary: "Fire", SourceURL: fireURL, StartsAt: "2018-11-04T22:43:58.283995108+01:00",
			Labels: fireLabels, Annotations: map[string]string{"message": "Something is on fire"},
		}}},
		{"alertmanager_bot_resolved.json", 0, []want{{
			Fingerprint: LabelsFingerprint(fireLabels), Status: StatusResolved, Severity: SeverityCritical,
			Summary: "Fire", SourceURL: fireURL, StartsAt: "2018-11-04T22:43:58.283995108+01:00",
			EndsAt: "2018-11-04T22:48:13.283995108+01:00",
		}}},
		{"alertmanager_to_github_test_truncated2.json", 2, []want{{
			Fingerprint: LabelsFingerprint(map[string]string{"g": "h"}), Status: StatusFiring, Severity: SeverityNotice,
			Summary: "alert " + LabelsFingerprint(map[string]string{"g": "h"}), SourceURL: "http://alert.example.com",
			StartsAt: "2020-01-01T12:34:56Z", Labels: map[string]string{"g": "h"}, Annotations: map[string]string{"i": "j"},
		}}},
		{"alertmonitor_firing_3alerts.json", 0, []want{
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.30")), Status: StatusFiring, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.30", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z",
				Labels: alertmonitorLabels("172.29.254.30")},
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.50")), Status: StatusFiring, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.50", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z"},
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.66")), Status: StatusFiring, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.66", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z"},
		}},
		{"alertmonitor_resolved_3alerts_handedited.json", 0, []want{
			// Resolved with the zero endsAt: the end is the receive time.
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.30")), Status: StatusResolved, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.30", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z", EndsAt: "now"},
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.50")), Status: StatusResolved, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.50", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z", EndsAt: "now"},
			{Fingerprint: LabelsFingerprint(alertmonitorLabels("172.29.254.66")), Status: StatusResolved, Severity: SeverityError,
				Summary: "ICMP ping failed on 172.29.254.66", SourceURL: alertmonitorURL, StartsAt: "2019-09-27T16:27:56.612666101Z", EndsAt: "now"},
		}},
		{"cloudeon_firing_3alerts_cjk.json", 0, []want{
			// "exception" is no severity word: the default applies.
			{Fingerprint: "72a2002704e27a2e", Status: StatusFiring, Severity: SeverityNotice, Summary: "444",
				SourceURL: cloudeonURL, StartsAt: "2023-03-25T14:39:51.68943305+08:00",
				Labels: map[string]string{"alertname": "主机CPU使用率", "clusterId": "1", "instance": "k8s-node1:9101", "serviceRoleName": "node", "severity": "exception"}},
			{Fingerprint: "ba18df1a61fe8e0b", Status: StatusFiring, Severity: SeverityNotice, Summary: "444",
				SourceURL: cloudeonURL, StartsAt: "2023-03-25T14:41:21.68943305+08:00"},
			{Fingerprint: "5a6e9db40eb24b04", Status: StatusFiring, Severity: SeverityNotice, Summary: "444",
				SourceURL: cloudeonURL, StartsAt: "2023-03-25T14:41:06.68943305+08:00"},
		}},
		{"cloudeon_resolved_1alert_cjk.json", 0, []want{{
			Fingerprint: "20453f227ff62f33", Status: StatusResolved, Severity: SeverityNotice,
			Summary:   "Grafana进程存活 on k8s-node1:3000",
			SourceURL: "http://k8s-node1:9090/graph?g0.expr=up%7Bjob%3D%22grafana%22%7D+%21%3D+1&g0.tab=1",
			StartsAt:  "2023-03-25T15:24:36.039625135+08:00", EndsAt: "2023-03-25T15:27:51.039625135+08:00",
			Annotations: map[string]string{"alertAdvice": "Grafana宕机，请重新启动", "alertInfo": "grafana的k8s-node1:3000实例产生告警"},
		}}},
		{"prom2teams_all_ok_multiple_resolved.json", 0, []want{
			// Duplicate fingerprints stay; "my.prometheusserver.url" is no URL.
			{Fingerprint: "dd19ae3d4e06ac55", Status: StatusResolved, Severity: SeverityNotice, Summary: "Disk usage alert on CS30.evilcorp",
				StartsAt: "2017-05-09T07:01:37.803Z", EndsAt: "2017-05-09T07:08:37.818Z"},
			{Fingerprint: "dd19ae3d4e06ac55", Status: StatusResolved, Severity: SeverityCritical, Summary: "Disk usage alert on CS31.evilcorp",
				StartsAt: "2017-05-09T07:01:37.803Z", EndsAt: "2017-05-09T07:08:37.81827Z"},
		}},
		{"prom2teams_with_common_items_resolved.json", 0, []want{{
			Fingerprint: "dd19ae3d4e06ac55", Status: StatusResolved, Severity: SeverityWarning, Summary: "CPU throttling",
			SourceURL: "http://ot-mon-prometheus-operator-prometheus.monitoring:9090/graph?g0.expr=100+%2A+sum+by%28container_name%2C+pod_name%2C+namespace%29+%28increase%28container_cpu_cfs_throttled_periods_total%5B5m%5D%29%29+%2F+sum+by%28container_name%2C+pod_name%2C+namespace%29+%28increase%28container_cpu_cfs_periods_total%5B5m%5D%29%29+%3E+25&g0.tab=1",
			StartsAt:  "2019-01-28T20:26:23.868893Z", EndsAt: "2019-01-28T20:27:23.868893Z",
		}}},
		{"prom2teams_without_fingerprint_resolved.json", 0, []want{{
			Fingerprint: LabelsFingerprint(diskCS30), Status: StatusResolved, Severity: SeverityNotice,
			Summary: "Disk usage alert on CS30.evilcorp", StartsAt: "2017-05-09T07:01:37.803Z", EndsAt: "2017-05-09T07:08:37.818278Z",
			Labels: diskCS30,
		}}},
		{"prometheus_bot_v3_numeric_groupkey_edgecase.json", 0, []want{{
			Fingerprint: LabelsFingerprint(map[string]string{
				"alertname": "something_happend", "env": "prod", "instance": "server01.int:9100", "job": "node",
				"service": "prometheus_bot", "severity": "warning", "supervisor": "runit",
			}),
			Status: StatusFiring, Severity: SeverityWarning, Summary: "Oops, something happend!",
			SourceURL: "https://example.com/graph#...", StartsAt: "2016-04-27T20:46:37.903Z",
		}}},
		{"prometheus_msteams_prom_post_request_firing.json", 0, []want{{
			// No alert status: the envelope's "firing" applies.
			Fingerprint: LabelsFingerprint(map[string]string{
				"alertname": "high_memory_load", "instance": "instance-with-hyphen_and_underscore",
				"job": "docker_nodes", "monitor": "master", "severity": "warning",
			}),
			Status: StatusFiring, Severity: SeverityWarning, Summary: "Server High Memory usage",
			StartsAt: "2018-03-07T06:33:21.873077559-05:00",
		}}},
		{"zulip_alertmanager_firing_2alerts.json", 0, []want{
			{Fingerprint: "a1bc48475b20e73d", Status: StatusFiring, Severity: SeverityCritical, Summary: "High CPU core temperature",
				SourceURL: zulipURL, StartsAt: "2020-02-06T00:17:58.432911368Z",
				Annotations: map[string]string{"description": "CPU core temperature is 34.75C", "topic": "andromeda", "summary": "High CPU core temperature"}},
			{Fingerprint: "c2ea85182f28cbd9", Status: StatusFiring, Severity: SeverityCritical, Summary: "High CPU core temperature",
				SourceURL: zulipURL, StartsAt: "2020-02-06T00:17:58.432911368Z"},
		}},
	}

	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			b, err := decodeAlertmanager(readFile(t, filepath.Join("testdata", "alertmanager", tt.file)), testOpts)
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
	// A fixture added to testdata without expectations is a test gap.
	for _, f := range fixtureFiles(t, "testdata", "alertmanager") {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

func TestAlertmanagerRules(t *testing.T) {
	long := strings.Repeat("告", 600)
	tests := []struct {
		name      string
		body      string
		truncated int
		alerts    []want
	}{
		{"empty alerts array", `{"version":"4","status":"firing","alerts":[]}`, 0, nil},
		{"status in any case", `{"alerts":[{"status":"FIRING","fingerprint":"a","labels":{"job":"j"}},{"status":"Resolved","fingerprint":"b","labels":{"job":"j"},"endsAt":"2024-01-01T00:00:00Z"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
			{Fingerprint: "b", Status: StatusResolved, Severity: SeverityNotice, Summary: "alert b", EndsAt: "2024-01-01T00:00:00Z"},
		}},
		{"envelope status is the fallback", `{"status":"resolved","alerts":[{"labels":{"job":"j"},"fingerprint":"a"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusResolved, Severity: SeverityNotice, Summary: "alert a", EndsAt: "now"},
		}},
		{"no status anywhere means firing", `{"alerts":[{"labels":{"job":"j"},"fingerprint":"a","endsAt":"2030-01-01T00:00:00Z"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
		}},
		{"alert status wins over envelope", `{"status":"resolved","alerts":[{"status":"firing","fingerprint":"a","labels":{"job":"j"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
		}},
		{"null and empty times", `{"alerts":[{"labels":{"job":"j"},"fingerprint":"a","startsAt":null,"endsAt":""},{"labels":{"job":"j"},"fingerprint":"b","startsAt":"","status":"resolved","endsAt":null}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
			{Fingerprint: "b", Status: StatusResolved, Severity: SeverityNotice, Summary: "alert b", EndsAt: "now"},
		}},
		{"mixed precision and offsets", `{"alerts":[{"labels":{"job":"j"},"fingerprint":"a","startsAt":"2024-02-29T23:59:59.1-12:00","status":"resolved","endsAt":"2024-03-01T12:00:00.123456789+00:00"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusResolved, Severity: SeverityNotice, Summary: "alert a",
				StartsAt: "2024-03-01T11:59:59.1Z", EndsAt: "2024-03-01T12:00:00.123456789Z"},
		}},
		{"priority when severity is missing", `{"alerts":[{"fingerprint":"a","labels":{"priority":"P1"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityCritical, Summary: "alert a"},
		}},
		{"priority when severity is unknown", `{"alerts":[{"fingerprint":"a","labels":{"severity":"severe","priority":"p2"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityError, Summary: "alert a"},
		}},
		{"severity before priority", `{"alerts":[{"fingerprint":"a","labels":{"severity":"info","priority":"p1"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
		}},
		{"summary from title annotation", `{"alerts":[{"fingerprint":"a","labels":{"alertname":"X"},"annotations":{"title":"  Disk full  "}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "Disk full"},
		}},
		{"blank summary annotation is skipped", `{"alerts":[{"fingerprint":"a","labels":{"alertname":"X","instance":"h:1"},"annotations":{"summary":" "}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "X on h:1"},
		}},
		{"summary from alertname alone", `{"alerts":[{"fingerprint":"a","labels":{"alertname":"X"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "X"},
		}},
		{"summary cut to 500 runes", `{"alerts":[{"labels":{"job":"j"},"fingerprint":"a","annotations":{"summary":"` + long + `"}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: strings.Repeat("告", 499) + "…"},
		}},
		{"source URL must be absolute http(s)", `{"alerts":[
			{"labels":{"job":"j"},"fingerprint":"a","generatorURL":"HTTPS://Prom.example.com/graph"},
			{"labels":{"job":"j"},"fingerprint":"b","generatorURL":"ftp://prom.example.com/"},
			{"labels":{"job":"j"},"fingerprint":"c","generatorURL":"http:///nohost"},
			{"labels":{"job":"j"},"fingerprint":"d","generatorURL":"/graph?g0.expr=up"},
			{"labels":{"job":"j"},"fingerprint":"e","generatorURL":"http://[::1"}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a", SourceURL: "HTTPS://Prom.example.com/graph"},
			{Fingerprint: "b", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert b"},
			{Fingerprint: "c", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert c"},
			{Fingerprint: "d", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert d"},
			{Fingerprint: "e", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert e"},
		}},
		{"null annotations become empty", `{"alerts":[{"fingerprint":"a","labels":{"job":"j"},"annotations":null}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a",
				Labels: map[string]string{"job": "j"}, Annotations: map[string]string{}},
		}},
		{"blank fingerprint is derived", `{"alerts":[{"fingerprint":" ","labels":{"alertname":"X"}}]}`, 0, []want{
			{Fingerprint: LabelsFingerprint(map[string]string{"alertname": "X"}), Status: StatusFiring, Severity: SeverityNotice, Summary: "X"},
		}},
		{"unknown fields and odd types are ignored", `{"version":5,"groupKey":{"a":[1]},"numFiring":1,"receiver":null,"commonLabels":7,
			"alerts":[{"labels":{"job":"j"},"fingerprint":"a","amixr_demo":true,"values":{"A":1}}]}`, 0, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
		}},
		{"huge numeric groupKey", `{"version":"3","groupKey":123456789012345678901234567890,"truncatedAlerts":5,"alerts":[{"labels":{"job":"j"},"fingerprint":"a"}]}`, 5, []want{
			{Fingerprint: "a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert a"},
		}},
		{"truncatedAlerts null", `{"truncatedAlerts":null,"alerts":[]}`, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeAlertmanager([]byte(tt.body), testOpts)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			if b.Truncated != tt.truncated {
				t.Errorf("Truncated = %d, want %d", b.Truncated, tt.truncated)
			}
			checkAlerts(t, b.Alerts, tt.alerts)
			if utf8.RuneCountInString(strings.Repeat("告", 499)+"…") != maxSummaryRunes {
				t.Fatal("test table assumes a 500-rune limit")
			}
		})
	}
}

func TestAlertmanagerErrors(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		field     string
		fragments []string
	}{
		{"empty body", ``, "", []string{"empty"}},
		{"blank body", " \r\n\t", "", []string{"empty"}},
		{"not JSON", `alerts: [1]`, "", []string{"not valid JSON", "byte offset 0"}},
		{"number then garbage", `1 2`, "", []string{"not valid JSON", "byte offset 2"}},
		{"truncated JSON", `{"alerts":[{"status":"firing"`, "", []string{"not valid JSON", "byte offset 28"}},
		{"trailing garbage", `{"alerts":[]} x`, "", []string{"not valid JSON", "byte offset 14"}},
		{"null", `null`, "", []string{"got a JSON null"}},
		{"string", `"alerts"`, "", []string{"got a JSON string"}},
		{"array of alerts", `[{"status":"firing","labels":{}}]`, "", []string{"got a JSON array"}},
		{"single alert object", `{"status":"firing","labels":{"alertname":"X"},"startsAt":"2024-01-01T00:00:00Z"}`, "", []string{"single alert object", `"alerts" array`}},
		{"no alerts key", `{"status":"firing","receiver":"x"}`, "alerts", []string{"missing"}},
		{"alerts null", `{"alerts":null}`, "alerts", []string{"missing"}},
		{"alerts object", `{"alerts":{"0":{}}}`, "alerts", []string{"array", "got object"}},
		{"alerts string", `{"alerts":"[]"}`, "alerts", []string{"array", "got string"}},
		{"alert is a number", `{"alerts":[{},1]}`, "alerts[1]", []string{"expected an object, got number"}},
		{"alert is an array", `{"alerts":[[{}]]}`, "alerts[0]", []string{"expected an object, got array"}},
		{"label value is a number", `{"alerts":[{"labels":{"a":"b"}},{"labels":{"a":"b","n":1}}]}`, "alerts[1].labels", []string{"values must be strings", "number", "byte offset 55"}},
		{"label value is null-free object", `{"alerts":[{"labels":{"a":{}}}]}`, "alerts[0].labels", []string{"values must be strings", "object"}},
		{"labels is a string", `{"alerts":[{"labels":"a=b"}]}`, "alerts[0].labels", []string{"expected an object of strings, got string"}},
		{"annotation value is a bool", `{"alerts":[{},{},{"annotations":{"x":true}}]}`, "alerts[2].annotations", []string{"values must be strings"}},
		{"status unknown", `{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"pending"}]}`, "alerts[1].status", []string{`"pending"`}},
		{"status is a number", `{"alerts":[{"status":1}]}`, "alerts[0].status", []string{"expected a string, got number"}},
		{"fingerprint is a number", `{"alerts":[{"fingerprint":17}]}`, "alerts[0].fingerprint", []string{"expected a string"}},
		{"generatorURL is an array", `{"alerts":[{"generatorURL":[]}]}`, "alerts[0].generatorURL", []string{"expected a string"}},
		{"envelope status unknown", `{"status":"ok","alerts":[]}`, "status", []string{`"ok"`}},
		{"negative truncatedAlerts", `{"truncatedAlerts":-1,"alerts":[]}`, "truncatedAlerts", []string{"negative"}},
		{"fractional truncatedAlerts", `{"truncatedAlerts":1.5,"alerts":[]}`, "truncatedAlerts", []string{"integer", "1.5"}},
		{"huge truncatedAlerts", `{"truncatedAlerts":1e40,"alerts":[]}`, "truncatedAlerts", []string{"integer"}},
		{"string truncatedAlerts", `{"truncatedAlerts":"2","alerts":[]}`, "truncatedAlerts", []string{"integer", "string"}},
		{"startsAt not a time", `{"alerts":[{"startsAt":"yesterday"}]}`, "alerts[0].startsAt", []string{"RFC 3339", "yesterday"}},
		{"startsAt a number", `{"alerts":[{"labels":{"a":"b"}},{"startsAt":1700000000}]}`, "alerts[1].startsAt", []string{"RFC 3339"}},
		{"endsAt out of range", `{"alerts":[{"status":"resolved","endsAt":"2024-13-01T00:00:00Z"}]}`, "alerts[0].endsAt", []string{"RFC 3339"}},
		{"long status is cut in message", `{"alerts":[{"status":"` + strings.Repeat("x", 5000) + `"}]}`, "alerts[0].status", []string{"…"}},
		// Alertmanager's own API refuses an alert without labels ("at least
		// one label pair required"); the bot would open a nameless incident.
		{"labels empty", `{"alerts":[{"status":"firing","labels":{}}]}`, "alerts[0].labels", []string{"must not be empty"}},
		{"labels missing", `{"alerts":[{"labels":{"alertname":"A"}},{"fingerprint":"b","annotations":{"summary":"s"}}]}`, "alerts[1].labels", []string{"must not be empty"}},
		{"labels null", `{"alerts":[{"labels":null}]}`, "alerts[0].labels", []string{"must not be empty"}},
		{"labels empty, resolved", `{"status":"resolved","alerts":[{"labels":{},"endsAt":"2024-01-01T00:00:00Z"}]}`, "alerts[0].labels", []string{"must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeAlertmanager([]byte(tt.body), testOpts)
			wantFieldError(t, err, tt.field, tt.fragments...)
			if len(b.Alerts) != 0 {
				t.Errorf("error came with %d alerts", len(b.Alerts))
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message of %d bytes echoes too much", len(err.Error()))
			}
		})
	}
}

func FuzzAlertmanager(f *testing.F) {
	addFuzzSeeds(f,
		`{"alerts":[]}`,
		`{"status":"resolved","truncatedAlerts":3,"alerts":[{"labels":{"alertname":"A","instance":"i"},"startsAt":"2024-01-01T00:00:00.5+01:00","endsAt":"0001-01-01T00:00:00Z"}]}`,
		`{"alerts":[{"status":"x"}]}`,
		`{"alerts":[1,{"labels":{"a":2}}]}`,
		`{"labels":{"a":"b"}}`,
		`[{"alerts":[]}]`,
		`null`,
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeAlertmanager(body, testOpts)
		checkDecodeResult(t, b, err)
		fastAndSlowAgree[amEnvelope[amAlert]](t, body)
	})
}

// amBenchBody builds a realistic Alertmanager body with n alerts: labels and
// annotations as kube-prometheus sends them, nanosecond timestamps.
func amBenchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"receiver":"oncall","status":"firing","alerts":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"status":"firing","labels":{"alertname":"KubePodCrashLooping","cluster":"prod-eu-1","container":"api","job":"kube-state-metrics","namespace":"shop","pod":"api-7d9f8b6c5-x%02d","severity":"critical"},`+
			`"annotations":{"description":"Pod shop/api-7d9f8b6c5-x%02d (api) is in waiting state (reason: \"CrashLoopBackOff\").","runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping","summary":"Pod is crash looping."},`+
			`"startsAt":"2024-05-01T12:%02d:00.123456789Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.monitoring:9090/graph?g0.expr=max_over_time%%28kube_pod_container_status_waiting_reason%%5B5m%%5D%%29+%%3E%%3D+1\u0026g0.tab=1","fingerprint":"%016x"}`,
			i, i, i%60, 0x5a6e9db40eb24b04+i)
	}
	sb.WriteString(`],"groupLabels":{"alertname":"KubePodCrashLooping"},"commonLabels":{"alertname":"KubePodCrashLooping","severity":"critical"},"commonAnnotations":{},"externalURL":"http://alertmanager.monitoring:9093","version":"4","groupKey":"{}:{alertname=\"KubePodCrashLooping\"}","truncatedAlerts":0}`)
	return []byte(sb.String())
}

func BenchmarkDecodeAlertmanager(b *testing.B) {
	for _, n := range []int{1, 10} {
		body := amBenchBody(n)
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			if got, err := decodeAlertmanager(body, testOpts); err != nil || len(got.Alerts) != n {
				b.Fatalf("bench body does not decode: %v, %d alerts", err, len(got.Alerts))
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := decodeAlertmanager(body, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
