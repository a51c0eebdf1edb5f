package scenario

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second step pages dave, who is in no team: only the step brings him
// into the incident's room.
const summonPolicy = `
escalation_policies:
  - name: ops-default
    steps:
      - {delay: 10m, targets: [{schedule: ops}]}
      - {delay: 10m, targets: [{user: dave}]}
  - {name: dba-default, steps: [{delay: 10m, targets: [{user: bob}]}]}
`

func withDave(cfg, platformField string) string {
	return strings.Replace(cfg, "  - {name: carol, time_zone: Australia/Sydney}",
		"  - {name: carol, time_zone: Australia/Sydney}\n  - {name: dave, time_zone: Europe/Berlin, "+platformField+"}", 1) + summonPolicy
}

func TestTelegramTopicMentionsWhoIsPaged(t *testing.T) {
	h := New(t, WithConfig(withDave(telegramConfig, `telegram: "1004"`)))
	h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))
	topic := h.Telegram.Topic("#1 disk full on db1")
	if topic == nil {
		t.Fatal("no forum topic for the incident")
	}
	mentioned := func() map[int64]string {
		out := map[int64]string{}
		for _, m := range h.Telegram.Messages(TelegramForum, topic.ID) {
			for _, mm := range m.Mentions {
				out[mm.UserID] = m.Text
			}
		}
		return out
	}
	// Step 1 pages alice, who is on call: the topic calls her by a text
	// mention, which reaches her even without a @username.
	got := mentioned()
	if len(got) != 1 || !strings.HasPrefix(got[1001], "alice paged: ") || !strings.Contains(got[1001], "step 1/2") {
		t.Fatalf("mentions after step 1 = %v", got)
	}
	h.Advance(10 * time.Minute)
	got = mentioned()
	if len(got) != 2 || !strings.HasPrefix(got[1004], "dave paged: ") || !strings.Contains(got[1004], "step 2/2") {
		t.Fatalf("mentions after step 2 = %v", got)
	}
}

func TestTelegramMentionOffsetsCountUTF16(t *testing.T) {
	// A name outside the Basic Multilingual Plane takes two UTF-16 units
	// per character; Telegram refuses entities that overrun the text.
	cfg := strings.Replace(withDave(telegramConfig, `telegram: "1004"`), "{user: dave}", "{user: \"𝒟ave\"}", 1)
	cfg = strings.Replace(cfg, "name: dave,", "name: \"𝒟ave\",", 1)
	h := New(t, WithConfig(cfg))
	h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull")))
	h.Advance(10 * time.Minute)
	topic := h.Telegram.Topic("#1 DiskFull")
	if topic == nil {
		t.Fatalf("no topic; topics: %+v", h.Telegram.AllMessages())
	}
	var found bool
	for _, m := range h.Telegram.Messages(TelegramForum, topic.ID) {
		for _, mm := range m.Mentions {
			if mm.UserID == 1004 {
				found = mm.Text == "𝒟ave"
			}
		}
	}
	if !found {
		t.Fatalf("no mention of 𝒟ave spanning exactly the name: %+v", h.Telegram.Messages(TelegramForum, topic.ID))
	}
}

func TestSlackStepInvitesAndMentionsWhoIsPaged(t *testing.T) {
	h := New(t, WithConfig(withDave(slackConfig, "slack: U0DAVE")))
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	ch := h.Slack.Channel("inc-1-outage")
	if ch == nil {
		t.Fatal("no channel")
	}
	if slices.Contains(ch.Members, "U0DAVE") {
		t.Fatal("dave, in no team, is in the channel before any step pages him")
	}
	h.Advance(10 * time.Minute)
	ch = h.Slack.Channel("inc-1-outage")
	if !slices.Contains(ch.Members, "U0DAVE") {
		t.Fatalf("dave was paged by step 2 but not invited: members %v", ch.Members)
	}
	var lines []string
	for _, m := range h.Slack.Messages(ch.ID) {
		lines = append(lines, m.Text)
	}
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "<@U0ALICE> paged: ") || !strings.Contains(all, "<@U0DAVE> paged: ") {
		t.Fatalf("channel does not mention the paged people:\n%s", all)
	}
}

func TestDiscordStepAddsAndPingsOnlyWhoIsPaged(t *testing.T) {
	h := New(t, WithConfig(withDave(discordConfig, `discord: "444"`)))
	// An alert whose title would ping the whole server if relayed as is.
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage").Summary("@everyone db1 down")))
	th := h.Discord.Thread("#1 @everyone db1 down")
	if th == nil {
		t.Fatal("no thread")
	}
	h.Advance(10 * time.Minute)
	th = h.Discord.Thread("#1 @everyone db1 down")
	if !slices.Contains(th.Members, "444") {
		t.Fatalf("dave was paged by step 2 but not added: members %v", th.Members)
	}
	var pinged []string
	for _, m := range h.Discord.Messages(th.ID) {
		pinged = append(pinged, m.Pings...)
	}
	slices.Sort(pinged)
	if want := []string{"111", "444"}; !slices.Equal(pinged, want) {
		t.Fatalf("pinged %v, want only the paged people %v (never @everyone)", pinged, want)
	}
}

// TestTelegramStormKeepsToTheGroupLimit opens fifteen incidents at once
// in one forum group, whose topics share Telegram's limit of 20 messages
// a minute: the bot paces itself and is never refused.
func TestTelegramStormKeepsToTheGroupLimit(t *testing.T) {
	h := New(t, WithConfig(telegramConfig))
	h.Telegram.LimitGroups(20, time.Minute, h.Clock.Now)
	var alerts []AMAlert
	for i := range 15 {
		alerts = append(alerts, Firing("alertname=Storm"+strconv.Itoa(i)))
	}
	h.PostAlerts(alerts...)
	h.Advance(10 * time.Minute)
	if n := h.Telegram.Throttled(); n != 0 {
		t.Fatalf("the bot ran into Telegram's group limit %d times", n)
	}
	for i := range 15 {
		topic := h.Telegram.Topic("#" + strconv.Itoa(i+1) + " Storm" + strconv.Itoa(i))
		if topic == nil {
			t.Fatalf("incident %d has no topic", i+1)
		}
		msgs := h.Telegram.Messages(TelegramForum, topic.ID)
		if len(msgs) == 0 || !strings.Contains(msgs[0].Keyboard, "ack #"+strconv.Itoa(i+1)) {
			t.Fatalf("incident %d's topic has no card: %+v", i+1, msgs)
		}
	}
}
