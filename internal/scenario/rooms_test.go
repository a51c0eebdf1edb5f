package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
)

func onlyCard(t *testing.T, r *MemRoom) chat.Card {
	t.Helper()
	if r == nil || len(r.Cards) != 1 {
		t.Fatalf("room = %+v, want exactly one card", r)
	}
	for _, c := range r.Cards {
		return c
	}
	return chat.Card{}
}

func labels(c chat.Card) []string {
	var out []string
	for _, b := range c.Buttons {
		out = append(out, b.Label)
	}
	return out
}

func TestIncidentRoomFollowsTheIncident(t *testing.T) {
	mem := NewMemChat()
	h := New(t, WithPlatform(mem))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk").Summary("disk full on db1")))

	room := mem.Room(inc.ID)
	card := onlyCard(t, room)
	if card.Title != "#1 disk full on db1" || card.Status != incident.StatusTriggered ||
		!slices.Equal(labels(card), []string{"Acknowledge", "Escalate", "Snooze 30m", "Snooze 1h", "Snooze 4h", "Resolve"}) {
		t.Fatalf("card = %+v", card)
	}
	// The team's members with an identity on the platform are in the room
	// (the in-memory platform knows people by name, see PlatformID).
	if !slices.Equal(room.Members, []string{"alice", "bob", "carol"}) {
		t.Fatalf("members %v, want the ops team", room.Members)
	}

	// A button press is the command its value holds, run as the presser.
	ack := card.Buttons[0].Value
	expectReply(t, h.Say("alice", "ops", inc.ID, ack), false, "acknowledged by alice")
	room = mem.Room(inc.ID)
	card = onlyCard(t, room)
	if card.Status != incident.StatusAcknowledged || !slices.Equal(labels(card), []string{"Unacknowledge", "Escalate", "Resolve"}) ||
		!strings.Contains(card.Fields[0].Value, "acknowledged by test:alice") {
		t.Fatalf("card after the ack = %+v", card)
	}
	if !slices.ContainsFunc(room.Posts, func(p string) bool { return strings.HasPrefix(p, "Acknowledged by test:alice") }) {
		t.Fatalf("the room was not told: %v", room.Posts)
	}

	// An ack from anywhere else (the REST API) shows the same way.
	h.API("POST", "/api/v1/incidents/1/unack")
	h.Tick()
	if c := onlyCard(t, mem.Room(inc.ID)); c.Status != incident.StatusTriggered {
		t.Fatalf("card after an API unack = %s", c.Status)
	}
	h.API("POST", "/api/v1/incidents/1/resolve")
	h.Tick()
	room = mem.Room(inc.ID)
	if c := onlyCard(t, room); c.Status != incident.StatusResolved || !slices.Equal(labels(c), []string{"Reopen", "Actionable", "Noise", "Needs tuning"}) || !room.Closed {
		t.Fatalf("after resolve: card %+v, closed %v", c, room.Closed)
	}
	h.API("POST", "/api/v1/incidents/1/reopen")
	h.Tick()
	if room := mem.Room(inc.ID); room.Closed || onlyCard(t, room).Status != incident.StatusTriggered {
		t.Fatalf("after reopen: closed %v, card %s", room.Closed, onlyCard(t, room).Status)
	}
	if mem.Rooms() != 1 {
		t.Fatalf("%d rooms for one incident", mem.Rooms())
	}
}

func TestPlatformDownDelaysCardsButLosesNothing(t *testing.T) {
	mem := NewMemChat()
	h := New(t, WithPlatform(mem))
	mem.FailNext(5)
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Down")))
	h.API("POST", "/api/v1/incidents/1/ack")
	h.Advance(10 * time.Minute) // retries with backoff until the platform is back
	if mem.Rooms() != 1 {
		t.Fatalf("%d rooms opened", mem.Rooms())
	}
	if c := onlyCard(t, mem.Room(inc.ID)); c.Status != incident.StatusAcknowledged {
		t.Fatalf("after the outage the card says %s, want acknowledged", c.Status)
	}
	// Repeated alerts change nothing on the card: no edits for them.
	before := mem.Room(inc.ID).Edits
	for range 5 {
		h.PostAlerts(Firing("alertname=Down"))
	}
	if after := mem.Room(inc.ID).Edits; after != before {
		t.Fatalf("repeats edited the card %d times", after-before)
	}
}

func TestChatPageIsADirectMessageWithTheCard(t *testing.T) {
	mem := NewMemChat()
	h := New(t, WithPlatform(mem))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk", "severity=critical")))
	// alice is on call; her rule (none configured: chat at once) pages her
	// by direct message, with the buttons of the card.
	dms := mem.DMs("alice")
	if len(dms) != 1 || dms[0].IncidentID != inc.ID || dms[0].Buttons[0].Label != "Acknowledge" {
		t.Fatalf("alice's DMs = %+v", dms)
	}
	d := h.Incident(inc.ID)
	if countKind(d, "notify.queued", "chat to alice") != 1 || countKind(d, "notify.undeliverable", "chat") != 0 {
		t.Fatalf("timeline:\n%s", Timeline(d))
	}
	// Pressing the DM's button acks, as in the room.
	expectReply(t, h.Say("alice", "", 0, dms[0].Buttons[0].Value), false, "acknowledged by alice")
	if c := onlyCard(t, mem.Room(inc.ID)); c.Status != incident.StatusAcknowledged {
		t.Fatalf("room card after the DM ack = %s", c.Status)
	}
}
