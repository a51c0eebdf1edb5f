package chat

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// roomPlatform records what reaches a team's room, each as
// "post <room>: <text>".
type roomPlatform struct {
	name string
	got  *[]string
}

func (p roomPlatform) Name() string { return p.name }
func (p roomPlatform) OpenRoom(context.Context, incident.Incident, config.Team, []Member) (Room, error) {
	return Room{}, nil
}
func (p roomPlatform) PostCard(context.Context, Room, Card) (string, error) { return "", nil }
func (p roomPlatform) UpdateCard(context.Context, Room, string, Card) error { return nil }
func (p roomPlatform) CloseRoom(context.Context, Room) error                { return nil }
func (p roomPlatform) ReopenRoom(context.Context, Room) error               { return nil }
func (p roomPlatform) Direct(context.Context, Member, string, Card) error   { return nil }
func (p roomPlatform) Post(_ context.Context, room Room, text string) error {
	*p.got = append(*p.got, p.name+" post "+room.ID+": "+text)
	return nil
}

// alertingPlatform is a roomPlatform that can alert a whole room.
type alertingPlatform struct{ roomPlatform }

func (p alertingPlatform) AlertRoom(_ context.Context, room Room, text string) error {
	*p.got = append(*p.got, p.name+" alert "+room.ID+": "+text)
	return nil
}

// A room page alerts the whole room on the platforms that can, and is a
// plain post on the others.
func TestRoomPagerAlertsTheRoomWhereThePlatformCan(t *testing.T) {
	var got []string
	platforms := []Platform{
		alertingPlatform{roomPlatform{"slack", &got}},
		roomPlatform{"telegram", &got},
		alertingPlatform{roomPlatform{"discord", &got}},
		roomPlatform{"web", &got}, // no team rooms
	}
	team := config.Team{Name: "ops", Rooms: config.Rooms{Slack: "C0TEAM", Telegram: "-100", Discord: "900"}}
	payload, err := json.Marshal(oncall.RoomPage{Team: "ops", Text: "[CRITICAL] #1 db down (team ops)."})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewRoomPager(platforms, []config.Team{team}).Deliver(context.Background(), outbox.Message{ID: 1, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"slack alert C0TEAM: [CRITICAL] #1 db down (team ops).",
		"telegram post -100:0: [CRITICAL] #1 db down (team ops).",
		"discord alert 900: [CRITICAL] #1 db down (team ops).",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the team's rooms got\n%q\nwant\n%q", got, want)
	}
}
