package discord

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/oncallbot/bot/internal/chat"
)

// A command counts in a team's channel, an incident's thread and the DM
// of a person the bot knows; anywhere else (a stranger's DM, a channel
// the config does not name, another guild) its answer is the one
// refusal, to the asker alone.
func TestCommandsCountWhereTheBotListens(t *testing.T) {
	in, err := NewInbound("", time.Now, &chat.Executor{},
		func(_ context.Context, channel string) (int64, bool) { return 7, channel == "800" }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	in.Reload(directoryOf(map[string]string{"111": "alice"}, map[string]string{"900": "ops"}))
	cases := []struct {
		name, user, channel, guild string
		answered                   bool
	}{
		{"a stranger in the team's channel", "222", "900", "3", true},
		{"a stranger in an incident's thread", "222", "800", "3", true},
		{"alice's DM", "111", "500", "", true},
		{"a stranger's DM", "222", "501", "", false},
		{"alice in a channel the config does not name", "111", "901", "3", false},
		{"a stranger in another guild", "222", "902", "4", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			who := map[string]any{"id": c.user, "username": "u"}
			raw := map[string]any{"id": "1", "application_id": "2", "type": 2, "token": "t", "version": 1, "channel_id": c.channel,
				"data": map[string]any{"id": "4", "name": "oncall", "type": 1,
					"options": []map[string]any{{"name": "command", "type": 3, "value": "help"}}}}
			if c.guild != "" {
				raw["guild_id"], raw["member"] = c.guild, map[string]any{"user": who}
			} else {
				raw["user"] = who
			}
			b, _ := json.Marshal(raw)
			var i discordgo.Interaction
			if err := json.Unmarshal(b, &i); err != nil {
				t.Fatal(err)
			}
			resp, err := in.Answer(context.Background(), &i)
			if err != nil {
				t.Fatal(err)
			}
			if answered := strings.Contains(resp.Data.Content, "Commands"); answered != c.answered || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
				t.Fatalf("answer %q (flags %d), want answered %v, to the asker alone", resp.Data.Content, resp.Data.Flags, c.answered)
			}
		})
	}
}
