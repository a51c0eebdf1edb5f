package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// discordGatewayConfig is discordConfig taking interactions over the
// gateway: no public key, so no HTTP endpoint.
var discordGatewayConfig = strings.Replace(discordConfig, `public_key: "`+DiscordPublicKey+`"`, "gateway: true", 1)

// newDiscordGateway starts a bot on the fake Discord's gateway and waits
// until it is connected.
func newDiscordGateway(t *testing.T, config string) *Harness {
	t.Helper()
	if !strings.Contains(config, "gateway: true") {
		t.Fatal("discordConfig changed: no public_key to replace with gateway")
	}
	h := New(t, WithConfig(config))
	h.Discord.Gateway.WaitReady(1)
	return h
}

// waitArmed waits until a timer is armed on the fake clock. Only the
// gateway makes them in these scenarios: the harness drives the timer and
// outbox loops by hand.
func waitArmed(t *testing.T, h *Harness) {
	t.Helper()
	deadline := time.NewTimer(socketWait)
	defer deadline.Stop()
	for {
		armed := h.Clock.TimerCreated()
		if h.Clock.Pending() > 0 {
			return
		}
		select {
		case <-armed:
		case <-deadline.C:
			t.Fatalf("no timer armed within %v", socketWait)
		}
	}
}

func TestDiscordGatewayButtonsCommandsAndReconnect(t *testing.T) {
	h := newDiscordGateway(t, discordGatewayConfig)
	gw := h.Discord.Gateway
	// Interactions need no intent: the bot asks for none, so Discord
	// sends it no guild events it has no use for.
	if ids := gw.Identifies(); len(ids) != 1 || ids[0].Intents != 0 {
		t.Fatalf("IDENTIFY = %+v, want one, with intents 0", ids)
	}

	// REST is unchanged: the alert opens the thread and the card.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))
	th := h.Discord.Thread("#1 disk full on db1")
	if th == nil || !slices.Equal(th.Members, []string{"111", "222"}) {
		t.Fatalf("incident thread = %+v, want it with the team added", th)
	}
	if msgs := h.Discord.Messages(th.ID); len(msgs) == 0 || !strings.Contains(msgs[0].Components, `"custom_id":"ack #1"`) {
		t.Fatalf("card = %+v", msgs)
	}
	// Without a public key nothing could be verified over HTTP, so the
	// endpoint is not there.
	if r := h.DiscordPress("222", th.ID, "ack #1"); r.Code != 404 {
		t.Fatalf("HTTP interaction with the gateway on = %d %s, want 404", r.Code, r.Body)
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)

	// bob presses Acknowledge: the press comes over the gateway, the
	// answer goes to the callback, for bob's eyes only; the card changes.
	cb := gw.WaitCallback(gw.Press("222", th.ID, "ack #1"))
	if cb.Type != 4 || cb.Flags != 64 || !strings.Contains(cb.Content, "acknowledged by bob") {
		t.Fatalf("press answered %+v, want an ephemeral message saying so", cb)
	}
	h.Tick()
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "discord:bob" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	if card := h.Discord.Messages(th.ID)[0]; card.Edits == 0 || !strings.Contains(card.Components, `"custom_id":"unack #1"`) {
		t.Fatalf("card after the press = %+v", card)
	}

	// alice asks for help with /oncall escalate: answered in the thread.
	cb = gw.WaitCallback(gw.Command("111", th.ID, "escalate"))
	if cb.Type != 4 || cb.Flags == 64 || !strings.Contains(cb.Content, "#1 escalated by alice") {
		t.Fatalf("/oncall escalate answered %+v", cb)
	}
	h.Tick()
	if d := h.ExpectStatus(inc.ID, incident.StatusTriggered); !slices.Contains(AllKinds(d), oncall.KindEscalated) {
		t.Fatalf("no manual escalation in the timeline:\n%s", Timeline(d))
	}

	// Discord moves the session: the bot hangs up, opens a new
	// connection and resumes the session there, and the next press works.
	gw.Reconnect()
	gw.WaitReady(2)
	if n := gw.Resumes(); n != 1 || len(gw.Identifies()) != 1 {
		t.Fatalf("after RECONNECT: %d resumes, %d identifies; want the session resumed", n, len(gw.Identifies()))
	}
	if codes := gw.CloseCodes(); codes[0] != 1012 {
		t.Fatalf("the bot closed the first connection with %d, want 1012 (service restart)", codes[0])
	}
	cb = gw.WaitCallback(gw.Press("111", th.ID, "resolve #1"))
	if !strings.Contains(cb.Content, "resolved by alice") {
		t.Fatalf("press after the reconnect answered %+v", cb)
	}
	h.Tick()
	h.ExpectStatus(inc.ID, incident.StatusResolved)
	if gw.Heartbeats() == 0 {
		t.Error("no heartbeat acknowledged")
	}
}

func TestDiscordGatewayBesideTheHTTPEndpoint(t *testing.T) {
	// With the public key kept, the HTTP endpoint stays too: the app can
	// be switched between the two on Discord's side.
	cfg := strings.Replace(discordConfig, `public_key: "`+DiscordPublicKey+`"`,
		`public_key: "`+DiscordPublicKey+`", gateway: true`, 1)
	h := newDiscordGateway(t, cfg)
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Both")))
	th := h.Discord.Thread("#1 Both")
	if d := decodeDiscord(t, h.DiscordPress("222", th.ID, "ack #1")); !strings.Contains(d.Data.Content, "acknowledged by bob") {
		t.Fatalf("HTTP press answered %+v", d)
	}
	h.ExpectStatus(1, incident.StatusAcknowledged)
	gw := h.Discord.Gateway
	gw.WaitCallback(gw.Press("222", th.ID, "resolve #1"))
	h.Tick()
	h.ExpectStatus(1, incident.StatusResolved)
}

func TestDiscordGatewayWrongTokenIsRefusedAndRetried(t *testing.T) {
	cfg := strings.Replace(discordGatewayConfig, `bot_token: "`+DiscordToken+`"`, `bot_token: "revoked-token"`, 1)
	h := New(t, WithConfig(cfg))
	gw := h.Discord.Gateway
	// Discord closes the connection with 4004; the bot waits on its clock,
	// 5 seconds and then 10, and asks again, and stops cleanly (the
	// harness closes it) while it waits.
	gw.WaitRefused(1)
	waitArmed(t, h)
	h.Advance(4 * time.Second)
	if h.Clock.Pending() != 1 {
		t.Fatal("the first wait ended before 5 seconds")
	}
	h.Advance(time.Second)
	gw.WaitRefused(2)
	waitArmed(t, h)
	h.Advance(9 * time.Second)
	if h.Clock.Pending() != 1 {
		t.Fatal("the second wait ended before 10 seconds")
	}
	h.Advance(time.Second)
	gw.WaitRefused(3)
	waitArmed(t, h)
	if n, ids := gw.Ready(), gw.Identifies(); n != 0 || len(ids) != 0 {
		t.Fatalf("%d connections ready, IDENTIFYs accepted %+v, with a refused token", n, ids)
	}
}
