package slack

import (
	"context"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
)

// After a reload, who sent a request and which team its channel implies
// are the new configuration's: a new team's channel implies it, a
// removed team's no longer does, a person added is known.
func TestReloadSwapsTheDirectory(t *testing.T) {
	in := NewInbound("", time.Now, &chat.Executor{}, nil, func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
	before := &config.Config{
		People: []config.Person{{Name: "alice", Slack: "UA"}},
		Teams:  []config.Team{{Name: "ops", Rooms: config.Rooms{Slack: "COPS"}}, {Name: "dba", Rooms: config.Rooms{Slack: "CDBA"}}},
	}
	after := &config.Config{
		People: []config.Person{{Name: "alice", Slack: "UA"}, {Name: "bob", Slack: "UB"}},
		Teams:  []config.Team{{Name: "ops", Rooms: config.Rooms{Slack: "COPS"}}, {Name: "web", Rooms: config.Rooms{Slack: "CWEB"}}},
	}
	type who struct{ user, team string }
	cases := []struct {
		name, user, channel string
		before, after       who
	}{
		{"a new team's channel implies it", "UA", "CWEB", who{"alice", ""}, who{"alice", "web"}},
		{"a removed team's channel no longer does", "UA", "CDBA", who{"alice", "dba"}, who{"alice", ""}},
		{"a kept team's channel still does", "UA", "COPS", who{"alice", "ops"}, who{"alice", "ops"}},
		{"a person added is known", "UB", "COPS", who{"", "ops"}, who{"bob", "ops"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []struct {
				cfg  *config.Config
				want who
			}{{before, c.before}, {after, c.after}} {
				in.Reload(step.cfg)
				req := in.request(context.Background(), c.user, c.channel)
				if got := (who{req.User, req.Team}); got != step.want {
					t.Errorf("%s in %s: %+v, want %+v", c.user, c.channel, got, step.want)
				}
			}
		})
	}
}
