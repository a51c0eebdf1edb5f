package scenario

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

// slackSocketConfig is slackConfig on Socket Mode: an app-level token
// instead of the signing secret, so no HTTP endpoint is served.
var slackSocketConfig = strings.Replace(slackConfig, `signing_secret: "%SLACK_SECRET%"`,
	`socket_mode: true, app_token: "`+SlackAppToken+`"`, 1)

// commandAnswer reads a slash command's answer from its ack's payload.
func commandAnswer(t *testing.T, payload json.RawMessage) (responseType, text string) {
	t.Helper()
	var ans struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(payload, &ans); err != nil || ans.ResponseType == "" {
		t.Fatalf("slash command ack payload = %s (%v), want response_type and text", payload, err)
	}
	return ans.ResponseType, ans.Text
}

// eventually fails the test unless cond comes true within socketWait: for
// what the bot does after it has acknowledged an envelope.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(socketWait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, socketWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlackSocketModeButtonsCommandsAndReconnect(t *testing.T) {
	if !strings.Contains(slackSocketConfig, "socket_mode: true") {
		t.Fatal("slackConfig changed: no signing_secret to replace with socket_mode")
	}
	h := New(t, WithConfig(slackSocketConfig))
	sock := h.Slack.Socket
	sock.WaitConnections(1)

	// The Web API side is unchanged: the alert opens the channel and the
	// card.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("Disk full on db1!")))
	ch := h.Slack.Channel("inc-1-disk-full-on-db1")
	if ch == nil || len(ch.Pins) != 1 {
		t.Fatalf("incident channel = %+v, want it with the card pinned", ch)
	}
	if msgs := h.Slack.Messages(ch.ID); len(msgs) == 0 || !strings.Contains(msgs[0].Blocks, `"ack #1"`) {
		t.Fatalf("card message = %+v", msgs)
	}
	// Without a signing secret nothing can be verified over HTTP, so the
	// endpoints are not there.
	form := url.Values{"command": {"/oncall"}, "text": {"resolve #1"}, "user_id": {"U0ALICE"}, "channel_id": {ch.ID}}
	if r := h.slackPost("/slack/commands", form, "", 0); r.Code != 404 {
		t.Fatalf("HTTP slash command in Socket Mode = %d %s, want 404", r.Code, r.Body)
	}

	// bob presses Acknowledge: the envelope is acked once the press has
	// taken effect, with no payload; the card is edited in place.
	if ack := sock.WaitAck(sock.Press("U0BOB", ch.ID, "ack #1")); string(ack) != "null" {
		t.Fatalf("press ack payload = %s, want none", ack)
	}
	h.Tick()
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "slack:bob" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	if card := h.Slack.Messages(ch.ID)[0]; card.Edits == 0 || !strings.Contains(card.Blocks, `"unack #1"`) {
		t.Fatalf("card after the press = %+v", card)
	}

	// The slash command is answered in its ack: in the channel when done,
	// privately when refused.
	kind, text := commandAnswer(t, sock.WaitAck(sock.SlashCommand("U0ALICE", ch.ID, "escalate")))
	if kind != "in_channel" || !strings.Contains(text, "#1 escalated by alice") {
		t.Fatalf("escalate = %s %q", kind, text)
	}
	h.Tick()
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
	kind, text = commandAnswer(t, sock.WaitAck(sock.SlashCommand("U0STRANGER", ch.ID, "ack")))
	if kind != "ephemeral" || !strings.Contains(text, "don't know who you are on slack") {
		t.Fatalf("a stranger's ack = %s %q", kind, text)
	}

	// A refused press is answered privately through the Web API, after
	// the ack.
	sock.WaitAck(sock.Press("U0STRANGER", ch.ID, "resolve #1"))
	eventually(t, "private answer to the stranger's press", func() bool {
		return slices.ContainsFunc(h.Slack.Messages(ch.ID), func(m SlackMessage) bool { return m.EphemeralTo == "U0STRANGER" })
	})
	h.ExpectStatus(inc.ID, incident.StatusTriggered)

	// Events are not used, but acked so Slack does not resend them.
	sock.WaitAck(sock.Send("events_api", map[string]any{
		"token": "verification-token-unused", "team_id": "T0001", "api_app_id": "A0FAKEAPP", "type": "event_callback",
		"event_id": "Ev0001", "event_time": 1772420400,
		"event": map[string]any{"type": "app_mention", "user": "U0ALICE", "text": "<@U0BOT> hi", "ts": "1772420400.000200", "channel": ch.ID},
	}, false))

	// Slack asks for a fresh connection: the bot opens one and the next
	// press still works.
	sock.Disconnect("refresh_requested")
	sock.WaitConnections(2)
	sock.WaitAck(sock.Press("U0ALICE", ch.ID, "resolve #1"))
	h.Tick()
	h.ExpectStatus(inc.ID, incident.StatusResolved)
	if n := sock.Connections(); n != 2 {
		t.Fatalf("%d connections after one disconnect, want 2", n)
	}
}

func TestSlackSocketModeBesideTheHTTPEndpoints(t *testing.T) {
	// With the signing secret kept, the HTTP endpoints stay too: the app
	// can be switched between the two on Slack's side.
	cfg := strings.Replace(slackConfig, `signing_secret: "%SLACK_SECRET%"`,
		`signing_secret: "%SLACK_SECRET%", socket_mode: true, app_token: "`+SlackAppToken+`"`, 1)
	h := New(t, WithConfig(cfg))
	h.Slack.Socket.WaitConnections(1)
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Both")))
	ch := h.Slack.Channel("inc-1-both")
	if code := h.SlackPress("U0BOB", ch.ID, "ack #1"); code != 200 {
		t.Fatalf("HTTP press = %d", code)
	}
	h.ExpectStatus(1, incident.StatusAcknowledged)
	h.Slack.Socket.WaitAck(h.Slack.Socket.Press("U0BOB", ch.ID, "resolve #1"))
	h.Tick()
	h.ExpectStatus(1, incident.StatusResolved)
}

func TestSlackSocketModeWrongAppTokenIsRefused(t *testing.T) {
	cfg := strings.Replace(slackSocketConfig, SlackAppToken, "xapp-1-A0FAKEAPP-1-revoked", 1)
	h := New(t, WithConfig(cfg))
	// The bot asks, is refused, and keeps running: the Web API side still
	// works and the bot stops cleanly (the harness closes it) while it
	// waits to try again.
	h.Slack.Socket.WaitRefused(1)
	h.OnlyIncident(h.PostAlerts(Firing("alertname=StillUp")))
	if h.Slack.Channel("inc-1-stillup") == nil {
		t.Fatal("no incident channel while Socket Mode is refused")
	}
	if n := h.Slack.Socket.Connections(); n != 0 {
		t.Fatalf("%d connections with a refused token", n)
	}
}
