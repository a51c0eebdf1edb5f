package ingest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSharedFixtures decodes the payloads that cannot be copied into this
// repository (AGPL-3.0, see testdata/SOURCES.md) straight from the team's
// shared collection.
func TestSharedFixtures(t *testing.T) {
	requireSharedFixtures(t)

	instanceDown := func(fp, instance string) want {
		return want{
			Fingerprint: fp, Status: StatusFiring, Severity: SeverityCritical,
			Summary: "Instance " + instance + " down", StartsAt: "2023-06-12T08:24:38.326Z",
		}
	}
	playValues := []want{
		{Fingerprint: "c6eadffa33fcdf37", Status: StatusFiring, Severity: SeverityNotice,
			Summary: "This alert was triggered for zone us-1", SourceURL: "https://play.grafana.org/alerting/1afz29v7z/edit",
			StartsAt: "2021-10-12T09:51:03.157076+02:00"},
		{Fingerprint: "bc97ff14869b13e3", Status: StatusFiring, Severity: SeverityNotice,
			Summary: "This alert was triggered for zone eu-1", SourceURL: "https://play.grafana.org/alerting/d1rdpdv7k/edit",
			StartsAt: "2021-10-12T09:56:03.157076+02:00"},
	}

	tests := []struct {
		file    string
		decoder string
		alerts  []want
		// errField, when set, means the body must be rejected with a
		// FieldError on that field ("-" stands for the whole body).
		errField string
	}{
		{file: "alertmanager/oncall_alertmanager_example_firing_2alerts.json", decoder: "alertmanager", alerts: []want{
			instanceDown("f404ecabc8dd5cd7", "localhost:8081"), instanceDown("f8f08d4e32c61a9d", "localhost:8082"),
		}},
		{file: "alertmanager/oncall_grafana_alerting_example_firing_3alerts.json", decoder: "alertmanager", alerts: []want{
			instanceDown("f404ecabc8dd5cd7", "localhost:8081"), instanceDown("f8f08d4e32c61a9d", "localhost:8082"),
			instanceDown("39f38c0611ee7abd", "localhost:8083"),
		}},
		{file: "alertmanager/oncall_grafana_alerting_example_firing_3alerts.json", decoder: "grafana", alerts: []want{
			instanceDown("f404ecabc8dd5cd7", "localhost:8081"), instanceDown("f8f08d4e32c61a9d", "localhost:8082"),
			instanceDown("39f38c0611ee7abd", "localhost:8083"),
		}},
		{file: "alertmanager/oncall_legacy_demo_firing_1alert_extra_field.json", decoder: "alertmanager", alerts: []want{{
			Fingerprint: LabelsFingerprint(map[string]string{"alertname": "TestAlert", "region": "eu-1"}),
			Status:      StatusFiring, Severity: SeverityNotice, Summary: "TestAlert", StartsAt: "2018-12-25T15:47:47.377363608Z",
		}}},
		{file: "alertmanager/oncall_grafana_legacy_test_single_alert_object.json", decoder: "alertmanager", errField: "-"},
		// It has "status", "labels" and "annotations" like a legacy body has
		// "state" and "tags", but no legacy field: it must not pass as one.
		{file: "alertmanager/oncall_grafana_legacy_test_single_alert_object.json", decoder: "grafana", errField: "-"},
		{file: "grafana/grafana_alerting_webhook_v1_test_default_payload_firing.json", decoder: "grafana", alerts: []want{{
			// Zero startsAt: the receive time stands in.
			Fingerprint: "fac0861a85de433a", Status: StatusFiring, Severity: SeverityNotice, Summary: "alert1",
			SourceURL: "http://localhost/test?orgId=1", Labels: map[string]string{"alertname": "alert1", "lbl1": "val1"},
		}}},
		{file: "grafana/grafana_docs_webhook_example_values.json", decoder: "grafana", alerts: playValues},
		{file: "grafana/grafana_docs_webhook_example_valueString_v8.json", decoder: "grafana", alerts: playValues},
		{file: "grafana/grafana_docs_legacy_webhook_example.json", decoder: "grafana", alerts: []want{{
			Fingerprint: legacyFingerprint("1", "1", "2", "1", "Panel Title alert"), Status: StatusFiring, Severity: SeverityNotice,
			Summary:   "[Alerting] Panel Title alert",
			SourceURL: "http://localhost:3000/d/hZ7BuVbWz/test-dashboard?fullscreen&edit&tab=alert&panelId=2&orgId=1",
			Labels:    map[string]string{"alertname": "Panel Title alert", "tag name": "tag value"},
			Annotations: map[string]string{
				"message": "Notification Message", "title": "[Alerting] Panel Title alert", "eval_matches": "Count=1",
			},
		}}},
		{file: "zabbix/oncall_zabbix_example_payload_alerting.json", decoder: "zabbix", alerts: []want{{
			Fingerprint: "08d6891a-835c-e661-39fa-96b6a9e26552", Status: StatusFiring, Severity: SeverityNotice,
			Summary: "TestAlert: The whole system is down", SourceURL: "https://en.wikipedia.org/wiki/Downtime",
			Labels:      map[string]string{"alertname": "TestAlert: The whole system is down", "source": "zabbix"},
			Annotations: map[string]string{"message": "This alert was sent by user for demonstration purposes\nSmth happened. Oh no!"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.decoder+"/"+filepath.Base(tt.file), func(t *testing.T) {
			b, err := Decode(tt.decoder, readFile(t, filepath.Join(sharedFixturesDir, tt.file)), testOpts)
			if tt.errField != "" {
				field := tt.errField
				if field == "-" {
					field = ""
				}
				wantFieldError(t, err, field)
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkDecodeResult(t, b, nil)
			checkAlerts(t, b.Alerts, tt.alerts)
		})
	}

	// Every shared fixture of a format must at least decode cleanly (or be
	// the one known wrong-shape body), so a new file there is not ignored.
	for _, format := range fixtureFormats {
		for _, f := range fixtureFiles(t, sharedFixturesDir, format) {
			if filepath.Base(f) == "oncall_grafana_legacy_test_single_alert_object.json" {
				continue
			}
			b, err := Decode(format, readFile(t, f), testOpts)
			if err != nil {
				t.Errorf("%s: %v", f, err)
			}
			checkDecodeResult(t, b, err)
		}
	}
}

// TestTestdataMatchesShared guards the "byte for byte" promise of
// testdata/SOURCES.md.
func TestTestdataMatchesShared(t *testing.T) {
	requireSharedFixtures(t)
	for _, format := range fixtureFormats {
		for _, f := range fixtureFiles(t, "testdata", format) {
			shared, err := os.ReadFile(filepath.Join(sharedFixturesDir, format, filepath.Base(f)))
			if err != nil {
				t.Errorf("%s: no shared original: %v", f, err)
				continue
			}
			if string(shared) != string(readFile(t, f)) {
				t.Errorf("%s differs from the shared original", f)
			}
		}
	}
}
