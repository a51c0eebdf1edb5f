package scenario

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// pageOnceConfig pages pat at once by one method (%METHOD%), with every
// provider set up.
const pageOnceConfig = `
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops, group_by: [alertname]}
twilio: {account_sid: "%TWILIO_SID%", auth_token: "%TWILIO_TOKEN%", from: "%TWILIO_FROM%", base_url: "%TWILIO%"}
smtp: {addr: "%SMTP%", from: "oncall-bot@example.com"}
slack: {bot_token: "%SLACK_TOKEN%", signing_secret: "%SLACK_SECRET%", api_url: "%SLACK%"}
people:
  - name: pat
    webhook: "%PERSONHOOK%pat"
    phone: "+12025550142"
    email: pat@example.com
    slack: U0PAT
    notify: [{method: %METHOD%, after: 0m}]
teams:
  - {name: ops, members: [pat], leads: [pat], schedule: ops, escalation_policy: p}
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: w, rotation: weekly, start: "2026-02-23 09:00", participants: [pat]}]
escalation_policies:
  - {name: p, steps: [{delay: 30m, targets: [{schedule: ops}]}]}
`

// A page handed out again after it was sent (the outbox lost the record of
// its delivery, or started it twice) is not sent again, by any contact
// method: the send log says it went, and that is final. Without a crash
// between sending and recording, nobody is paged twice.
func TestAPageHandedOutAgainAfterItWasSentIsNotSentAgain(t *testing.T) {
	cases := []struct {
		method string
		pages  func(h *Harness) int
	}{
		{"webhook", func(h *Harness) int { return len(pagesTo(h, "pat")) }},
		{"sms", func(h *Harness) int { return len(h.Twilio.Messages("+12025550142")) }},
		{"voice", func(h *Harness) int { return len(h.Twilio.Calls("+12025550142")) }},
		{"email", func(h *Harness) int { return len(h.SMTP.Mails("pat@example.com")) }},
		{"chat", func(h *Harness) int { return len(h.Slack.Messages("DU0PAT")) }},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			h := New(t, WithConfig(strings.ReplaceAll(pageOnceConfig, "%METHOD%", c.method)))
			inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull")))
			h.Advance(time.Second)
			if n := c.pages(h); n != 1 {
				t.Fatalf("pat got %d pages, want 1", n)
			}
			// The outbox forgets it delivered the page: the row is
			// pending, and due, again.
			consumer := oncall.NotifyConsumer(c.method)
			if err := h.App.Store.Write(context.Background(), func(tx *store.Tx) error {
				res, err := tx.Exec(`UPDATE outbox SET state = 'pending', head = 1, next_attempt_at = 0 WHERE consumer = ?`, consumer)
				if n, _ := res.RowsAffected(); err == nil && n != 1 {
					return fmt.Errorf("%d rows of %s, want 1", n, consumer)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			h.Advance(time.Second)
			if n := c.pages(h); n != 1 {
				t.Fatalf("pat got %d pages after the page was handed out again, want still 1", n)
			}
			if st := h.Incident(inc.ID).Incident.Status; st != "triggered" {
				t.Errorf("incident %s, want triggered", st)
			}
		})
	}
}
