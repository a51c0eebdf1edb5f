package scenario

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// withRoomStep gives cfg's ops team (whose line is team) the policy
// "loud": the schedule at 5 minutes, then the team's room.
func withRoomStep(cfg, team string) string {
	return strings.NewReplacer(
		team, strings.Replace(team, "schedule: ops", "schedule: ops, escalation_policy: loud", 1),
		"default_route:\n  team: ops\n  escalation_policy: ops-default", "default_route:\n  team: ops",
		"escalation_policy: dba-default", "escalation_policy: loud",
		"webhooks:", "escalation_policies:\n  - {name: loud, steps: [{delay: 5m, targets: [{schedule: ops}]}, {delay: 5m, targets: [{room: ops}]}]}\nwebhooks:",
	).Replace(cfg)
}

// An escalation step that pages a team's room wakes the room as its
// platform does, and in no other way: on Discord with @here, the only
// mention the message may make; on Telegram with a message to the group,
// which notifies its members (a Telegram bot has no @here). The alert's
// own mentions and commands arrive as text. (Slack's <!here> is in
// TestEscalationStepPagesTheTeamsSlackChannel.)
func TestEscalationStepPagesTheTeamsRoom(t *testing.T) {
	const zw = "\u200b"
	tests := []struct {
		platform, cfg, team, title string
		// room is what the team's room holds after the step: each
		// message's text and whom it notifies by a mention.
		room func(h *Harness) []string
		want []string
	}{
		{
			platform: "discord", cfg: discordConfig, title: "@everyone <@222> Loud",
			team: "{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {discord: \"" + DiscordIncident + "\"}}",
			room: func(h *Harness) []string {
				var out []string
				for _, m := range h.Discord.Messages(DiscordIncident) {
					out = append(out, fmt.Sprintf("%s pings %v", m.Content, m.Pings))
				}
				return out
			},
			want: []string{`@here \[ERROR\] #1 @` + zw + `everyone \<@` + zw + `222\> Loud (team ops). Reply "1 ack" to acknowledge. pings [@everyone]`},
		},
		{
			platform: "telegram", cfg: telegramConfig, title: "@alice_ops /resolve Loud",
			team: "{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {telegram: \"-1001234567890\"}}",
			room: func(h *Harness) []string {
				var out []string
				for _, m := range h.Telegram.Messages(TelegramForum, 0) { // the group's general topic
					out = append(out, fmt.Sprintf("%s mentions %v", m.Text, m.Mentions))
				}
				return out
			},
			want: []string{`[ERROR] #1 @` + zw + `alice_ops /` + zw + `resolve Loud (team ops). Reply "1 ack" to acknowledge. mentions []`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			if !strings.Contains(tt.cfg, tt.team) {
				t.Fatalf("%s config changed: no team line %s", tt.platform, tt.team)
			}
			h := New(t, WithConfig(withRoomStep(tt.cfg, tt.team)))
			h.PostAlerts(Firing("alertname=Loud").Summary(tt.title))
			h.Advance(5 * time.Minute)
			if got := tt.room(h); !slices.Equal(got, tt.want) {
				t.Fatalf("the team's %s room after step 2 holds\n%q\nwant\n%q", tt.platform, got, tt.want)
			}
		})
	}
}
