package scenario

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// digestDM is one of alice's direct messages, whatever the platform.
type digestDM struct {
	id    string // the platform's message id
	shown string // what it shows: text, blocks or content, and buttons
	edits int
}

// storm posts n alerts of distinct names at once (n new incidents, each
// paging alice, on call for ops, by chat at once) and returns the
// incidents' ids.
func storm(h *Harness, from, n int) []int64 {
	h.T.Helper()
	var alerts []AMAlert
	for i := from; i < from+n; i++ {
		alerts = append(alerts, Firing(fmt.Sprintf("alertname=Storm%03d", i)).Summary(fmt.Sprintf("storm %d", i)))
	}
	res := h.PostAlerts(alerts...)
	if len(res.Incidents) != n {
		h.T.Fatalf("%d alerts made incidents %v", n, res.Incidents)
	}
	return res.Incidents
}

// An alert storm pages alice once, not thirty times: one direct message
// listing the incidents, edited as more arrive, whose Acknowledge all
// acknowledges every one; each incident still escalates and records it.
func TestDigestOfAStormOnEveryPlatform(t *testing.T) {
	cases := []struct {
		name   string
		config string
		// dms returns alice's direct messages, her own answers aside.
		dms func(h *Harness) []digestDM
		// press presses the digest's button as alice, in the direct
		// conversation, and returns what she is told.
		press func(h *Harness, dm digestDM) string
	}{
		{"slack", slackConfig,
			func(h *Harness) []digestDM {
				var out []digestDM
				for _, m := range h.Slack.Messages("DU0ALICE") {
					if m.EphemeralTo == "" {
						out = append(out, digestDM{m.TS, m.Text + m.Blocks, m.Edits})
					}
				}
				return out
			},
			func(h *Harness, dm digestDM) string {
				before := len(h.Slack.Messages("DU0ALICE"))
				if code := h.SlackPress("U0ALICE", "DU0ALICE", dm.button(h.T)); code != 200 {
					h.T.Fatalf("press = %d", code)
				}
				// The outcome is for alice alone, in the conversation.
				msgs := h.Slack.Messages("DU0ALICE")
				if len(msgs) != before+1 || msgs[before].EphemeralTo != "U0ALICE" {
					h.T.Fatalf("alice was told nothing privately: %+v", msgs[before:])
				}
				return msgs[before].Text
			}},
		{"telegram", telegramConfig,
			func(h *Harness) []digestDM {
				var out []digestDM
				for _, m := range h.Telegram.Messages(1001, 0) {
					out = append(out, digestDM{fmt.Sprint(m.ID), m.Text + m.Keyboard, m.Edits})
				}
				return out
			},
			func(h *Harness, dm digestDM) string {
				var id int
				fmt.Sscan(dm.id, &id)
				// A press in the private chat with the bot, not in a forum.
				if code := h.telegramUpdate(map[string]any{"update_id": 3, "callback_query": map[string]any{
					"id": "cb-digest", "chat_instance": "1", "data": dm.button(h.T),
					"from": map[string]any{"id": 1001, "is_bot": false, "first_name": "Alice"},
					"message": map[string]any{"message_id": id, "date": 1772420400,
						"chat": map[string]any{"id": 1001, "type": "private", "first_name": "Alice"}},
				}}, TelegramSecret); code != 200 {
					h.T.Fatalf("press = %d", code)
				}
				a := h.Telegram.Answers()
				if len(a) == 0 {
					h.T.Fatal("the press was not answered")
				}
				return a[len(a)-1]
			}},
		{"discord", discordConfig,
			func(h *Harness) []digestDM {
				var out []digestDM
				for _, m := range h.Discord.Messages("D111") {
					out = append(out, digestDM{m.ID, m.Content + m.Components, m.Edits})
				}
				return out
			},
			func(h *Harness, dm digestDM) string {
				// In a DM an interaction carries the user, not a guild member.
				r := h.DiscordInteraction(map[string]any{"id": "1", "application_id": "2", "type": 3, "token": "t", "version": 1,
					"channel_id": "D111", "user": map[string]any{"id": "111", "username": "alice"},
					"data": map[string]any{"custom_id": dm.button(h.T), "component_type": 2}}, DiscordKey, 0)
				d := decodeDiscord(h.T.(*testing.T), r)
				if d.Data.Flags&64 == 0 {
					h.T.Fatalf("the answer is not ephemeral: %+v", d)
				}
				return d.Data.Content
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := New(t, WithConfig(c.config))
			// 30 new incidents at once: the Tick that follows the post runs
			// every due timer (the 30 page timers, whose escalations queue
			// alice's chat pages) before the outbox drains, so the 30 pages
			// wait together under alice's ordering key and go out as one
			// batch: one digest, not 30 messages.
			ids := storm(h, 0, 30)
			dms := c.dms(h)
			if len(dms) != 1 {
				t.Fatalf("alice got %d direct messages for 30 incidents, want 1 digest: %+v", len(dms), dms)
			}
			digest := dms[0]
			if !strings.Contains(digest.shown, "30 incidents are paging you") || !strings.Contains(digest.shown, "Acknowledge all") ||
				!strings.Contains(digest.shown, fmt.Sprintf("#%d storm 0", ids[0])) || !strings.Contains(digest.shown, "+21 more") {
				t.Fatalf("the digest shows %s", digest.shown)
			}

			// Five more a minute later: the digest is edited to count 35,
			// and nothing new is posted.
			h.Advance(time.Minute)
			ids = append(ids, storm(h, 30, 5)...)
			dms = c.dms(h)
			if len(dms) != 1 || dms[0].id != digest.id || dms[0].edits == 0 || !strings.Contains(dms[0].shown, "35 incidents are paging you") {
				t.Fatalf("after 5 more incidents alice's direct messages are %+v", dms)
			}
			// And one alone: it joins the digest too.
			h.Advance(time.Minute)
			ids = append(ids, storm(h, 35, 1)...)
			dms = c.dms(h)
			if len(dms) != 1 || !strings.Contains(dms[0].shown, "36 incidents are paging you") {
				t.Fatalf("after one more incident alice's direct messages are %+v", dms)
			}
			edits := dms[0].edits

			told := c.press(h, dms[0])
			if !strings.Contains(told, "Acknowledged 36 incidents: #1, #2") || !strings.Contains(told, "and 26 more") {
				t.Fatalf("alice was told %q", told)
			}
			for _, id := range ids {
				d := h.ExpectStatus(id, incident.StatusAcknowledged)
				if d.AcknowledgedBy != c.name+":alice" {
					t.Fatalf("incident %d acknowledged by %q", id, d.AcknowledgedBy)
				}
				// Each escalation ran and was recorded, then the ack.
				kinds := AllKinds(d)
				step, queued, acked := slices.Index(kinds, oncall.KindStep), slices.Index(kinds, oncall.KindNotified), slices.Index(kinds, incident.KindAcknowledged)
				if step < 0 || queued < step || acked < queued {
					t.Fatalf("incident %d's timeline:\n%s", id, Timeline(d))
				}
				if e := d.Timeline[queued]; !strings.Contains(e.Detail, "chat to alice") {
					t.Fatalf("incident %d's notification: %+v", id, e)
				}
			}
			// The incidents' cards change with the acks; the digest is no
			// incident's card and is not overwritten by one; nothing is
			// left to page alice, nor anything new posted to her.
			h.Advance(10 * time.Minute)
			dms = c.dms(h)
			if len(dms) != 1 || dms[0].edits != edits || !strings.Contains(dms[0].shown, "36 incidents are paging you") {
				t.Fatalf("after the acks alice's direct messages are %+v", dms)
			}
			if told := c.press(h, dms[0]); !strings.Contains(told, "No triggered incident is paging you") {
				t.Fatalf("a second press told alice %q", told)
			}
		})
	}
}

// button returns the command of a digest's only button, as rendered.
func (dm digestDM) button(t testing.TB) string {
	t.Helper()
	if !strings.Contains(dm.shown, `"`+chat.AckAll+`"`) {
		t.Fatalf("the digest has no %q button: %s", chat.AckAll, dm.shown)
	}
	return chat.AckAll
}

// Typed in the direct conversation, ack all does the same as the button.
func TestDigestAckAllTypedInADirectMessage(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	ids := storm(h, 0, 3)
	code, kind, answer := h.SlackCommand("U0ALICE", "DU0ALICE", "ack all")
	if code != 200 || kind != "ephemeral" || !strings.Contains(answer, "Acknowledged 3 incidents: #1, #2, #3.") {
		t.Fatalf("ack all = %d %s %q", code, kind, answer)
	}
	for _, id := range ids {
		h.ExpectStatus(id, incident.StatusAcknowledged)
	}
	// bob was paged for none of them.
	if _, _, answer := h.SlackCommand("U0BOB", "DU0BOB", "ack all"); !strings.Contains(answer, "No triggered incident is paging you") {
		t.Fatalf("bob's ack all = %q", answer)
	}
}
