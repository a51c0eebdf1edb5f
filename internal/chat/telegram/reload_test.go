package telegram

import (
	"context"
	"strconv"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
)

// directoryOf is a configuration of people by their Telegram user ids and
// of teams by their chats' ids, written as the config writes them.
func directoryOf(users, teams map[int64]string) *config.Config {
	cfg := &config.Config{}
	for id, name := range users {
		cfg.People = append(cfg.People, config.Person{Name: name, Telegram: strconv.FormatInt(id, 10)})
	}
	for chatID, name := range teams {
		cfg.Teams = append(cfg.Teams, config.Team{Name: name, Rooms: config.Rooms{Telegram: strconv.FormatInt(chatID, 10)}})
	}
	return cfg
}

// After a reload, who sent an update and which team its chat implies are
// the new configuration's: a new team's forum implies it, a removed
// team's no longer does, a person added is known.
func TestReloadSwapsTheDirectory(t *testing.T) {
	in := NewInbound("s", &chat.Executor{}, nil, func(context.Context, string) (int64, bool) { return 0, false }, nil)
	before := directoryOf(map[int64]string{1001: "alice"}, map[int64]string{-1001: "ops", -1002: "dba"})
	after := directoryOf(map[int64]string{1001: "alice", 1002: "bob"}, map[int64]string{-1001: "ops", -1003: "web"})
	type who struct{ user, team string }
	cases := []struct {
		name          string
		user, chat    int64
		before, after who
	}{
		{"a new team's forum implies it", 1001, -1003, who{"alice", ""}, who{"alice", "web"}},
		{"a removed team's forum no longer does", 1001, -1002, who{"alice", "dba"}, who{"alice", ""}},
		{"a kept team's forum still does", 1001, -1001, who{"alice", "ops"}, who{"alice", "ops"}},
		{"a person added is known in a DM", 1002, 1002, who{"", ""}, who{"bob", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []struct {
				cfg  *config.Config
				want who
			}{{before, c.before}, {after, c.after}} {
				in.Reload(step.cfg)
				req := in.request(context.Background(), &models.User{ID: c.user}, c.chat, 0)
				if got := (who{req.User, req.Team}); got != step.want {
					t.Errorf("user %d in chat %d: %+v, want %+v", c.user, c.chat, got, step.want)
				}
			}
		})
	}
}
