package scenario

import (
	"strings"
	"testing"
	"time"
)

const gapConfig = `
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops}
twilio: {account_sid: "%TWILIO_SID%", auth_token: "%TWILIO_TOKEN%", from: "%TWILIO_FROM%", base_url: "%TWILIO%"}
people:
  - {name: alice}
  - {name: lead, phone: "+12025550199", notify: [{method: voice, after: 0m}, {method: sms, after: 1m}]}
teams:
  - {name: ops, members: [alice], leads: [lead], schedule: ops}
schedules:
  - name: ops
    time_zone: UTC
    layers:
      # Business hours only: nobody on call on weeknights and weekends.
      - name: office
        rotation: daily
        start: "2026-02-23 00:00"
        participants: [alice]
        windows: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]
webhooks:
  - {name: events, url: "%WEBHOOK%", secret: hook-secret, events: [schedule.gap]}
`

func TestLeadsAreWarnedOfComingGapsOnce(t *testing.T) {
	h := New(t, WithConfig(gapConfig))
	h.Tick()
	// Monday 03:00: gaps until 09:00 today, 17:00-09:00 each weeknight,
	// and the weekend, within the week ahead.
	sms := h.Twilio.Messages(leadPhone)
	if len(sms) == 0 {
		t.Fatal("the lead was not told of the gaps")
	}
	if !strings.Contains(sms[0].Body, "Nobody is on call for ops") {
		t.Fatalf("gap SMS = %q", sms[0].Body)
	}
	// Voice is never used for a warning (it is not urgent): the lead's
	// first non-call method, SMS, carries it.
	if len(h.Twilio.Calls(leadPhone)) != 0 {
		t.Fatal("the lead was called about a gap")
	}
	gaps := 0
	for _, d := range h.Webhook.Deliveries() {
		if d.Event == "schedule.gap" {
			gaps++
		}
	}
	if gaps < 6 {
		t.Fatalf("%d gap events published, want one per gap of the week", gaps)
	}
	// Hourly rechecks find the same gaps and stay quiet about them.
	h.Advance(3 * time.Hour)
	again := 0
	for _, d := range h.Webhook.Deliveries() {
		if d.Event == "schedule.gap" {
			again++
		}
	}
	if again > gaps+1 { // at most the one gap that came into the 7-day window
		t.Fatalf("gap events went from %d to %d on rechecks", gaps, again)
	}
	if h.Webhook.Duplicates() != 0 {
		t.Fatal("a gap was announced twice")
	}
}
