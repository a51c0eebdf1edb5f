package scenario

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// telegramOnCallConfig is the ops team on Telegram, carol included, with
// alice paged by a private message at once and by SMS after 3 minutes,
// and a two-step policy: whoever is on call, then carol 5 minutes later.
var telegramOnCallConfig = strings.NewReplacer(
	"people:\n  - {name: alice, time_zone: Europe/London}\n  - {name: bob, time_zone: America/New_York}\n  - {name: carol, time_zone: Australia/Sydney}",
	"twilio: {account_sid: \"%TWILIO_SID%\", auth_token: \"%TWILIO_TOKEN%\", from: \"%TWILIO_FROM%\", base_url: \"%TWILIO%\"}\npeople:\n"+
		"  - {name: alice, time_zone: Europe/London, telegram: \"1001\", phone: \""+alicePhone+"\", notify: [{method: chat, after: 0m}, {method: sms, after: 3m}]}\n"+
		"  - {name: bob, time_zone: America/New_York, telegram: \"1002\"}\n"+
		"  - {name: carol, time_zone: Australia/Sydney, telegram: \"1003\"}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {telegram: \"-1001234567890\"}}",
	"api_tokens:", "telegram: {bot_token: \""+TelegramToken+"\", webhook_secret: \""+TelegramSecret+"\", api_url: \"%TELEGRAM%\"}\napi_tokens:",
	"webhooks:", "escalation_policies:\n"+
		"  - {name: ops-default, steps: [{delay: 5m, targets: [{schedule: ops}]}, {delay: 5m, targets: [{user: carol}]}]}\n"+
		"  - {name: dba-default, steps: [{delay: 5m, targets: [{team: dba}]}]}\nwebhooks:",
).Replace(BaseConfig)

// Telegram ids of telegramOnCallConfig's people: private chats have the
// user's id.
const tgAlice, tgBob, tgCarol = int64(1001), int64(1002), int64(1003)

// telegramAnswer is user typing text in a topic of the team's forum (0:
// the General topic); it returns the bot's answer to it there.
func telegramAnswer(t *testing.T, h *Harness, user int64, topic int, text string) string {
	t.Helper()
	before := len(h.Telegram.Messages(TelegramForum, topic))
	if code := h.TelegramCommand(user, topic, text); code != 200 {
		t.Fatalf("%q = %d", text, code)
	}
	for _, m := range h.Telegram.Messages(TelegramForum, topic)[before:] {
		if m.ReplyTo == 900 { // TelegramCommand's message id
			return m.Text
		}
	}
	t.Fatalf("no answer to %q in topic %d", text, topic)
	return ""
}

// telegramBack ends an outage of the fake: calls succeed again.
func telegramBack(h *Harness) {
	h.Telegram.mu.Lock()
	defer h.Telegram.mu.Unlock()
	h.Telegram.failures = nil
}

// telegramTopicsNamed counts the fake's topics named name.
func telegramTopicsNamed(h *Harness, name string) int {
	h.Telegram.mu.Lock()
	defer h.Telegram.mu.Unlock()
	n := 0
	for _, tp := range h.Telegram.topics {
		if tp.Name == name {
			n++
		}
	}
	return n
}

// stepRanAt is when the escalation step whose detail contains step ran
// (zero if it never did).
func stepRanAt(d incident.Detail, step string) time.Time {
	for _, e := range d.Timeline {
		if e.Kind == oncall.KindStep && strings.Contains(e.Detail, step) {
			return e.At
		}
	}
	return time.Time{}
}

// tgMentioned reports whether a topic message mentions the Telegram user.
func tgMentioned(msgs []TelegramMessage, user int64) bool {
	return slices.ContainsFunc(msgs, func(m TelegramMessage) bool {
		return slices.ContainsFunc(m.Mentions, func(x TelegramMention) bool { return x.UserID == user })
	})
}

func TestTelegramSwapAskedAndAcceptedInChat(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	// alice, on call until 09:00, asks in the forum's General topic for
	// cover of the rest of her night (times in her zone, London).
	text := telegramAnswer(t, h, tgAlice, 0, "/oncall swap 2026-03-02T03:00 2026-03-02T09:00")
	if !strings.Contains(text, "alice asks for cover from Mon 2 Mar 03:00 GMT to Mon 2 Mar 09:00 GMT") || !strings.Contains(text, "/oncall accept 1") {
		t.Fatalf("swap answered %q", text)
	}
	// carol takes it (as group clients send it, with the bot's name); bob
	// is too late.
	if text = telegramAnswer(t, h, tgCarol, 0, "/oncall@oncall_bot accept 1"); !strings.Contains(text, "carol covers alice from Mon 2 Mar 03:00 GMT to Mon 2 Mar 09:00 GMT (swap 1)") {
		t.Fatalf("carol's accept answered %q", text)
	}
	if text = telegramAnswer(t, h, tgBob, 0, "/oncall accept 1"); !strings.Contains(text, "already taken by carol") {
		t.Fatalf("bob's late accept answered %q", text)
	}
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("after the swap on call = %v, want carol", oc.OnCall)
	}

	// The next page is carol's, privately on Telegram; alice sleeps on:
	// no private message, and no SMS when her 3 minutes pass.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=AfterSwap")))
	h.Advance(4 * time.Minute)
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 1 || !strings.Contains(dm[0].Keyboard, `"ack #1"`) {
		t.Fatalf("carol (covering) got %+v, want the page with its buttons", dm)
	}
	if dm := h.Telegram.Messages(tgAlice, 0); len(dm) != 0 {
		t.Fatalf("alice (covered) was paged on Telegram: %+v", dm)
	}
	if sms := h.Twilio.Messages(alicePhone); len(sms) != 0 {
		t.Fatalf("alice (covered) was paged by SMS: %+v", sms)
	}
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 1 || got[0] != "escalation.step: step 1/2: carol (on call for ops)" {
		t.Fatalf("escalation = %v", got)
	}
}

func TestTelegramLeadEditsTheRotationFromChat(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	// alice, the lead, adds carol after bob and sees what it does.
	text := telegramAnswer(t, h, tgAlice, 0, "/oncall rotation add carol")
	want := "Rotation weekly changed (add carol)." +
		"\nNext: bob from Mon 2 Mar 09:00 GMT" +
		"\nNext: carol from Mon 9 Mar 09:00 GMT" +
		"\nNext: alice from Mon 16 Mar 09:00 GMT"
	if !strings.HasPrefix(text, want) {
		t.Fatalf("rotation add answered:\n%s\nwant it to start:\n%s", text, want)
	}
	// bob is no lead: refused, with the reason, and nothing changes.
	if text = telegramAnswer(t, h, tgBob, 0, "/oncall rotation remove carol"); !strings.Contains(text, "Only the leads of team ops (alice) may change its rotation") {
		t.Fatalf("a non-lead's edit answered %q", text)
	}
	var f struct{ Final []struct{ Users []string } }
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops?from=2026-03-09T10:00:00Z&to=2026-03-09T11:00:00Z").Body, &f)
	if len(f.Final) != 1 || !slices.Equal(f.Final[0].Users, []string{"carol"}) {
		t.Fatalf("the week of Mar 9 is %+v, want carol's", f.Final)
	}
}

func TestTelegramEscalateFromTheTopic(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Latency")))
	topic := h.Telegram.Topic("#1 Latency")
	if topic == nil {
		t.Fatal("no topic for the incident")
	}
	h.Advance(time.Minute)
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 0 {
		t.Fatalf("carol paged before step 2: %+v", dm)
	}
	// alice needs help: /oncall escalate in the topic (the incident is
	// implied) pages step 2, carol, now rather than at +5 minutes.
	if text := telegramAnswer(t, h, tgAlice, topic.ID, "/oncall@oncall_bot escalate"); !strings.Contains(text, "Incident #1 escalated by alice") {
		t.Fatalf("escalate answered %q", text)
	}
	d := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	want := []string{
		"escalation.step: step 1/2: alice (on call for ops)",
		"escalation.manual: to step 2",
		"escalation.step: step 2/2: carol (named in the policy)",
	}
	if got := stepsOf(d); !slices.Equal(got, want) {
		t.Fatalf("escalation:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if countKind(d, oncall.KindEscalated, "") != 1 || !slices.ContainsFunc(d.Timeline, func(e incident.Event) bool {
		return e.Kind == oncall.KindEscalated && e.Actor == "telegram:alice"
	}) {
		t.Fatalf("the escalation is not alice's:\n%s", Timeline(d))
	}
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 1 || !strings.Contains(dm[0].Text, "#1 Latency") {
		t.Fatalf("carol's private page = %+v", dm)
	}
	// Bots cannot add anyone to a group: carol is mentioned in the topic.
	if !tgMentioned(h.Telegram.Messages(TelegramForum, topic.ID), tgCarol) {
		t.Fatalf("carol was not mentioned in the topic:\n%s", strings.Join(texts(h.Telegram.Messages(TelegramForum, topic.ID)), "\n"))
	}
	// The policy goes on from the jump: out of steps 5 minutes later,
	// nobody paged twice.
	h.Advance(10 * time.Minute)
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 4 || got[3] != "escalation.exhausted: policy ops-default ran out of steps and nobody acknowledged" {
		t.Fatalf("after the jump: %v", got)
	}
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 1 {
		t.Fatalf("carol got %d private pages, want 1", len(dm))
	}
}

func TestTelegramDownForTenMinutesWhilePhoneFallbackFiresOnTime(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	// Telegram is down for ten minutes: every call fails for that long.
	h.Telegram.FailNext(1000, 503, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	if h.Telegram.Topic("#1 Outage") != nil {
		t.Fatal("topic created while Telegram was down")
	}
	// alice's SMS goes out at +3 minutes, not before, whatever Telegram does.
	h.Advance(3*time.Minute - time.Second)
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS before +3m: %+v", got)
	}
	h.Advance(time.Second)
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 || !strings.Contains(got[0].Body, "#1 Outage") {
		t.Fatalf("alice got %+v at +3m while Telegram was down, want the page", got)
	}
	// Step 2 (carol) runs at +5 minutes, Telegram or not.
	h.Advance(7 * time.Minute)
	if at := stepRanAt(h.Incident(inc.ID), "step 2/2: carol"); !at.Equal(Start.Add(5 * time.Minute)) {
		t.Fatalf("step 2 ran at %s while Telegram was down, want %s:\n%s", at, Start.Add(5*time.Minute), Timeline(h.Incident(inc.ID)))
	}
	if h.Telegram.Topic("#1 Outage") != nil || len(h.Telegram.Messages(tgAlice, 0)) != 0 {
		t.Fatal("Telegram took calls while down")
	}

	telegramBack(h)
	h.Advance(15 * time.Minute) // the backoff reaches the next attempts
	if n := telegramTopicsNamed(h, "#1 Outage"); n != 1 {
		t.Fatalf("%d topics for the incident after Telegram came back, want 1", n)
	}
	topic := h.Telegram.Topic("#1 Outage")
	msgs := h.Telegram.Messages(TelegramForum, topic.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Keyboard, `"callback_data":"ack #1"`) || !strings.Contains(msgs[0].Text, "Status: triggered") {
		t.Fatalf("card after the outage = %+v", msgs)
	}
	if !tgMentioned(msgs, tgAlice) || !tgMentioned(msgs, tgCarol) {
		t.Fatalf("the steps' mentions were lost:\n%s", strings.Join(texts(msgs), "\n"))
	}
	// Everything queued meanwhile was delivered, once: both private pages.
	if dm := h.Telegram.Messages(tgAlice, 0); len(dm) != 1 {
		t.Fatalf("alice's private pages after the outage = %+v, want 1", dm)
	}
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 1 {
		t.Fatalf("carol's private pages after the outage = %+v, want 1", dm)
	}
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("alice got %d SMS, want 1", len(got))
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
}

func TestTelegramDownForTenMinutesThenTheCardShowsTheAck(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	h.Telegram.FailNext(1000, 503, "")
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	h.Advance(2 * time.Minute)
	if r := h.API("POST", "/api/v1/incidents/1/ack"); r.Code != 200 {
		t.Fatalf("ack = %d %s", r.Code, r.Body)
	}
	h.Advance(8 * time.Minute)
	telegramBack(h)
	h.Advance(15 * time.Minute)
	if n := telegramTopicsNamed(h, "#1 Outage"); n != 1 {
		t.Fatalf("%d topics for the incident, want 1", n)
	}
	msgs := h.Telegram.Messages(TelegramForum, h.Telegram.Topic("#1 Outage").ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Keyboard, `"callback_data":"unack #1"`) || !strings.Contains(msgs[0].Text, "Status: acknowledged by") {
		t.Fatalf("card after the outage = %+v, want it acknowledged", msgs)
	}
	if !slices.ContainsFunc(msgs, func(m TelegramMessage) bool { return strings.Contains(m.Text, "Acknowledged by") }) {
		t.Fatalf("the topic never heard of the ack:\n%s", strings.Join(texts(msgs), "\n"))
	}
	// The ack at +2m came before step 2 and alice's SMS: neither went out.
	if dm := h.Telegram.Messages(tgCarol, 0); len(dm) != 0 {
		t.Fatalf("carol was paged after the ack: %+v", dm)
	}
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS after the ack: %+v", got)
	}
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
}

// telegramAndDiscordConfig shows the ops team's incidents on both
// platforms.
var telegramAndDiscordConfig = strings.NewReplacer(
	`telegram: "1001"`, `telegram: "1001", discord: "111"`,
	`telegram: "1002"`, `telegram: "1002", discord: "222"`,
	`telegram: "1003"`, `telegram: "1003", discord: "333"`,
	`rooms: {telegram: "-1001234567890"}`, `rooms: {telegram: "-1001234567890", discord: "`+DiscordIncident+`"}`,
	"api_tokens:", "discord: {bot_token: \""+DiscordToken+"\", public_key: \""+DiscordPublicKey+"\", api_url: \"%DISCORD%\"}\napi_tokens:",
).Replace(telegramOnCallConfig)

func TestTelegramAckUpdatesEveryCardAndStopsThePaging(t *testing.T) {
	h := New(t, WithConfig(telegramAndDiscordConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))
	topic := h.Telegram.Topic("#1 disk full on db1")
	th := h.Discord.Thread("#1 disk full on db1")
	if topic == nil || th == nil {
		t.Fatalf("rooms: telegram topic %+v, discord thread %+v", topic, th)
	}
	card := h.Telegram.Messages(TelegramForum, topic.ID)[0]
	if len(h.Telegram.Messages(tgAlice, 0)) != 1 || len(h.Discord.Messages("D111")) != 1 {
		t.Fatal("alice was not paged privately on both platforms")
	}

	// bob presses Acknowledge in the topic a minute in.
	h.Advance(time.Minute)
	if code := h.TelegramPress(tgBob, topic.ID, card.ID, "ack #1"); code != 200 {
		t.Fatalf("press = %d", code)
	}
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	// Every card says so: the topic's and the Discord thread's.
	tc := h.Telegram.Messages(TelegramForum, topic.ID)[0]
	if tc.Edits == 0 || !strings.Contains(tc.Text, "Status: acknowledged by telegram:bob") || !strings.Contains(tc.Keyboard, `"unack #1"`) {
		t.Fatalf("telegram card after the ack = %+v", tc)
	}
	dc := h.Discord.Messages(th.ID)[0]
	if dc.Edits == 0 || !strings.Contains(dc.Content, "Status: acknowledged by telegram:bob") || !strings.Contains(dc.Components, `"custom_id":"unack #1"`) {
		t.Fatalf("discord card after the ack = %+v", dc)
	}

	// Past alice's SMS (+3m), step 2 (+5m) and the end of the policy:
	// nobody is paged again, anywhere.
	h.Advance(30 * time.Minute)
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice got an SMS after the ack: %+v", got)
	}
	if len(h.Telegram.Messages(tgCarol, 0)) != 0 || len(h.Discord.Messages("D333")) != 0 {
		t.Fatal("carol (step 2) was paged after the ack")
	}
	if len(h.Telegram.Messages(tgAlice, 0)) != 1 || len(h.Discord.Messages("D111")) != 1 {
		t.Fatal("alice was paged again after the ack")
	}
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 1 {
		t.Fatalf("the policy went on after the ack: %v", got)
	}
}

// A page queued while the incident was triggered must not reach anyone
// after the incident was acknowledged: "no more pages" after an ack holds
// even when the platform was down in between: the send guard
// (Engine.BeginSend) drops a held-up page whose incident is no longer
// triggered, and the timeline says why.
func TestTelegramPageQueuedBeforeAnAckIsNotSentAfterTheOutage(t *testing.T) {
	h := New(t, WithConfig(telegramOnCallConfig))
	h.Telegram.FailNext(1000, 503, "")
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	h.Advance(2 * time.Minute)
	if r := h.API("POST", "/api/v1/incidents/1/ack"); r.Code != 200 {
		t.Fatalf("ack = %d %s", r.Code, r.Body)
	}
	h.Advance(8 * time.Minute)
	telegramBack(h)
	h.Advance(15 * time.Minute)
	if h.Telegram.Topic("#1 Outage") == nil {
		t.Fatal("no topic after Telegram came back")
	}
	if dm := h.Telegram.Messages(tgAlice, 0); len(dm) != 0 {
		t.Fatalf("alice was paged after the incident was acknowledged (at +2m), with a stale card:\n%s", dm[0].Text)
	}
	if n := countKind(h.Incident(1), oncall.KindNotifySkipped, "chat to alice: not sent, the incident was acknowledged"); n != 1 {
		t.Fatalf("the timeline says %d times why alice's page was dropped:\n%s", n, Timeline(h.Incident(1)))
	}
}
