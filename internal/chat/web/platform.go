// Package web is the bot's own chat platform: a console of server-rendered
// pages where each incident has a room (its card, buttons, timeline and a
// command box), updated live over server-sent events. It needs no token of
// any outside service, so `make run` gives a working bot; it goes through
// the same command path as every other platform.
package web

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// Platform implements chat.Platform for the console. Rooms and cards live
// in the bot's own database, so "posting" is telling the open pages that
// something changed.
type Platform struct {
	broker *broker
}

// NewPlatform returns the console's platform.
func NewPlatform() *Platform { return &Platform{broker: newBroker()} }

// Name is "web".
func (p *Platform) Name() string { return "web" }

func roomOf(id int64) chat.Room { return chat.Room{ID: fmt.Sprintf("incident-%d", id)} }

func (p *Platform) changed(room chat.Room) {
	p.broker.publish(event{Kind: "incident", Room: room.ID})
}

// OpenRoom names the incident's room; the console shows it from the
// database.
func (p *Platform) OpenRoom(_ context.Context, inc incident.Incident, _ config.Team, _ []chat.Member) (chat.Room, error) {
	r := roomOf(inc.ID)
	p.changed(r)
	return r, nil
}

// PostCard tells open pages the incident's card appeared.
func (p *Platform) PostCard(_ context.Context, room chat.Room, _ chat.Card) (string, error) {
	p.changed(room)
	return room.ID + "-card", nil
}

// UpdateCard tells open pages the card changed.
func (p *Platform) UpdateCard(_ context.Context, room chat.Room, _ string, _ chat.Card) error {
	p.changed(room)
	return nil
}

// Post tells open pages the timeline grew.
func (p *Platform) Post(_ context.Context, room chat.Room, _ string) error {
	p.changed(room)
	return nil
}

// CloseRoom and ReopenRoom only refresh pages: a console room never closes.
func (p *Platform) CloseRoom(_ context.Context, room chat.Room) error {
	p.changed(room)
	return nil
}

// ReopenRoom refreshes the room's pages.
func (p *Platform) ReopenRoom(_ context.Context, room chat.Room) error {
	p.changed(room)
	return nil
}

// Direct shows a page to the person on every console page they have open,
// linking to the incident's room; a digest of several incidents, which
// has no room, links to the list of incidents.
func (p *Platform) Direct(_ context.Context, to chat.Member, text string, card chat.Card) error {
	room := ""
	if card.IncidentID != 0 {
		room = roomOf(card.IncidentID).ID
	}
	p.broker.publish(event{Kind: "page", Person: to.PlatformID, Room: room, Text: text})
	return nil
}

// kindSignedOut tells a person's streams that they signed out; it is not
// sent to pages.
const kindSignedOut = "signed-out"

// event is what open pages hear. An event with a Person goes only to that
// person's streams.
type event struct {
	Kind   string `json:"kind"`
	Room   string `json:"room,omitempty"`
	Person string `json:"person,omitempty"`
	Text   string `json:"text,omitempty"`
}

// broker fans events out to the open pages' streams. A slow page misses
// events rather than holding anyone up, and hears that it did (a resync,
// so it reloads); a page to its person is never the event it misses.
type broker struct {
	mu   sync.Mutex
	subs map[chan event]*subscriber
	// open counts each person's streams, for the cap (maxStreams).
	open map[string]int
	max  int
}

// MaxStreamsPerPerson is how many live-update streams one person may have
// open at once, across all their sessions and devices: a console tab each,
// so more than anyone works with, and few enough that a signed-in client
// cannot hold the server's goroutines and memory without bound. A stream
// over the cap is refused (429) rather than closing the oldest: a browser
// reconnects a stream that was closed, which would close the next oldest,
// and so on around the tabs for as long as they are open; refused, the
// newest tab only goes without live updates (it still works, by reloading)
// and its EventSource stops asking. A stream counts until its handler
// returns: its client leaves, its session ends, or the server shuts down.
const MaxStreamsPerPerson = 8

// StreamHeartbeat is how often a quiet live-update stream says it is
// alive (an SSE comment): under the 60 s idle timeout that nginx and most
// load balancers apply by default.
const StreamHeartbeat = 25 * time.Second

// subscriber is one open stream.
type subscriber struct {
	person string
	// missed is set when an event could not be queued for the stream.
	missed bool
}

// kindResync tells a page it missed events and should reload.
const kindResync = "resync"

func newBroker() *broker {
	return &broker{subs: map[chan event]*subscriber{}, open: map[string]int{}, max: MaxStreamsPerPerson}
}

// subscribe opens a stream for person, or reports false when they already
// have the most streams open that they may.
func (b *broker) subscribe(person string) (chan event, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open[person] >= b.max {
		return nil, false
	}
	ch := make(chan event, 16)
	b.subs[ch] = &subscriber{person: person}
	b.open[person]++
	return ch, true
}

func (b *broker) unsubscribe(ch chan event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub, ok := b.subs[ch]
	if !ok {
		return
	}
	delete(b.subs, ch)
	if b.open[sub.person]--; b.open[sub.person] <= 0 {
		delete(b.open, sub.person)
	}
}

// missed reports, once, whether the stream missed events since it last
// asked.
func (b *broker) missed(ch chan event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub, ok := b.subs[ch]
	if !ok || !sub.missed {
		return false
	}
	sub.missed = false
	return true
}

func (b *broker) publish(e event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, sub := range b.subs {
		if e.Person != "" && e.Person != sub.person {
			continue
		}
		select {
		case ch <- e:
			continue
		default:
		}
		sub.missed = true
		if e.Person != "" {
			// Meant for this person (a page): it takes the place of the
			// oldest waiting event, which the resync covers.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- e:
			default:
			}
		}
	}
}
