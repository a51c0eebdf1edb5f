package scenario

import (
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// discordOnCallConfig is the ops team on Discord, carol included, with
// alice paged by DM at once and by SMS after 3 minutes, and a two-step
// policy: whoever is on call, then carol 5 minutes later.
var discordOnCallConfig = strings.NewReplacer(
	"people:\n  - {name: alice, time_zone: Europe/London}\n  - {name: bob, time_zone: America/New_York}\n  - {name: carol, time_zone: Australia/Sydney}",
	"twilio: {account_sid: \"%TWILIO_SID%\", auth_token: \"%TWILIO_TOKEN%\", from: \"%TWILIO_FROM%\", base_url: \"%TWILIO%\"}\npeople:\n"+
		"  - {name: alice, time_zone: Europe/London, discord: \"111\", phone: \""+alicePhone+"\", notify: [{method: chat, after: 0m}, {method: sms, after: 3m}]}\n"+
		"  - {name: bob, time_zone: America/New_York, discord: \"222\"}\n"+
		"  - {name: carol, time_zone: Australia/Sydney, discord: \"333\"}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {discord: \""+DiscordIncident+"\"}}",
	"api_tokens:", "discord: {bot_token: \""+DiscordToken+"\", public_key: \""+DiscordPublicKey+"\", api_url: \"%DISCORD%\"}\napi_tokens:",
	"webhooks:", "escalation_policies:\n"+
		"  - {name: ops-default, steps: [{delay: 5m, targets: [{schedule: ops}]}, {delay: 5m, targets: [{user: carol}]}]}\n"+
		"  - {name: dba-default, steps: [{delay: 5m, targets: [{team: dba}]}]}\nwebhooks:",
).Replace(BaseConfig)

// Discord ids of discordOnCallConfig's people, and the fake's DM
// channels with them.
const (
	dcAlice, dcBob, dcCarol = "111", "222", "333"
	dmAlice, dmCarol        = "D111", "D333"
)

// discordBack ends an outage of the fake: calls succeed again.
func discordBack(h *Harness) {
	h.Discord.mu.Lock()
	defer h.Discord.mu.Unlock()
	h.Discord.failures = nil
}

// dcPinged reports whether a message of msgs notifies the Discord user.
func dcPinged(msgs []DiscordMessage, user string) bool {
	return slices.ContainsFunc(msgs, func(m DiscordMessage) bool { return slices.Contains(m.Pings, user) })
}

// dcContents lists the messages' contents, for failure messages.
func dcContents(msgs []DiscordMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Content + "\n")
	}
	return b.String()
}

func TestDiscordSwapAskedAndAcceptedInChat(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	// alice, on call until 09:00, asks in the team's channel for cover of
	// the rest of her shift.
	d := decodeDiscord(t, h.DiscordCommand(dcAlice, DiscordIncident, "cover"))
	if d.Data.Flags == 64 || !strings.Contains(d.Data.Content, "alice asks for cover from Mon 2 Mar 03:00 GMT to Mon 2 Mar 09:00 GMT") ||
		!strings.Contains(d.Data.Content, "/oncall accept 1") {
		t.Fatalf("cover answered %+v, want it in the channel", d)
	}
	// carol takes it; bob, too late, is told privately.
	if d = decodeDiscord(t, h.DiscordCommand(dcCarol, DiscordIncident, "accept 1")); !strings.Contains(d.Data.Content, "carol covers alice from Mon 2 Mar 03:00 GMT to Mon 2 Mar 09:00 GMT (swap 1)") {
		t.Fatalf("carol's accept answered %+v", d)
	}
	if d = decodeDiscord(t, h.DiscordCommand(dcBob, DiscordIncident, "accept 1")); d.Data.Flags != 64 || !strings.Contains(d.Data.Content, "already taken by carol") {
		t.Fatalf("bob's late accept answered %+v", d)
	}
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("after the swap on call = %v, want carol", oc.OnCall)
	}

	// The next page is carol's DM; alice sleeps on: no DM, and no SMS
	// when her 3 minutes pass.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=AfterSwap")))
	h.Advance(4 * time.Minute)
	if dm := h.Discord.Messages(dmCarol); len(dm) != 1 || !strings.Contains(dm[0].Components, `"custom_id":"ack #1"`) {
		t.Fatalf("carol (covering) got %+v, want the page with its buttons", dm)
	}
	if dm := h.Discord.Messages(dmAlice); len(dm) != 0 {
		t.Fatalf("alice (covered) got DMs: %+v", dm)
	}
	if sms := h.Twilio.Messages(alicePhone); len(sms) != 0 {
		t.Fatalf("alice (covered) was paged by SMS: %+v", sms)
	}
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 1 || got[0] != "escalation.step: step 1/2: carol (on call for ops)" {
		t.Fatalf("escalation = %v", got)
	}
}

func TestDiscordLeadEditsTheRotationFromChat(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	// alice, the lead, adds carol after bob and sees what it does.
	d := decodeDiscord(t, h.DiscordCommand(dcAlice, DiscordIncident, "rotation add carol"))
	want := "Rotation weekly changed (add carol)." +
		"\nNext: bob from Mon 2 Mar 09:00 GMT" +
		"\nNext: carol from Mon 9 Mar 09:00 GMT" +
		"\nNext: alice from Mon 16 Mar 09:00 GMT"
	if !strings.HasPrefix(d.Data.Content, want) {
		t.Fatalf("rotation add answered:\n%s\nwant it to start:\n%s", d.Data.Content, want)
	}
	// bob is no lead: refused privately, with the reason; nothing changes.
	d = decodeDiscord(t, h.DiscordCommand(dcBob, DiscordIncident, "rotation remove carol"))
	if d.Data.Flags != 64 || !strings.Contains(d.Data.Content, "Only the leads of team ops (alice) may change its rotation") {
		t.Fatalf("a non-lead's edit answered %+v", d)
	}
	var f struct{ Final []struct{ Users []string } }
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops?from=2026-03-09T10:00:00Z&to=2026-03-09T11:00:00Z").Body, &f)
	if len(f.Final) != 1 || !slices.Equal(f.Final[0].Users, []string{"carol"}) {
		t.Fatalf("the week of Mar 9 is %+v, want carol's", f.Final)
	}
}

func TestDiscordEscalateFromTheThread(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Latency")))
	th := h.Discord.Thread("#1 Latency")
	if th == nil {
		t.Fatal("no thread for the incident")
	}
	h.Advance(time.Minute)
	if dm := h.Discord.Messages(dmCarol); len(dm) != 0 {
		t.Fatalf("carol paged before step 2: %+v", dm)
	}
	// alice needs help: /oncall escalate in the thread (the incident is
	// implied) pages step 2, carol, now rather than at +5 minutes.
	d := decodeDiscord(t, h.DiscordCommand(dcAlice, th.ID, "escalate"))
	if d.Data.Flags == 64 || !strings.Contains(d.Data.Content, "Incident #1 escalated by alice") {
		t.Fatalf("escalate answered %+v", d)
	}
	got := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	want := []string{
		"escalation.step: step 1/2: alice (on call for ops)",
		"escalation.manual: to step 2",
		"escalation.step: step 2/2: carol (named in the policy)",
	}
	if steps := stepsOf(got); !slices.Equal(steps, want) {
		t.Fatalf("escalation:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	if !slices.ContainsFunc(got.Timeline, func(e incident.Event) bool {
		return e.Kind == oncall.KindEscalated && e.Actor == "discord:alice"
	}) {
		t.Fatalf("the escalation is not alice's:\n%s", Timeline(got))
	}
	if dm := h.Discord.Messages(dmCarol); len(dm) != 1 || !strings.Contains(dm[0].Content, "#1 Latency") {
		t.Fatalf("carol's DM page = %+v", dm)
	}
	// carol is in the thread and called by a mention that pings her.
	if th := h.Discord.Thread("#1 Latency"); !slices.Contains(th.Members, dcCarol) || !dcPinged(h.Discord.Messages(th.ID), dcCarol) {
		t.Fatalf("carol not summoned to the thread: members %v\n%s", th.Members, dcContents(h.Discord.Messages(th.ID)))
	}
	// The policy goes on from the jump: out of steps 5 minutes later,
	// nobody paged twice.
	h.Advance(10 * time.Minute)
	if steps := stepsOf(h.Incident(inc.ID)); len(steps) != 4 || steps[3] != "escalation.exhausted: policy ops-default ran out of steps and nobody acknowledged" {
		t.Fatalf("after the jump: %v", steps)
	}
	if dm := h.Discord.Messages(dmCarol); len(dm) != 1 {
		t.Fatalf("carol got %d DM pages, want 1", len(dm))
	}
}

func TestDiscordDownForTenMinutesWhilePhoneFallbackFiresOnTime(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	// Discord is down for ten minutes: every call fails for that long.
	h.Discord.FailNext(1000, 503, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	if h.Discord.ThreadsNamed("#1 Outage") != 0 {
		t.Fatal("thread created while Discord was down")
	}
	// alice's SMS goes out at +3 minutes, not before, whatever Discord does.
	h.Advance(3*time.Minute - time.Second)
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS before +3m: %+v", got)
	}
	h.Advance(time.Second)
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 || !strings.Contains(got[0].Body, "#1 Outage") {
		t.Fatalf("alice got %+v at +3m while Discord was down, want the page", got)
	}
	// Step 2 (carol) runs at +5 minutes, Discord or not.
	h.Advance(7 * time.Minute)
	if at := stepRanAt(h.Incident(inc.ID), "step 2/2: carol"); !at.Equal(Start.Add(5 * time.Minute)) {
		t.Fatalf("step 2 ran at %s while Discord was down, want %s:\n%s", at, Start.Add(5*time.Minute), Timeline(h.Incident(inc.ID)))
	}
	if h.Discord.ThreadsNamed("#1 Outage") != 0 || len(h.Discord.Messages(dmAlice)) != 0 {
		t.Fatal("Discord took calls while down")
	}

	discordBack(h)
	h.Advance(15 * time.Minute) // the backoff reaches the next attempts
	if n := h.Discord.ThreadsNamed("#1 Outage"); n != 1 {
		t.Fatalf("%d threads for the incident after Discord came back, want 1", n)
	}
	th := h.Discord.Thread("#1 Outage")
	if !slices.Equal(th.Members, []string{dcAlice, dcBob, dcCarol}) {
		t.Fatalf("thread members %v, want the team", th.Members)
	}
	msgs := h.Discord.Messages(th.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Components, `"custom_id":"ack #1"`) || !strings.Contains(msgs[0].Content, "Status: triggered") {
		t.Fatalf("card after the outage = %+v", msgs)
	}
	if !dcPinged(msgs, dcAlice) || !dcPinged(msgs, dcCarol) {
		t.Fatalf("the steps' mentions were lost:\n%s", dcContents(msgs))
	}
	// Everything queued meanwhile was delivered, once: both DM pages.
	if dm := h.Discord.Messages(dmAlice); len(dm) != 1 {
		t.Fatalf("alice's DM pages after the outage = %+v, want 1", dm)
	}
	if dm := h.Discord.Messages(dmCarol); len(dm) != 1 {
		t.Fatalf("carol's DM pages after the outage = %+v, want 1", dm)
	}
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("alice got %d SMS, want 1", len(got))
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
}

func TestDiscordDownForTenMinutesThenTheCardShowsTheAck(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	h.Discord.FailNext(1000, 503, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	h.Advance(2 * time.Minute)
	if r := h.API("POST", "/api/v1/incidents/1/ack"); r.Code != 200 {
		t.Fatalf("ack = %d %s", r.Code, r.Body)
	}
	h.Advance(8 * time.Minute)
	discordBack(h)
	h.Advance(15 * time.Minute)
	if n := h.Discord.ThreadsNamed("#1 Outage"); n != 1 {
		t.Fatalf("%d threads for the incident, want 1", n)
	}
	msgs := h.Discord.Messages(h.Discord.Thread("#1 Outage").ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Components, `"custom_id":"unack #1"`) || !strings.Contains(msgs[0].Content, "Status: acknowledged by") {
		t.Fatalf("card after the outage = %+v, want it acknowledged", msgs)
	}
	if !slices.ContainsFunc(msgs, func(m DiscordMessage) bool { return strings.Contains(m.Content, "Acknowledged by") }) {
		t.Fatalf("the thread never heard of the ack:\n%s", dcContents(msgs))
	}
	// The ack at +2m came before step 2 and alice's SMS: neither went out.
	if dm := h.Discord.Messages(dmCarol); len(dm) != 0 {
		t.Fatalf("carol was paged after the ack: %+v", dm)
	}
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS after the ack: %+v", got)
	}
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
}

func TestDiscordButtonAckStopsEveryPage(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))
	th := h.Discord.Thread("#1 disk full on db1")
	if th == nil || len(h.Discord.Messages(dmAlice)) != 1 {
		t.Fatalf("thread %+v, alice's DMs %d: want the room and her page", th, len(h.Discord.Messages(dmAlice)))
	}
	// bob presses Acknowledge in the thread a minute in.
	h.Advance(time.Minute)
	d := decodeDiscord(t, h.DiscordPress(dcBob, th.ID, "ack #1"))
	if d.Data.Flags != 64 || !strings.Contains(d.Data.Content, "acknowledged by bob") {
		t.Fatalf("press answered %+v", d)
	}
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	card := h.Discord.Messages(th.ID)[0]
	if card.Edits == 0 || !strings.Contains(card.Content, "Status: acknowledged by discord:bob") || !strings.Contains(card.Components, `"custom_id":"unack #1"`) {
		t.Fatalf("card after the ack = %+v", card)
	}
	// Past alice's SMS (+3m), step 2 (+5m) and the end of the policy:
	// nobody is paged again.
	h.Advance(30 * time.Minute)
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS after the ack: %+v", got)
	}
	if dm := h.Discord.Messages(dmCarol); len(dm) != 0 {
		t.Fatalf("carol (step 2) was paged after the ack: %+v", dm)
	}
	if dm := h.Discord.Messages(dmAlice); len(dm) != 1 {
		t.Fatalf("alice got %d DMs, want only the first page", len(dm))
	}
	if steps := stepsOf(h.Incident(inc.ID)); len(steps) != 1 {
		t.Fatalf("the policy went on after the ack: %v", steps)
	}
}

func TestDiscordForgedPressIsRefusedAndPagingGoesOn(t *testing.T) {
	h := New(t, WithConfig(discordOnCallConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=X")))
	th := h.Discord.Thread("#1 X")
	press := map[string]any{"id": "1", "application_id": "2", "type": 3, "token": "t", "version": 1,
		"channel_id": th.ID, "guild_id": "3", "member": map[string]any{"user": map[string]any{"id": dcBob, "username": "u"}},
		"data": map[string]any{"custom_id": "ack #1", "component_type": 2}}
	// Signed with another key, or a genuine press replayed 10 minutes on.
	if r := h.DiscordInteraction(press, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), 0); r.Code != 401 {
		t.Fatalf("forged press = %d", r.Code)
	}
	if r := h.DiscordInteraction(press, DiscordKey, -10*60); r.Code != 401 {
		t.Fatalf("replayed press = %d", r.Code)
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
	// Nothing was acknowledged: alice's SMS still goes out at +3m.
	h.Advance(3 * time.Minute)
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("alice got %d SMS after the refused presses, want 1", len(got))
	}
	if card := h.Discord.Messages(th.ID)[0]; card.Edits != 0 || !strings.Contains(card.Components, `"custom_id":"ack #1"`) {
		t.Fatalf("card changed by refused presses: %+v", card)
	}
}
