package scenario

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
)

const cmtConfig = `
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops, group_by: [alertname]}
people:
  - name: pat
    webhook: "%PERSONHOOK%pat"
    notify:
      # managed, at most one page every 10 minutes by this method
      - {method: webhook, after: 0m, rate_limit: 10m}
      # only in office hours
      - {method: email, after: 0m, enabled: {window: {from: "09:00", to: "17:00"}, time_zone: UTC}}
  - name: watcher
    webhook: "%PERSONHOOK%watcher"
    notify: [{method: webhook, mode: allnotifications}]
teams:
  - {name: ops, members: [pat, watcher], leads: [pat], schedule: ops, escalation_policy: p}
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: w, rotation: weekly, start: "2026-02-23 09:00", participants: [pat]}]
escalation_policies:
  - {name: p, steps: [{delay: 30m, targets: [{schedule: ops}]}]}
`

type pageBody struct {
	Key      string `json:"key"`
	Text     string `json:"text"`
	Incident struct {
		ID int64 `json:"id"`
	} `json:"incident"`
}

func pagesTo(h *Harness, who string) []pageBody {
	var out []pageBody
	for _, d := range h.Webhook.To("/person/" + who) {
		var p pageBody
		json.Unmarshal(d.Body, &p)
		out = append(out, p)
	}
	return out
}

func TestRateLimitDefersPagesAndAnAckCancelsThem(t *testing.T) {
	h := New(t, WithConfig(cmtConfig))
	a := h.OnlyIncident(h.PostAlerts(Firing("alertname=A")))
	h.Advance(2 * time.Minute)
	b := h.OnlyIncident(h.PostAlerts(Firing("alertname=B")))
	h.Advance(time.Minute)
	if got := pagesTo(h, "pat"); len(got) != 1 || got[0].Incident.ID != a.ID {
		t.Fatalf("pat's pages = %+v, want only A's (B waits for the rate limit)", got)
	}
	// B's page waits until 10 minutes after A's, then goes.
	h.Advance(7*time.Minute - time.Millisecond)
	if len(pagesTo(h, "pat")) != 1 {
		t.Fatal("B's page broke the rate limit")
	}
	h.Advance(time.Millisecond)
	if got := pagesTo(h, "pat"); len(got) != 2 || got[1].Incident.ID != b.ID {
		t.Fatalf("after the limit pat's pages = %+v", got)
	}
	// A third incident, acknowledged while its page waits: nothing goes.
	h.Advance(time.Minute)
	c := h.OnlyIncident(h.PostAlerts(Firing("alertname=C")))
	h.API("POST", "/api/v1/incidents/"+itoa(c.ID)+"/ack")
	h.Advance(20 * time.Minute)
	if got := pagesTo(h, "pat"); len(got) != 2 {
		t.Fatalf("a page went out for an acknowledged incident: %+v", got)
	}
}

func TestMethodOutsideItsEnabledWindowIsSkippedAndSaidSo(t *testing.T) {
	h := New(t, WithConfig(cmtConfig)) // 03:00 UTC: outside 09:00-17:00
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Night")))
	d := h.Incident(inc.ID)
	if countKind(d, oncall.KindNotifySkipped, "email to pat: only between 09:00 and 17:00 UTC") != 1 {
		t.Fatalf("the skipped email is not on the timeline:\n%s", Timeline(d))
	}
	if countKind(d, oncall.KindUndeliverable, "email to pat") != 0 {
		t.Fatalf("a skipped method was also tried:\n%s", Timeline(d))
	}
}

func TestAllNotificationsPagerSeesEveryAlertEvent(t *testing.T) {
	h := New(t, WithConfig(cmtConfig))
	x, y := Firing("alertname=Disk", "instance=a"), Firing("alertname=Disk", "instance=b")
	h.PostAlerts(x)
	h.PostAlerts(x, y) // y joins; x is a repeat and says nothing new
	h.Advance(time.Minute)
	h.PostAlerts(x.Resolved(h.Clock.Now()), y.Resolved(h.Clock.Now()))
	var texts []string
	for _, p := range pagesTo(h, "watcher") {
		texts = append(texts, p.Text)
	}
	// triggered, y added, x resolved, y resolved, incident resolved
	if len(texts) != 5 || !strings.Contains(texts[0], "triggered") || !strings.Contains(texts[4], "#1 resolved") {
		t.Fatalf("watcher's raw pages:\n%s", strings.Join(texts, "\n"))
	}
	// The managed pipeline still pages pat once, the watcher not at all.
	if got := pagesTo(h, "pat"); len(got) != 1 {
		t.Fatalf("pat got %d managed pages", len(got))
	}
}
