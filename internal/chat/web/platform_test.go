package web

import (
	"context"
	"testing"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// received drains what a subscriber has been sent; publishing is
// synchronous, so everything published is already there.
func received(ch chan event) []event {
	var out []event
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestRoomMethodsTellEveryOpenPage(t *testing.T) {
	ctx := context.Background()
	room := chat.Room{ID: "incident-7"}
	cases := []struct {
		name string
		call func(p *Platform) error
	}{
		{"OpenRoom", func(p *Platform) error {
			r, err := p.OpenRoom(ctx, incident.Incident{ID: 7}, config.Team{Name: "ops"}, []chat.Member{{Name: "alice", PlatformID: "alice"}})
			if err == nil && r != room {
				t.Errorf("OpenRoom = %+v, want %+v", r, room)
			}
			return err
		}},
		{"PostCard", func(p *Platform) error {
			id, err := p.PostCard(ctx, room, chat.Card{IncidentID: 7})
			if err == nil && id != "incident-7-card" {
				t.Errorf("PostCard message id = %q", id)
			}
			return err
		}},
		{"UpdateCard", func(p *Platform) error { return p.UpdateCard(ctx, room, "incident-7-card", chat.Card{IncidentID: 7}) }},
		{"Post", func(p *Platform) error { return p.Post(ctx, room, "note") }},
		{"CloseRoom", func(p *Platform) error { return p.CloseRoom(ctx, room) }},
		{"ReopenRoom", func(p *Platform) error { return p.ReopenRoom(ctx, room) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPlatform()
			alice, bob := subscribe(t, p, "alice"), subscribe(t, p, "bob")
			if err := c.call(p); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			want := event{Kind: "incident", Room: "incident-7"}
			for who, ch := range map[string]chan event{"alice": alice, "bob": bob} {
				if got := received(ch); len(got) != 1 || got[0] != want {
					t.Errorf("%s's page heard %+v, want [%+v]", who, got, want)
				}
			}
		})
		t.Run(c.name+" with no page open", func(t *testing.T) {
			p := NewPlatform()
			if err := c.call(p); err != nil {
				t.Fatalf("%s with nobody listening: %v", c.name, err)
			}
		})
	}
}

func TestDirectReachesOnlyThePersonPaged(t *testing.T) {
	ctx := context.Background()
	p := NewPlatform()
	alice1, alice2, bob := subscribe(t, p, "alice"), subscribe(t, p, "alice"), subscribe(t, p, "bob")
	if err := p.Direct(ctx, chat.Member{Name: "alice", PlatformID: "alice"}, "Disk full", chat.Card{IncidentID: 3}); err != nil {
		t.Fatal(err)
	}
	want := event{Kind: "page", Room: "incident-3", Person: "alice", Text: "Disk full"}
	for i, ch := range []chan event{alice1, alice2} {
		if got := received(ch); len(got) != 1 || got[0] != want {
			t.Errorf("alice's page %d heard %+v, want [%+v]", i+1, got, want)
		}
	}
	if got := received(bob); len(got) != 0 {
		t.Errorf("bob heard alice's page: %+v", got)
	}
	// Nobody of that name has a page open: nothing to do, no error.
	if err := p.Direct(ctx, chat.Member{Name: "carol", PlatformID: "carol"}, "hello", chat.Card{IncidentID: 3}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan event{alice1, alice2, bob} {
		if got := received(ch); len(got) != 0 {
			t.Errorf("carol's page reached someone else: %+v", got)
		}
	}
}

func TestSlowPageMissesEventsWithoutHoldingOthersUp(t *testing.T) {
	p := NewPlatform()
	slow, fast := subscribe(t, p, "alice"), subscribe(t, p, "bob")
	ctx := context.Background()
	const n = 40 // more than a stream's buffer
	for i := 0; i < n; i++ {
		if err := p.Post(ctx, chat.Room{ID: "incident-1"}, "x"); err != nil {
			t.Fatal(err)
		}
		if got := received(fast); len(got) != 1 {
			t.Fatalf("post %d: the reading page heard %d events", i, len(got))
		}
	}
	if got := len(received(slow)); got == 0 || got >= n {
		t.Fatalf("the page that never read holds %d events, want its buffer's worth (under %d)", got, n)
	}
}

func TestUnsubscribedPageHearsNothing(t *testing.T) {
	p := NewPlatform()
	ch := subscribe(t, p, "alice")
	p.broker.unsubscribe(ch)
	if err := p.Post(context.Background(), chat.Room{ID: "incident-1"}, "x"); err != nil {
		t.Fatal(err)
	}
	if got := received(ch); len(got) != 0 || p.subscribers() != 0 {
		t.Fatalf("after unsubscribe: heard %+v, %d subscribers", got, p.subscribers())
	}
}

func TestPlatformName(t *testing.T) {
	if got := NewPlatform().Name(); got != "web" {
		t.Fatalf("Name = %q, want web (people's console identity is looked up by it)", got)
	}
	if got := chat.PlatformID(config.Person{Name: "alice"}, NewPlatform().Name()); got != "alice" {
		t.Fatalf("console identity of alice = %q, want her name (Direct matches pages by it)", got)
	}
}

// A digest of several incidents has no room: its banner links to none.
func TestDirectOfADigestNamesNoRoom(t *testing.T) {
	p := NewPlatform()
	alice := subscribe(t, p, "alice")
	card := chat.NewDigestCard(2, []incident.Incident{{ID: 1}, {ID: 2}})
	if err := p.Direct(context.Background(), chat.Member{Name: "alice", PlatformID: "alice"}, card.Title, card); err != nil {
		t.Fatal(err)
	}
	want := event{Kind: "page", Person: "alice", Text: "2 incidents are paging you"}
	if got := received(alice); len(got) != 1 || got[0] != want {
		t.Fatalf("alice heard %+v, want [%+v]", got, want)
	}
}

// A page that fell behind still gets a page meant for its person, and
// hears, once, that it missed events, so it reloads.
func TestSlowPageKeepsItsPageAndHearsItMissedEvents(t *testing.T) {
	p := NewPlatform()
	slow := subscribe(t, p, "alice")
	ctx := context.Background()
	for range 40 { // more than a stream's buffer
		if err := p.Post(ctx, chat.Room{ID: "incident-1"}, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Direct(ctx, chat.Member{Name: "alice", PlatformID: "alice"}, "you are paged", chat.Card{IncidentID: 7}); err != nil {
		t.Fatal(err)
	}
	got := received(slow)
	if len(got) == 0 || got[len(got)-1].Kind != "page" {
		t.Fatalf("the slow page holds %+v, want the page among them, last", got)
	}
	if !p.broker.missed(slow) {
		t.Error("the slow page was not told it missed events")
	}
	if p.broker.missed(slow) {
		t.Error("told twice")
	}
}

// subscribe opens a stream for person, failing the test if the cap
// refuses it.
func subscribe(t *testing.T, p *Platform, person string) chan event {
	t.Helper()
	ch, ok := p.broker.subscribe(person)
	if !ok {
		t.Fatalf("subscribe %s: refused", person)
	}
	return ch
}

// A person may have MaxStreamsPerPerson streams open; another person's
// count is their own, and a stream closed frees its place. Issue 9, item 10.
func TestBrokerCapsStreamsPerPerson(t *testing.T) {
	p := NewPlatform()
	var alice []chan event
	for range MaxStreamsPerPerson {
		alice = append(alice, subscribe(t, p, "alice"))
	}
	if ch, ok := p.broker.subscribe("alice"); ok || ch != nil {
		t.Fatalf("stream %d for alice = %v, %v; want refused", MaxStreamsPerPerson+1, ch, ok)
	}
	bob := subscribe(t, p, "bob")
	// The refused one is not counted: freeing one place gives exactly one.
	p.broker.unsubscribe(alice[0])
	p.broker.unsubscribe(alice[0]) // twice is once
	again := subscribe(t, p, "alice")
	if _, ok := p.broker.subscribe("alice"); ok {
		t.Fatal("alice opened past the cap after one stream closed")
	}
	// Every open stream still hears events.
	p.Post(context.Background(), chat.Room{ID: "incident-1"}, "x")
	for i, ch := range append(append(alice[1:], again), bob) {
		if got := received(ch); len(got) != 1 {
			t.Errorf("stream %d heard %v", i, got)
		}
	}
	for _, ch := range append(append(alice[1:], again), bob) {
		p.broker.unsubscribe(ch)
	}
	if n := len(p.broker.open); n != 0 {
		t.Fatalf("counts left after every stream closed: %v", p.broker.open)
	}
}
