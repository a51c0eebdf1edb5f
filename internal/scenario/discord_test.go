package scenario

import (
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

var discordConfig = strings.NewReplacer(
	"people:\n  - {name: alice, time_zone: Europe/London}\n  - {name: bob, time_zone: America/New_York}",
	"people:\n  - {name: alice, time_zone: Europe/London, discord: \"111\"}\n  - {name: bob, time_zone: America/New_York, discord: \"222\"}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {discord: \""+DiscordIncident+"\"}}",
	"api_tokens:", "discord: {bot_token: \""+DiscordToken+"\", public_key: \""+DiscordPublicKey+"\", api_url: \"%DISCORD%\"}\napi_tokens:",
).Replace(BaseConfig)

type discordResponse struct {
	Type int `json:"type"`
	Data struct {
		Content string `json:"content"`
		Flags   int    `json:"flags"`
	} `json:"data"`
}

func decodeDiscord(t *testing.T, r Response) discordResponse {
	t.Helper()
	var d discordResponse
	if r.Code != 200 || json.Unmarshal(r.Body, &d) != nil {
		t.Fatalf("interaction answered %d %s", r.Code, r.Body)
	}
	return d
}

func TestDiscordThreadPerIncidentButtonsAndCommands(t *testing.T) {
	h := New(t, WithConfig(discordConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))

	th := h.Discord.Thread("#1 disk full on db1")
	if th == nil || th.Type != 12 || th.Parent != DiscordIncident || !slices.Equal(th.Members, []string{"111", "222"}) {
		t.Fatalf("incident thread = %+v, want private (12) under the incidents channel with the team added", th)
	}
	msgs := h.Discord.Messages(th.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Components, `"custom_id":"ack #1"`) {
		t.Fatalf("card = %+v", msgs)
	}
	if dm := h.Discord.Messages("D111"); len(dm) != 1 || !strings.Contains(dm[0].Components, "Acknowledge") {
		t.Fatalf("alice's DM = %+v", dm)
	}

	d := decodeDiscord(t, h.DiscordPress("222", th.ID, "ack #1"))
	if d.Type != 4 || d.Data.Flags != 64 || !strings.Contains(d.Data.Content, "acknowledged by bob") {
		t.Fatalf("press answered %+v", d)
	}
	if got := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); got.AcknowledgedBy != "discord:bob" {
		t.Fatalf("acknowledged by %q", got.AcknowledgedBy)
	}
	msgs = h.Discord.Messages(th.ID)
	if msgs[0].Edits == 0 || !strings.Contains(msgs[0].Components, `"custom_id":"unack #1"`) {
		t.Fatalf("card after the press = %+v", msgs[0])
	}

	d = decodeDiscord(t, h.DiscordCommand("111", th.ID, "resolve"))
	if d.Data.Flags == 64 || !strings.Contains(d.Data.Content, "#1 resolved by alice") {
		t.Fatalf("/oncall resolve answered %+v", d)
	}
	// The thread hears of the ack and the resolve before it is archived;
	// Discord's five messages in five seconds per channel make those
	// lines wait their turn, a few seconds each.
	h.Advance(30 * time.Second)
	if th := h.Discord.Thread("#1 disk full on db1"); !th.Archived {
		t.Fatal("the thread was not archived on resolve")
	}
	d = decodeDiscord(t, h.DiscordCommand("999", th.ID, "reopen"))
	if d.Data.Flags != 64 || !strings.Contains(d.Data.Content, "don't know who you are on discord") {
		t.Fatalf("stranger answered %+v", d)
	}
}

func TestDiscordInteractionsAreVerified(t *testing.T) {
	h := New(t, WithConfig(discordConfig))
	ping := map[string]any{"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1}
	if d := decodeDiscord(t, h.DiscordInteraction(ping, DiscordKey, 0)); d.Type != 1 {
		t.Fatalf("PING answered %+v, want PONG", d)
	}
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	if r := h.DiscordInteraction(ping, other, 0); r.Code != 401 {
		t.Fatalf("forged signature = %d", r.Code)
	}
	if r := h.DiscordInteraction(ping, DiscordKey, -10*60); r.Code != 401 {
		t.Fatalf("replayed (10 minutes old) = %d", r.Code)
	}
}

func TestDiscordRateLimitIsWaitedOut(t *testing.T) {
	h := New(t, WithConfig(discordConfig))
	h.Discord.FailNextOn("/threads", 1, 429, "15")
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Busy")))
	if h.Discord.Thread("#1 Busy") != nil {
		t.Fatal("thread created through a 429")
	}
	h.Advance(14 * time.Second)
	if h.Discord.Thread("#1 Busy") != nil {
		t.Fatal("retried before retry_after")
	}
	h.Advance(2 * time.Second)
	if h.Discord.Thread("#1 Busy") == nil {
		t.Fatal("no thread after retry_after")
	}
}

func TestDiscordHalfMadeThreadIsNotDuplicated(t *testing.T) {
	h := New(t, WithConfig(discordConfig))
	// The thread starts, adding bob fails: the attempt must not leave a
	// thread behind for its retry to duplicate.
	h.Discord.FailMemberAdds(1)
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Flaky")))
	if n := h.Discord.ThreadsNamed("#1 Flaky"); n != 0 {
		t.Fatalf("%d threads after the failed attempt, want the half-made one deleted", n)
	}
	h.Advance(time.Minute)
	if n := h.Discord.ThreadsNamed("#1 Flaky"); n != 1 {
		t.Fatalf("%d threads after the retry, want 1", n)
	}
	th := h.Discord.Thread("#1 Flaky")
	if len(th.Members) != 2 {
		t.Errorf("members %v, want both", th.Members)
	}
	cards := 0
	for _, m := range h.Discord.Messages(th.ID) {
		if strings.Contains(m.Components, `"custom_id":"ack #1"`) {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("%d cards in the thread, want 1", cards)
	}
}
