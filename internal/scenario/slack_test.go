package scenario

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

var slackConfig = strings.NewReplacer(
	"people:\n  - {name: alice, time_zone: Europe/London}\n  - {name: bob, time_zone: America/New_York}",
	"people:\n  - {name: alice, time_zone: Europe/London, slack: U0ALICE}\n  - {name: bob, time_zone: America/New_York, slack: U0BOB}",
	"api_tokens:", "slack: {bot_token: \"%SLACK_TOKEN%\", signing_secret: \"%SLACK_SECRET%\", api_url: \"%SLACK%\", private_channels: true}\napi_tokens:",
).Replace(BaseConfig)

func TestSlackChannelPerIncidentButtonsAndCommands(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("Disk full on db1!")))

	ch := h.Slack.Channel("inc-1-disk-full-on-db1")
	if ch == nil || !ch.Private || !slices.Equal(ch.Members, []string{"U0ALICE", "U0BOB"}) || len(ch.Pins) != 1 {
		t.Fatalf("incident channel = %+v, want private with the team invited and the card pinned", ch)
	}
	msgs := h.Slack.Messages(ch.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Blocks, `"ack #1"`) || msgs[0].TS != ch.Pins[0] {
		t.Fatalf("card message = %+v", msgs)
	}
	// alice is paged by DM with the card.
	if dm := h.Slack.Messages("DU0ALICE"); len(dm) != 1 || !strings.Contains(dm[0].Blocks, "Acknowledge") {
		t.Fatalf("alice's DM = %+v", dm)
	}

	// bob presses Acknowledge on the card: acked, the card is edited in
	// place, the thread hears of it.
	if code := h.SlackPress("U0BOB", ch.ID, "ack #1"); code != 200 {
		t.Fatalf("press = %d", code)
	}
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "slack:bob" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	msgs = h.Slack.Messages(ch.ID)
	if msgs[0].Edits == 0 || !strings.Contains(msgs[0].Blocks, `"unack #1"`) {
		t.Fatalf("card after the press = %+v", msgs[0])
	}
	if !slices.ContainsFunc(msgs, func(m SlackMessage) bool {
		return m.ThreadTS == msgs[0].TS && strings.Contains(m.Text, "Acknowledged by slack:bob")
	}) {
		t.Fatalf("the thread was not told: %+v", msgs)
	}

	// /oncall escalate typed in the channel: the incident is implied.
	// Escalating the acknowledged incident asks the next step for help:
	// it is triggered again until someone acknowledges anew.
	code, kind, text := h.SlackCommand("U0ALICE", ch.ID, "escalate")
	if code != 200 || kind != "in_channel" || !strings.Contains(text, "#1 escalated by alice") {
		t.Fatalf("escalate an acked incident = %d %s %q", code, kind, text)
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
	_, kind, text = h.SlackCommand("U0ALICE", ch.ID, "unack")
	if kind != "ephemeral" || !strings.Contains(text, "not acknowledged") {
		t.Fatalf("unack of a triggered incident = %s %q", kind, text)
	}
	// Someone Slack does not know to the bot is told how to fix it.
	_, kind, text = h.SlackCommand("U0STRANGER", ch.ID, "ack")
	if kind != "ephemeral" || !strings.Contains(text, "don't know who you are on slack") {
		t.Fatalf("stranger = %s %q", kind, text)
	}
	// A refused press is answered privately.
	h.SlackPress("U0STRANGER", ch.ID, "resolve #1")
	if !slices.ContainsFunc(h.Slack.Messages(ch.ID), func(m SlackMessage) bool { return m.EphemeralTo == "U0STRANGER" }) {
		t.Fatal("the stranger's press got no private answer")
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
}

func TestSlackRequestsAreVerified(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	h.OnlyIncident(h.PostAlerts(Firing("alertname=X")))
	form := url.Values{"command": {"/oncall"}, "text": {"resolve #1"}, "user_id": {"U0ALICE"}, "channel_id": {"C0001"}}
	if r := h.slackPost("/slack/commands", form, "wrong-secret", 0); r.Code != 401 {
		t.Fatalf("forged signature = %d", r.Code)
	}
	if r := h.slackPost("/slack/commands", form, SlackSecret, -6*60); r.Code != 401 || !strings.Contains(string(r.Body), "5 minutes") {
		t.Fatalf("replayed (6 minutes old) = %d %s", r.Code, r.Body)
	}
	h.ExpectStatus(1, incident.StatusTriggered)
	// URL verification of the Events API.
	r := h.do("POST", "/slack/events", nil, nil)
	if r.Code != 401 {
		t.Fatalf("unsigned event = %d", r.Code)
	}
}

func TestSlackDownForTenMinutesLosesNothing(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	h.Slack.FailNext(3, 503, "")
	h.Slack.FailNext(1, 429, "30")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	h.API("POST", "/api/v1/incidents/1/ack")
	h.Tick()
	h.Advance(10 * time.Minute)
	ch := h.Slack.Channel("inc-1-outage")
	if ch == nil {
		t.Fatal("no channel after Slack came back")
	}
	if msgs := h.Slack.Messages(ch.ID); len(msgs) == 0 || !strings.Contains(msgs[0].Blocks, `"unack #1"`) {
		t.Fatalf("card after the outage = %+v", msgs)
	}
	if n := h.Slack.Calls("conversations.create"); n > 5 {
		t.Fatalf("%d channel creations for one incident", n)
	}
	_ = inc
}

func TestSlackDownWhilePhoneFallbackFiresOnTime(t *testing.T) {
	cfg := strings.Replace(slackConfig, "people:\n  - {name: alice, time_zone: Europe/London, slack: U0ALICE}",
		"twilio: {account_sid: \"%TWILIO_SID%\", auth_token: \"%TWILIO_TOKEN%\", from: \"%TWILIO_FROM%\", base_url: \"%TWILIO%\"}\n"+
			"people:\n  - {name: alice, time_zone: Europe/London, slack: U0ALICE, phone: \"+441632960001\", notify: [{method: chat, after: 0m}, {method: sms, after: 3m}]}", 1)
	h := New(t, WithConfig(cfg))
	// Slack is down for ten minutes: every call fails for that long.
	h.Slack.FailNext(1000, 503, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	h.Advance(3 * time.Minute)
	// The SMS goes out at +3 minutes regardless of Slack.
	if got := h.Twilio.Messages("+441632960001"); len(got) != 1 {
		t.Fatalf("alice got %d SMS at +3m while Slack was down, want 1", len(got))
	}
	h.Advance(7 * time.Minute)
	h.Slack.mu.Lock()
	h.Slack.failures = nil // Slack is back
	h.Slack.mu.Unlock()
	h.Advance(15 * time.Minute) // the backoff reaches the next attempt
	ch := h.Slack.Channel("inc-1-outage")
	if ch == nil {
		t.Fatal("no channel after Slack came back")
	}
	msgs := h.Slack.Messages(ch.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Blocks, `"ack #1"`) {
		t.Fatalf("card after the outage = %+v", msgs)
	}
	// Everything queued meanwhile was delivered: alice's DM page too.
	if dm := h.Slack.Messages("DU0ALICE"); len(dm) != 1 {
		t.Fatalf("alice's DM after the outage = %d messages", len(dm))
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
}

func TestSlackSwapAndRotationEditFromChat(t *testing.T) {
	cfg := strings.NewReplacer("  - {name: carol, time_zone: Australia/Sydney}", "  - {name: carol, time_zone: Australia/Sydney, slack: U0CAROL}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {slack: C0TEAM}}").Replace(slackConfig)
	h := New(t, WithConfig(cfg))
	// alice, on call, asks for cover; carol takes it; the next page is carol's.
	_, kind, text := h.SlackCommand("U0ALICE", "C0TEAM", "cover")
	if kind != "in_channel" || !strings.Contains(text, "/oncall accept 1") {
		t.Fatalf("cover answered %s %q", kind, text)
	}
	if _, _, text = h.SlackCommand("U0CAROL", "C0TEAM", "accept 1"); !strings.Contains(text, "carol covers alice") {
		t.Fatalf("accept answered %q", text)
	}
	h.PostAlerts(Firing("alertname=AfterSwap"))
	if dm := h.Slack.Messages("DU0CAROL"); len(dm) != 1 {
		t.Fatalf("carol (covering) got %d DMs, want the page", len(dm))
	}
	if dm := h.Slack.Messages("DU0ALICE"); len(dm) != 0 {
		t.Fatalf("alice (covered) was paged: %d DMs", len(dm))
	}
	// alice, the lead, adds carol to the rotation and sees the handoffs.
	_, _, text = h.SlackCommand("U0ALICE", "C0TEAM", "rotation add carol")
	if !strings.Contains(text, "Rotation weekly changed (add carol)") || !strings.Contains(text, "Next: carol from Mon 9 Mar 09:00 GMT") {
		t.Fatalf("rotation add answered %q", text)
	}
	if _, kind, text = h.SlackCommand("U0BOB", "C0TEAM", "rotation remove carol"); kind != "ephemeral" || !strings.Contains(text, "Only the leads") {
		t.Fatalf("a non-lead's edit answered %s %q", kind, text)
	}
}

func TestEscalationStepPagesTheTeamsSlackChannel(t *testing.T) {
	cfg := strings.NewReplacer(
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, escalation_policy: loud, rooms: {slack: C0TEAM}}",
		"default_route:\n  team: ops\n  escalation_policy: ops-default", "default_route:\n  team: ops",
		"escalation_policy: dba-default", "escalation_policy: loud",
		"webhooks:", "escalation_policies:\n  - {name: loud, steps: [{delay: 5m, targets: [{schedule: ops}]}, {delay: 5m, targets: [{room: ops}]}]}\nwebhooks:",
	).Replace(slackConfig)
	h := New(t, WithConfig(cfg))
	h.Slack.mu.Lock()
	h.Slack.channels["C0TEAM"] = &SlackChannel{ID: "C0TEAM", Name: "ops"}
	h.Slack.mu.Unlock()
	h.PostAlerts(Firing("alertname=Loud").Summary("<!channel> Loud"))
	h.Advance(5 * time.Minute)
	// The channel is paged with <!here>, the bot's one mention there; the
	// alert's own <!channel> arrives as text and mentions no one.
	const want = `<!here> [ERROR] #1 &lt;!channel&gt; Loud (team ops). Reply "1 ack" to acknowledge.`
	msgs := h.Slack.Messages("C0TEAM")
	if len(msgs) != 1 || msgs[0].Text != want {
		t.Fatalf("team channel after step 2 = %+v, want one message %q", msgs, want)
	}
}

func TestSlackAckUpdatesEveryCardAndStopsThePaging(t *testing.T) {
	cfg := strings.Replace(slackConfig, "people:\n  - {name: alice, time_zone: Europe/London, slack: U0ALICE}",
		"twilio: {account_sid: \"%TWILIO_SID%\", auth_token: \"%TWILIO_TOKEN%\", from: \"%TWILIO_FROM%\", base_url: \"%TWILIO%\"}\n"+
			"console_tokens: [{token: t-alice, person: alice}]\n"+
			"people:\n  - {name: alice, time_zone: Europe/London, slack: U0ALICE, phone: \"+441632960001\", notify: [{method: chat, after: 0m}, {method: sms, after: 3m}]}", 1)
	h := New(t, WithConfig(cfg))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	ch := h.Slack.Channel("inc-1-outage")
	h.Advance(time.Minute)
	h.SlackPress("U0BOB", ch.ID, "ack #1")
	h.Tick()
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	// The channel's card, alice's page and the console's room all say so.
	if msgs := h.Slack.Messages(ch.ID); !strings.Contains(msgs[0].Blocks, `"unack #1"`) {
		t.Fatalf("channel card after the ack: %s", msgs[0].Blocks)
	}
	if dm := h.Slack.Messages("DU0ALICE"); len(dm) != 1 || !strings.Contains(dm[0].Blocks, `"unack #1"`) {
		t.Fatalf("alice's page after the ack: %+v", dm)
	}
	b := browser(t)
	post(t, b, h.Server.URL+"/login", url.Values{"token": {"t-alice"}})
	if code, body, _ := get(t, b, h.Server.URL+"/incidents/1"); code != 200 || !strings.Contains(body, "acknowledged by slack:bob") {
		t.Fatalf("console room after the ack = %d, does not show it", code)
	}
	// Past alice's SMS at +3m and the end of the policy: no page anywhere.
	h.Advance(30 * time.Minute)
	if got := h.Twilio.Messages("+441632960001"); len(got) != 0 {
		t.Fatalf("alice got an SMS after the ack: %+v", got)
	}
	if dm := h.Slack.Messages("DU0ALICE"); len(dm) != 1 {
		t.Fatalf("alice was paged again after the ack: %d DMs", len(dm))
	}
}
