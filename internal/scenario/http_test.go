package scenario

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

func TestHookRefusesBadRequestsAndLosesNothing(t *testing.T) {
	h := New(t)
	kept := h.OnlyIncident(h.PostAlerts(Firing("alertname=Kept", "instance=a")))
	good := AlertmanagerBody(Firing("alertname=Other"))

	huge := append([]byte(`{"alerts":[],"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	huge = append(huge, `"}`...)
	cases := []struct {
		name        string
		integration string
		token       string
		body        []byte
		code        int
		field       string
		errContains string
	}{
		{"no token", "alertmanager", "", good, 401, "", "missing integration token"},
		{"wrong token", "alertmanager", "guess", good, 401, "", "invalid integration token"},
		{"another integration's token", "alertmanager", Tokens["grafana"], good, 401, "", "invalid"},
		{"unknown integration", "nagios", "am-secret", good, 404, "", "unknown integration"},
		{"not json", "alertmanager", "am-secret", []byte("{oops"), 400, "", "JSON"},
		{"labels not strings", "alertmanager", "am-secret",
			[]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1}}]}`), 400, "alerts", ""},
		{"bad status", "alertmanager", "am-secret",
			[]byte(`{"version":"4","alerts":[{"status":"burning","labels":{"alertname":"x"}}]}`), 400, "alerts[0].status", ""},
		{"generic without title", "generic", "gen-secret", []byte(`{"message":"hi"}`), 400, "title", ""},
		{"over 1 MiB", "alertmanager", "am-secret", huge, 413, "", "1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.PostRaw(c.integration, c.token, c.body)
			if r.Code != c.code {
				t.Fatalf("code = %d %s, want %d", r.Code, r.Body, c.code)
			}
			if r.Error == "" {
				t.Fatalf("no JSON error in %s", r.Body)
			}
			if c.field != "" && !strings.HasPrefix(r.Field, c.field) {
				t.Fatalf("field = %q, want prefix %q (error %q)", r.Field, c.field, r.Error)
			}
			if c.errContains != "" && !strings.Contains(r.Error, c.errContains) {
				t.Fatalf("error %q does not mention %q", r.Error, c.errContains)
			}
		})
	}
	// The token may also come as ?token= (for senders that cannot set headers).
	r := h.do("POST", "/hooks/alertmanager?token=am-secret", nil, good)
	if r.Code != http.StatusAccepted {
		t.Fatalf("?token= = %d %s", r.Code, r.Body)
	}
	// Nothing accepted before was lost or changed by the bad requests.
	d := h.ExpectStatus(kept.ID, incident.StatusTriggered)
	if d.AlertCount != 1 {
		t.Fatalf("kept incident alert_count = %d", d.AlertCount)
	}
	list := listIncidents(t, h, "/api/v1/incidents")
	if len(list.Incidents) != 2 {
		t.Fatalf("incidents after bad requests = %d, want 2 (Kept and Other)", len(list.Incidents))
	}
}

type incidentList struct {
	Incidents []struct {
		ID             int64   `json:"id"`
		Status         string  `json:"status"`
		Title          string  `json:"title"`
		Team           string  `json:"team"`
		Severity       string  `json:"severity"`
		AlertCount     int     `json:"alert_count"`
		CreatedAt      string  `json:"created_at"`
		AcknowledgedAt *string `json:"acknowledged_at"`
		ResolvedAt     *string `json:"resolved_at"`
	} `json:"incidents"`
	NextCursor *string `json:"next_cursor"`
}

func listIncidents(t *testing.T, h *Harness, path string) incidentList {
	t.Helper()
	r := h.API("GET", path)
	if r.Code != 200 {
		t.Fatalf("GET %s = %d %s", path, r.Code, r.Body)
	}
	var l incidentList
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields() // the documented shape, nothing more
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return l
}

func TestListIncidentsPagesAndFilters(t *testing.T) {
	h := New(t)
	var ids []int64
	for i := range 7 {
		res := h.PostAlerts(Firing("alertname=A" + itoa(int64(i))))
		ids = append(ids, res.Incidents[0])
	}
	dba := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag", "service=postgres")))
	h.API("POST", "/api/v1/incidents/"+itoa(ids[0])+"/ack")
	h.API("POST", "/api/v1/incidents/"+itoa(ids[1])+"/resolve")

	// Pages of 3, newest first, until next_cursor is null.
	var seen []int64
	path := "/api/v1/incidents?limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		l := listIncidents(t, h, path)
		for _, inc := range l.Incidents {
			seen = append(seen, inc.ID)
		}
		if l.NextCursor == nil {
			break
		}
		path = "/api/v1/incidents?limit=3&cursor=" + *l.NextCursor
	}
	if len(seen) != 8 || seen[0] != dba.ID || seen[7] != ids[0] {
		t.Fatalf("paged ids = %v", seen)
	}

	l := listIncidents(t, h, "/api/v1/incidents?status=acknowledged")
	if len(l.Incidents) != 1 || l.Incidents[0].ID != ids[0] || l.Incidents[0].AcknowledgedAt == nil {
		t.Fatalf("acknowledged filter = %+v", l.Incidents)
	}
	l = listIncidents(t, h, "/api/v1/incidents?status=resolved")
	if len(l.Incidents) != 1 || l.Incidents[0].ResolvedAt == nil || l.Incidents[0].AlertCount != 1 {
		t.Fatalf("resolved filter = %+v", l.Incidents)
	}
	l = listIncidents(t, h, "/api/v1/incidents?team=dba")
	if len(l.Incidents) != 1 || l.Incidents[0].Team != "dba" || l.Incidents[0].Severity != "error" {
		t.Fatalf("team filter = %+v", l.Incidents)
	}

	for _, bad := range []struct{ query, field string }{
		{"status=open", "status"}, {"limit=0", "limit"}, {"limit=9999", "limit"}, {"cursor=nonsense", "cursor"},
	} {
		if r := h.API("GET", "/api/v1/incidents?"+bad.query); r.Code != 400 || r.Field != bad.field {
			t.Fatalf("%s = %d field %q, want 400 naming %q", bad.query, r.Code, r.Field, bad.field)
		}
	}
	if r := h.do("GET", "/api/v1/incidents", nil, nil); r.Code != 401 {
		t.Fatalf("API without token = %d, want 401", r.Code)
	}
	if r := h.do("GET", "/api/v1/incidents", http.Header{"Authorization": {"Bearer am-secret"}}, nil); r.Code != 401 {
		t.Fatalf("API with an integration token = %d, want 401", r.Code)
	}
	if r := h.API("GET", "/api/v1/incidents/999999"); r.Code != 404 {
		t.Fatalf("missing incident = %d, want 404", r.Code)
	}
	if r := h.API("GET", "/api/v1/incidents/abc"); r.Code != 400 || r.Field != "id" {
		t.Fatalf("bad id = %d %q, want 400 naming id", r.Code, r.Field)
	}
}

func TestIncidentDetailShowsAlertsAndTimeline(t *testing.T) {
	h := New(t)
	inc := h.OnlyIncident(h.PostAlerts(
		Firing("alertname=Mem", "instance=a").Summary("memory high on a"),
		Firing("alertname=Mem", "instance=b"),
	))
	r := h.API("GET", "/api/v1/incidents/"+itoa(inc.ID))
	var d struct {
		ID         int64 `json:"id"`
		AlertCount int   `json:"alert_count"`
		Alerts     []struct {
			Fingerprint string            `json:"fingerprint"`
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Summary     string            `json:"summary"`
		} `json:"alerts"`
		Timeline []struct {
			Kind  string `json:"kind"`
			Actor string `json:"actor"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil || r.Code != 200 {
		t.Fatalf("GET detail = %d %s (%v)", r.Code, r.Body, err)
	}
	if d.AlertCount != 2 || len(d.Alerts) != 2 || d.Alerts[0].Summary != "memory high on a" ||
		d.Alerts[1].Labels["instance"] != "b" || d.Alerts[0].Fingerprint == "" {
		t.Fatalf("detail alerts = %+v", d.Alerts)
	}
	if len(d.Timeline) < 2 || d.Timeline[0].Kind != "incident.triggered" || d.Timeline[0].Actor != "alertmanager" {
		t.Fatalf("detail timeline = %+v", d.Timeline)
	}
}

func TestOutboxRetriesAndHonoursRetryAfter(t *testing.T) {
	h := New(t)
	h.Webhook.FailNext(1, http.StatusServiceUnavailable, "")
	h.Webhook.FailNext(1, http.StatusTooManyRequests, "120")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Retry")))
	if got := len(h.Webhook.Events(inc.ID)); got != 0 {
		t.Fatalf("delivered %d events through a failing receiver", got)
	}
	// First retry after about 2s (±20%): it meets the 429.
	h.Advance(3 * time.Second)
	if h.Webhook.Attempts() != 2 {
		t.Fatalf("attempts = %d, want 2", h.Webhook.Attempts())
	}
	// Retry-After: 120 is honoured: nothing until 120s after the 429,
	// then delivered.
	var nextMS int64
	h.App.Store.Read().QueryRow(`SELECT next_attempt_at FROM outbox WHERE kind = 'incident.triggered'`).Scan(&nextMS)
	retryAt := time.UnixMilli(nextMS)
	if wait := retryAt.Sub(h.Clock.Now()); wait < 115*time.Second || wait > 120*time.Second {
		t.Fatalf("next attempt in %s, want about 120s after the 429", wait)
	}
	h.Advance(retryAt.Sub(h.Clock.Now()) - time.Millisecond)
	if h.Webhook.Attempts() != 2 {
		t.Fatalf("retried before Retry-After: attempts = %d", h.Webhook.Attempts())
	}
	h.Advance(time.Millisecond)
	got := h.Webhook.Events(inc.ID)
	if len(got) < 2 || got[0] != "incident.triggered:triggered" || got[1] != "incident.paging:triggered" || len(got) != len(h.Incident(inc.ID).Timeline) {
		t.Fatalf("events after recovery = %v, want triggered then paging, in order", got)
	}
	if h.Webhook.Duplicates() != 0 {
		t.Fatalf("%d duplicate deliveries", h.Webhook.Duplicates())
	}
}

func TestOutboxGivesUpOnPermanentErrors(t *testing.T) {
	h := New(t)
	h.Webhook.FailNext(1, http.StatusBadRequest, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Rejected")))
	var state, lastErr string
	err := h.App.Store.Read().QueryRow(`SELECT state, last_error FROM outbox WHERE kind = 'incident.triggered'`).Scan(&state, &lastErr)
	if err != nil || state != "dead" || !strings.Contains(lastErr, "400") {
		t.Fatalf("outbox row state=%q err=%q (%v), want dead with the 400", state, lastErr, err)
	}
	// A dead head does not block the incident's later events.
	if got := h.Webhook.Events(inc.ID); len(got) != len(h.Incident(inc.ID).Timeline)-1 || got[0] != "incident.paging:triggered" {
		t.Fatalf("events = %v", got)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	h := New(t)
	h.PostAlerts(Firing("alertname=M"))
	h.PostRaw("alertmanager", "wrong", nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := h.do("GET", p, nil, nil); r.Code != 200 {
			t.Fatalf("%s = %d %s", p, r.Code, r.Body)
		}
	}
	r := h.do("GET", "/metrics", nil, nil)
	for _, want := range []string{
		`bot_alerts_ingested_total{integration="alertmanager",result="new"} 1`,
		`bot_webhook_requests_total{code="401",integration="alertmanager"} 1`,
		`bot_webhook_requests_total{code="202",integration="alertmanager"} 1`,
		`bot_incidents{status="triggered"} 1`,
		`bot_timers_pending 2`, // the escalation's next step and the hourly gap check
		`bot_http_request_duration_seconds_count{code="202",method="POST",route="/hooks/{integration}"} 1`,
		`bot_outbox_deliveries_total{consumer="webhook:events",result="delivered"} 4`,
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// While the receiver is down, the outbox depth shows what waits.
	h.Webhook.FailNext(10, http.StatusBadGateway, "")
	h.PostAlerts(Firing("alertname=N"))
	r = h.do("GET", "/metrics", nil, nil)
	if want := `bot_outbox_pending{consumer="webhook:events"} 4`; !strings.Contains(string(r.Body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
