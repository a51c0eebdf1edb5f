package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
)

// MemRoom is a room of MemChat.
type MemRoom struct {
	ID      string
	Members []string
	Cards   map[string]chat.Card // message id -> the card as it stands
	Edits   int
	Posts   []string
	// Images are the pictures posted (chat.ImagePoster), in order.
	Images []chat.Image
	Closed bool
}

// MemChat is a chat platform kept in memory: rooms, members, cards and
// their edits, posts; it fails on demand. It stands in for a platform in
// tests of the platform-neutral delivery; each real platform's adapter is
// tested against an HTTP fake of its own.
type MemChat struct {
	mu       sync.Mutex
	dms      map[string][]chat.Card
	rooms    map[string]*MemRoom
	byInc    map[int64]string
	next     int
	failures int
}

// NewMemChat returns an empty platform.
func NewMemChat() *MemChat {
	return &MemChat{rooms: map[string]*MemRoom{}, byInc: map[int64]string{}, dms: map[string][]chat.Card{}}
}

// Direct sends a private card to a person.
func (m *MemChat) Direct(_ context.Context, to chat.Member, _ string, card chat.Card) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	m.dms[to.PlatformID] = append(m.dms[to.PlatformID], card)
	return nil
}

// DMs returns the cards sent privately to a platform identity.
func (m *MemChat) DMs(id string) []chat.Card {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]chat.Card(nil), m.dms[id]...)
}

// Name is "mem".
func (m *MemChat) Name() string { return "mem" }

// FailNext makes the next n calls fail, as a platform that is down.
func (m *MemChat) FailNext(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures = n
}

func (m *MemChat) fail() error {
	if m.failures > 0 {
		m.failures--
		return &outbox.RetryAfterError{After: 0, Err: errors.New("mem chat is down")}
	}
	return nil
}

// OpenRoom opens the incident's room, or finds the one already open.
func (m *MemChat) OpenRoom(_ context.Context, inc incident.Incident, team config.Team, members []chat.Member) (chat.Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return chat.Room{}, err
	}
	if id, ok := m.byInc[inc.ID]; ok {
		return chat.Room{ID: id}, nil
	}
	m.next++
	id := fmt.Sprintf("room-%d", m.next)
	r := &MemRoom{ID: id, Cards: map[string]chat.Card{}}
	for _, mb := range members {
		r.Members = append(r.Members, mb.PlatformID)
	}
	m.rooms[id] = r
	m.byInc[inc.ID] = id
	return chat.Room{ID: id}, nil
}

// PostCard posts a card.
func (m *MemChat) PostCard(_ context.Context, room chat.Room, card chat.Card) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return "", err
	}
	r := m.rooms[room.ID]
	id := fmt.Sprintf("msg-%d", len(r.Cards)+1)
	r.Cards[id] = card
	return id, nil
}

// UpdateCard edits a card.
func (m *MemChat) UpdateCard(_ context.Context, room chat.Room, id string, card chat.Card) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	r := m.rooms[room.ID]
	if _, ok := r.Cards[id]; !ok {
		return outbox.Permanent(fmt.Errorf("message %s not found", id))
	}
	r.Cards[id] = card
	r.Edits++
	return nil
}

// Post adds a line to the room.
func (m *MemChat) Post(_ context.Context, room chat.Room, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	m.rooms[room.ID].Posts = append(m.rooms[room.ID].Posts, text)
	return nil
}

// PostImage adds a picture to the room.
func (m *MemChat) PostImage(_ context.Context, room chat.Room, img chat.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	m.rooms[room.ID].Images = append(m.rooms[room.ID].Images, img)
	return nil
}

// CloseRoom closes a room.
func (m *MemChat) CloseRoom(_ context.Context, room chat.Room) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	m.rooms[room.ID].Closed = true
	return nil
}

// ReopenRoom opens a closed room again.
func (m *MemChat) ReopenRoom(_ context.Context, room chat.Room) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail(); err != nil {
		return err
	}
	m.rooms[room.ID].Closed = false
	return nil
}

// Room returns a copy of the incident's room, or nil.
func (m *MemChat) Room(inc int64) *MemRoom {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byInc[inc]
	if !ok {
		return nil
	}
	r := *m.rooms[id]
	r.Cards = map[string]chat.Card{}
	for k, v := range m.rooms[id].Cards {
		r.Cards[k] = v
	}
	r.Posts = append([]string(nil), m.rooms[id].Posts...)
	r.Images = append([]chat.Image(nil), m.rooms[id].Images...)
	return &r
}

// Rooms counts the rooms opened.
func (m *MemChat) Rooms() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms)
}
