package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
)

const emailConfig = `
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops}
smtp: {addr: "%SMTP%", from: "oncall-bot@example.com"}
people:
  - {name: carol, email: carol@example.com, notify: [{method: email, after: 0m}]}
  - {name: dave, email: dave@example.com, notify: [{method: email, after: 0m}]}
teams:
  - {name: ops, members: [carol, dave], leads: [dave], schedule: ops, escalation_policy: ops-default}
schedules:
  - name: ops
    time_zone: UTC
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [carol]}
escalation_policies:
  - name: ops-default
    steps:
      - {delay: 15m, targets: [{schedule: ops}]}
      - {delay: 15m, targets: [{user: carol}]}
`

func TestEmailPagesRetryOn4xxAndGiveUpOn5xx(t *testing.T) {
	h := New(t, WithConfig(emailConfig))
	h.SMTP.RefuseNext(1, "451 4.3.0 mailbox busy, try later")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Queue", "severity=critical").Summary("queue backlog")))
	if got := h.SMTP.Mails("carol@example.com"); len(got) != 0 {
		t.Fatalf("mail through a 451: %d", len(got))
	}
	h.Advance(5 * time.Second) // retried after the backoff
	got := h.SMTP.Mails("carol@example.com")
	if len(got) != 1 {
		t.Fatalf("carol got %d mails after the retry, want 1", len(got))
	}
	if subj := got[0].Msg.Header.Get("Subject"); subj != "[CRITICAL] #1 queue backlog" {
		t.Fatalf("subject %q", subj)
	}
	if !strings.Contains(got[0].Body, `Reply "1 ack"`) || !strings.Contains(got[0].Body, "/api/v1/incidents/1") {
		t.Fatalf("body %q", got[0].Body)
	}
	if got[0].From != "oncall-bot@example.com" || got[0].Msg.Header.Get("Message-Id") == "" {
		t.Fatalf("envelope from %q, headers %v", got[0].From, got[0].Msg.Header)
	}

	// A 550 is permanent: the timeline says the email failed.
	h.SMTP.RefuseNext(1, "550 5.1.1 no such user")
	h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/escalate")
	h.Tick()
	d := h.Incident(inc.ID)
	if countKind(d, oncall.KindUndeliverable, "email to carol") != 1 || !strings.Contains(Timeline(d), "550") {
		t.Fatalf("permanent email failure not on the timeline:\n%s", Timeline(d))
	}
}
