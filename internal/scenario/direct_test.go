package scenario

import (
	"strings"
	"testing"
)

// A private page's card follows the incident like the room's: after bob
// acknowledges in the room, alice's page no longer offers Acknowledge.
func TestPrivatePageCardsFollowTheIncident(t *testing.T) {
	cases := []struct {
		name   string
		config string
		// ack presses Acknowledge as bob in the incident's room.
		ack func(h *Harness)
		// page returns alice's page: its buttons and how often it was edited.
		page func(h *Harness) (buttons string, edits int)
	}{
		{"slack", slackConfig,
			func(h *Harness) { h.SlackPress("U0BOB", h.Slack.Channel("inc-1-disk").ID, "ack #1") },
			func(h *Harness) (string, int) {
				dm := h.Slack.Messages("DU0ALICE")
				if len(dm) != 1 {
					h.T.Fatalf("alice's DMs = %+v", dm)
				}
				return dm[0].Blocks, dm[0].Edits
			}},
		{"telegram", telegramConfig,
			func(h *Harness) {
				tp := h.Telegram.Topic("#1 Disk")
				h.TelegramPress(1002, tp.ID, h.Telegram.Messages(TelegramForum, tp.ID)[0].ID, "ack #1")
			},
			func(h *Harness) (string, int) {
				dm := h.Telegram.Messages(1001, 0)
				if len(dm) != 1 {
					h.T.Fatalf("alice's private messages = %+v", dm)
				}
				return dm[0].Keyboard, dm[0].Edits
			}},
		{"discord", discordConfig,
			func(h *Harness) { h.DiscordPress("222", h.Discord.Thread("#1 Disk").ID, "ack #1") },
			func(h *Harness) (string, int) {
				dm := h.Discord.Messages("D111")
				if len(dm) != 1 {
					h.T.Fatalf("alice's DMs = %+v", dm)
				}
				return dm[0].Components, dm[0].Edits
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := New(t, WithConfig(c.config))
			h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk")))
			if buttons, _ := c.page(h); !strings.Contains(buttons, "ack #1") {
				t.Fatalf("alice's page offers no Acknowledge: %s", buttons)
			}
			c.ack(h)
			h.Tick()
			buttons, edits := c.page(h)
			if edits == 0 || strings.Contains(buttons, `"ack #1"`) || !strings.Contains(buttons, "unack #1") {
				t.Fatalf("alice's page after bob's ack (%d edits): %s", edits, buttons)
			}
		})
	}
}
