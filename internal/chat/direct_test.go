package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// dmPlatform records the direct messages it is given and their edits.
type dmPlatform struct {
	name string
	// editFails fails every UpdateCard; sendFails every new message;
	// digestFails every new digest.
	editFails, sendFails, digestFails error
	sent                              []dmMessage
}

type dmMessage struct {
	to    string
	title string // the card's
	edits int
}

func (p *dmPlatform) Name() string { return p.name }
func (p *dmPlatform) OpenRoom(context.Context, incident.Incident, config.Team, []Member) (Room, error) {
	return Room{}, errors.New("not in this fake")
}
func (p *dmPlatform) PostCard(context.Context, Room, Card) (string, error) {
	return "", errors.New("not in this fake")
}
func (p *dmPlatform) Post(context.Context, Room, string) error { return nil }
func (p *dmPlatform) CloseRoom(context.Context, Room) error    { return nil }
func (p *dmPlatform) ReopenRoom(context.Context, Room) error   { return nil }
func (p *dmPlatform) Direct(ctx context.Context, to Member, text string, card Card) error {
	_, _, err := p.DirectCard(ctx, to, text, card)
	return err
}

func (p *dmPlatform) DirectCard(_ context.Context, to Member, _ string, card Card) (Room, string, error) {
	if p.sendFails != nil {
		return Room{}, "", p.sendFails
	}
	if p.digestFails != nil && card.IncidentID == 0 && strings.Contains(card.Title, "paging you") {
		return Room{}, "", p.digestFails
	}
	p.sent = append(p.sent, dmMessage{to: to.PlatformID, title: card.Title})
	return Room{ID: "D" + to.PlatformID}, fmt.Sprint(len(p.sent)), nil
}

func (p *dmPlatform) UpdateCard(_ context.Context, room Room, id string, card Card) error {
	if p.editFails != nil {
		return p.editFails
	}
	var n int
	fmt.Sscan(id, &n)
	if n < 1 || n > len(p.sent) || room.ID != "D"+p.sent[n-1].to {
		return outbox.Permanent(fmt.Errorf("no message %s in %s", id, room.ID))
	}
	p.sent[n-1].title = card.Title
	p.sent[n-1].edits++
	return nil
}

// plainPlatform can send direct messages but not say where they went, so
// it cannot edit them.
type plainPlatform struct{ sent []string }

func (p *plainPlatform) Name() string { return "web" }
func (p *plainPlatform) OpenRoom(context.Context, incident.Incident, config.Team, []Member) (Room, error) {
	return Room{}, nil
}
func (p *plainPlatform) PostCard(context.Context, Room, Card) (string, error) { return "", nil }
func (p *plainPlatform) UpdateCard(context.Context, Room, string, Card) error { return nil }
func (p *plainPlatform) Post(context.Context, Room, string) error             { return nil }
func (p *plainPlatform) CloseRoom(context.Context, Room) error                { return nil }
func (p *plainPlatform) ReopenRoom(context.Context, Room) error               { return nil }
func (p *plainPlatform) Direct(_ context.Context, to Member, _ string, card Card) error {
	p.sent = append(p.sent, to.PlatformID+": "+card.Title)
	return nil
}

var alice = config.Person{Name: "alice", Slack: "UA", Telegram: "1001"}

func pageMsg(t *testing.T, id int64) outbox.Message {
	t.Helper()
	b, err := json.Marshal(oncall.Page{Key: fmt.Sprintf("incident/%d/cycle/0/step/0/alice/chat", id), Method: "chat", Person: alice,
		Incident: incident.Incident{ID: id, Title: fmt.Sprint("disk ", id), Status: incident.StatusTriggered}, Text: fmt.Sprint("page ", id)})
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message{ID: id, Kind: oncall.EventPage, Payload: b}
}

func pages(t *testing.T, ids ...int64) []outbox.Message {
	var out []outbox.Message
	for _, id := range ids {
		out = append(out, pageMsg(t, id))
	}
	return out
}

// A storm's pages to one person are one message on each platform,
// edited as more come while it is fresh; a lone page is the incident's
// card, with a receipt for the deliverer to keep it up to date.
func TestDirectPagerDigests(t *testing.T) {
	now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	slack, tg := &dmPlatform{name: "slack"}, &dmPlatform{name: "telegram"}
	d := NewDirectPager([]Platform{slack, tg}, nil, func() time.Time { return now })
	ctx := context.Background()
	titles := func(p *dmPlatform) []string {
		var out []string
		for _, m := range p.sent {
			out = append(out, fmt.Sprintf("%s (%d edits)", m.title, m.edits))
		}
		return out
	}
	steps := []struct {
		name    string
		advance time.Duration
		batch   []outbox.Message
		// receipt is DeliverReceipt's answer, for a single page.
		receipt string
		want    []string // slack's messages then
	}{
		{name: "a lone page is the incident's card, with a receipt", batch: pages(t, 1),
			receipt: `[{"p":"slack","r":"DUA","m":"1"},{"p":"telegram","r":"D1001","m":"1"}]`,
			want:    []string{"#1 disk 1 (0 edits)"}},
		{name: "a batch is one digest", batch: pages(t, 2, 3, 4),
			want: []string{"#1 disk 1 (0 edits)", "3 incidents are paging you (0 edits)"}},
		{name: "the next batch edits it to count both", advance: time.Minute, batch: pages(t, 5, 6),
			want: []string{"#1 disk 1 (0 edits)", "5 incidents are paging you (1 edits)"}},
		{name: "a lone page joins it too, with no receipt", advance: time.Minute, batch: pages(t, 7),
			want: []string{"#1 disk 1 (0 edits)", "6 incidents are paging you (2 edits)"}},
		{name: "an incident paged again is counted once", batch: pages(t, 7, 2),
			want: []string{"#1 disk 1 (0 edits)", "6 incidents are paging you (3 edits)"}},
		{name: "past the window, a new digest (which notifies)", advance: DigestWindow, batch: pages(t, 8, 9),
			want: []string{"#1 disk 1 (0 edits)", "6 incidents are paging you (3 edits)", "2 incidents are paging you (0 edits)"}},
		{name: "after it, a lone page is a card again", advance: DigestWindow, batch: pages(t, 10),
			receipt: `[{"p":"slack","r":"DUA","m":"4"},{"p":"telegram","r":"D1001","m":"4"}]`,
			want:    []string{"#1 disk 1 (0 edits)", "6 incidents are paging you (3 edits)", "2 incidents are paging you (0 edits)", "#10 disk 10 (0 edits)"}},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if len(s.batch) == 1 {
			receipt, err := d.DeliverReceipt(ctx, s.batch[0])
			if err != nil || receipt != s.receipt {
				t.Fatalf("%s: receipt %q, %v; want %q", s.name, receipt, err, s.receipt)
			}
		} else if err := d.DeliverBatch(ctx, s.batch); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := titles(slack); !slices.Equal(got, s.want) {
			t.Fatalf("%s: slack has\n%q\nwant\n%q", s.name, got, s.want)
		}
		if got := titles(tg); !slices.Equal(got, s.want) {
			t.Fatalf("%s: telegram has\n%q\nwant\n%q", s.name, got, s.want)
		}
	}
}

func TestDirectPagerDigestFailures(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	down := errors.New("platform down")

	t.Run("a digest that cannot be edited is replaced by a new one", func(t *testing.T) {
		p := &dmPlatform{name: "slack"}
		d := NewDirectPager([]Platform{p}, nil, clock)
		if err := d.DeliverBatch(ctx, pages(t, 1, 2)); err != nil {
			t.Fatal(err)
		}
		p.editFails = outbox.Permanent(errors.New("message_not_found"))
		if err := d.DeliverBatch(ctx, pages(t, 3, 4, 5)); err != nil {
			t.Fatal(err)
		}
		if len(p.sent) != 2 || p.sent[1].title != "3 incidents are paging you" {
			t.Fatalf("sent %+v", p.sent)
		}
	})
	t.Run("a digest that could not be edited for now is edited by the retry", func(t *testing.T) {
		p := &dmPlatform{name: "slack"}
		d := NewDirectPager([]Platform{p}, nil, clock)
		if err := d.DeliverBatch(ctx, pages(t, 1, 2)); err != nil {
			t.Fatal(err)
		}
		p.editFails = down
		if err := d.DeliverBatch(ctx, pages(t, 3, 4)); !errors.Is(err, down) || outbox.IsPermanent(err) {
			t.Fatalf("err = %v, want a retry", err)
		}
		p.editFails = nil
		if err := d.DeliverBatch(ctx, pages(t, 3, 4)); err != nil {
			t.Fatal(err)
		}
		if len(p.sent) != 1 || p.sent[0].title != "4 incidents are paging you" || p.sent[0].edits != 1 {
			t.Fatalf("sent %+v", p.sent)
		}
	})
	t.Run("reached on one platform is sent; on none, retried", func(t *testing.T) {
		slack, tg := &dmPlatform{name: "slack"}, &dmPlatform{name: "telegram", sendFails: down}
		d := NewDirectPager([]Platform{slack, tg}, nil, clock)
		if err := d.DeliverBatch(ctx, pages(t, 1, 2)); err != nil {
			t.Fatalf("sent on slack, yet %v", err)
		}
		slack.sendFails, slack.editFails = down, down
		err := d.DeliverBatch(ctx, pages(t, 3, 4))
		if err == nil || outbox.IsPermanent(err) || !errors.Is(err, down) {
			t.Fatalf("nothing sent, err = %v; want a retry", err)
		}
	})
	t.Run("no identity anywhere is permanent", func(t *testing.T) {
		d := NewDirectPager([]Platform{&dmPlatform{name: "discord"}}, nil, clock)
		if err := d.DeliverBatch(ctx, pages(t, 1, 2)); !outbox.IsPermanent(err) || !strings.Contains(err.Error(), "no identity") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a platform that cannot edit gets each digest anew", func(t *testing.T) {
		p := &plainPlatform{}
		d := NewDirectPager([]Platform{p}, nil, clock)
		for _, b := range [][]outbox.Message{pages(t, 1, 2), pages(t, 3, 4, 5), pages(t, 6)} {
			if err := d.DeliverBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"alice: 2 incidents are paging you", "alice: 3 incidents are paging you", "alice: #6 disk 6"}
		if !slices.Equal(p.sent, want) {
			t.Fatalf("sent %q, want %q", p.sent, want)
		}
	})
	t.Run("what is not an incident's page goes on its own", func(t *testing.T) {
		p := &dmPlatform{name: "slack"}
		d := NewDirectPager([]Platform{p}, nil, clock)
		gap, _ := json.Marshal(oncall.Page{Key: "gap/1/alice", Method: "chat", Person: alice, Subject: "Gap in the ops on-call schedule", Text: "gap"})
		batch := append(pages(t, 1, 2), outbox.Message{ID: 9, Kind: oncall.EventGap, Payload: gap})
		if err := d.DeliverBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// The gap warning is its own message (its card is whatever NewCard
		// makes of no incident); the digest counts the two pages only.
		if len(p.sent) != 2 || p.sent[1].title != "2 incidents are paging you" {
			t.Fatalf("sent %+v", p.sent)
		}
	})
	t.Run("a batch fails before its pages are lost", func(t *testing.T) {
		gap, _ := json.Marshal(oncall.Page{Key: "gap/1/alice", Method: "chat", Person: alice, Subject: "Gap", Text: "gap"})
		notice := outbox.Message{ID: 9, Kind: oncall.EventGap, Payload: gap}
		// The notice cannot go: nothing else is tried.
		p := &dmPlatform{name: "slack", sendFails: down}
		d := NewDirectPager([]Platform{p}, nil, clock)
		if err := d.DeliverBatch(ctx, append(pages(t, 1, 2), notice)); !errors.Is(err, down) {
			t.Fatalf("err = %v", err)
		}
		// The notice went, the digest cannot: the batch fails, for a
		// retry to send the pages (and the notice again).
		p = &dmPlatform{name: "slack", digestFails: down}
		d = NewDirectPager([]Platform{p}, nil, clock)
		if err := d.DeliverBatch(ctx, append(pages(t, 1, 2), notice)); !errors.Is(err, down) || len(p.sent) != 1 {
			t.Fatalf("the notice alone went (%+v), err = %v", p.sent, err)
		}
	})
	t.Run("a bad payload is permanent", func(t *testing.T) {
		d := NewDirectPager([]Platform{&dmPlatform{name: "slack"}}, nil, clock)
		err := d.DeliverBatch(ctx, append(pages(t, 1), outbox.Message{ID: 2, Kind: oncall.EventPage, Payload: []byte("{")}))
		if !outbox.IsPermanent(err) {
			t.Fatalf("err = %v", err)
		}
	})
}
