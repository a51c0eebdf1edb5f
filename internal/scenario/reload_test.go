package scenario

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// reload puts yaml in force in the running bot, as an edit of its
// configuration would: the placeholders of the scenario's fakes filled
// in, and the server settings that New set (the database, the public URL)
// kept.
func (h *Harness) reload(yaml string) {
	h.T.Helper()
	yaml = strings.NewReplacer("%WEBHOOK%", h.Webhook.URL(), "%SLACK%", h.Slack.URL(),
		"%SLACK_TOKEN%", SlackToken, "%SLACK_SECRET%", SlackSecret).Replace(yaml)
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		h.T.Fatalf("reloaded config: %v", err)
	}
	cfg.Database, cfg.BaseURL = h.Config.Database, h.Config.BaseURL
	if err := h.App.Reload(context.Background(), cfg); err != nil {
		h.T.Fatalf("reload: %v", err)
	}
}

// A configuration edited while the bot runs is in force on Slack at once:
// dan, just added to ops, acknowledges from the incident's channel; web,
// a new team, answers in its channel and gets its own incident's channel
// with carol invited; the events webhook, new too, hears the next event.
func TestSlackFollowsAReloadedConfiguration(t *testing.T) {
	before := slackConfig[:strings.Index(slackConfig, "webhooks:")] // no outgoing webhook yet
	after := strings.NewReplacer(
		"  - {name: carol, time_zone: Australia/Sydney}",
		"  - {name: carol, time_zone: Australia/Sydney, slack: U0CAROL}\n  - {name: dan, time_zone: Europe/London, slack: U0DAN}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol, dan], leads: [alice], schedule: ops}\n  - {name: web, members: [carol], schedule: ops, rooms: {slack: C0WEB}}",
		"routes:\n", "routes:\n  - {name: web, match: ['service=\"web\"'], team: web, group_by: [alertname]}\n",
	).Replace(slackConfig)
	if after == slackConfig {
		t.Fatal("the edit of the configuration changed nothing")
	}
	h := New(t, WithConfig(before))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("Disk full on db1")))
	ch := h.Slack.Channel("inc-1-disk-full-on-db1")
	if ch == nil {
		t.Fatal("no channel for incident 1")
	}

	// Before the reload, dan is nobody to the bot and C0WEB nobody's room.
	h.SlackPress("U0DAN", ch.ID, "ack #1")
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
	if _, kind, text := h.SlackCommand("U0CAROL", "C0WEB", "who"); kind != "ephemeral" || !strings.Contains(text, "answers only in its team rooms") {
		t.Fatalf("who in C0WEB before the reload = %s %q, want the one refusal", kind, text)
	}
	if n := len(h.Webhook.Deliveries()); n != 0 {
		t.Fatalf("%d webhook deliveries before the webhook was configured", n)
	}

	h.reload(after)

	// dan, a member of ops now, acknowledges from the incident's channel.
	if code := h.SlackPress("U0DAN", ch.ID, "ack #1"); code != 200 {
		t.Fatalf("dan's press = %d", code)
	}
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "slack:dan" {
		t.Fatalf("acknowledged by %q, want slack:dan", d.AcknowledgedBy)
	}
	// The webhook added by the reload gets the next event, and nothing
	// from before it was there.
	if got := h.Webhook.Events(inc.ID); !slices.Equal(got, []string{"incident.acknowledged:acknowledged"}) {
		t.Fatalf("webhook events of incident 1 = %q, want the acknowledgement alone", got)
	}

	// C0WEB is web's room: a command there implies the team.
	if _, kind, text := h.SlackCommand("U0CAROL", "C0WEB", "who"); kind != "in_channel" || !strings.Contains(text, "for web") {
		t.Fatalf("who in C0WEB after the reload = %s %q, want web's on-call", kind, text)
	}

	// web's alerts open a channel of their own, with web's carol invited.
	web := h.OnlyIncident(h.PostAlerts(Firing("alertname=CheckoutErrors", "service=web").Summary("Checkout errors")))
	if web.Team != "web" {
		t.Fatalf("the web alert went to team %q", web.Team)
	}
	wch := h.Slack.Channel("inc-2-checkout-errors")
	if wch == nil || !slices.Contains(wch.Members, "U0CAROL") || slices.Contains(wch.Members, "U0DAN") {
		t.Fatalf("web's incident channel = %+v, want carol of web invited and not dan of ops", wch)
	}
	if got := h.Webhook.Events(web.ID); len(got) == 0 || got[0] != "incident.triggered:triggered" {
		t.Fatalf("webhook events of web's incident = %q, want its triggering first", got)
	}
}
