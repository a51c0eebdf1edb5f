package discord

import (
	"context"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
)

// directoryOf is a configuration of people by their Discord user ids and
// of teams by their channels' ids.
func directoryOf(users, teams map[string]string) *config.Config {
	cfg := &config.Config{}
	for id, name := range users {
		cfg.People = append(cfg.People, config.Person{Name: name, Discord: id})
	}
	for channel, name := range teams {
		cfg.Teams = append(cfg.Teams, config.Team{Name: name, Rooms: config.Rooms{Discord: channel}})
	}
	return cfg
}

// After a reload, who sent an interaction and which team its channel
// implies are the new configuration's: a new team's channel implies it, a
// removed team's no longer does, a person added is known.
func TestReloadSwapsTheDirectory(t *testing.T) {
	in, err := NewInbound("", nil, &chat.Executor{}, func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	before := directoryOf(map[string]string{"111": "alice"}, map[string]string{"900": "ops", "901": "dba"})
	after := directoryOf(map[string]string{"111": "alice", "222": "bob"}, map[string]string{"900": "ops", "902": "web"})
	type who struct{ user, team string }
	cases := []struct {
		name, user, channel string
		before, after       who
	}{
		{"a new team's channel implies it", "111", "902", who{"alice", ""}, who{"alice", "web"}},
		{"a removed team's channel no longer does", "111", "901", who{"alice", "dba"}, who{"alice", ""}},
		{"a kept team's channel still does", "111", "900", who{"alice", "ops"}, who{"alice", "ops"}},
		{"a person added is known", "222", "900", who{"", "ops"}, who{"bob", "ops"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ia := &discordgo.Interaction{ChannelID: c.channel, GuildID: "3", Member: &discordgo.Member{User: &discordgo.User{ID: c.user}}}
			for _, step := range []struct {
				cfg  *config.Config
				want who
			}{{before, c.before}, {after, c.after}} {
				in.Reload(step.cfg)
				req := in.request(context.Background(), ia)
				if got := (who{req.User, req.Team}); got != step.want {
					t.Errorf("user %s in channel %s: %+v, want %+v", c.user, c.channel, got, step.want)
				}
			}
		})
	}
}
