package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
)

// Issue 9 ("the demo logs an error for every escalation"): a policy's
// {room: ops} step, with the team having no room on any configured chat
// platform (here the console only, as in the demo), is said once per
// incident on its timeline, however often the step runs, and nothing is
// queued for the room consumer to give up on.
func TestARoomTargetWithNoRoomIsSaidOncePerIncident(t *testing.T) {
	cfg := strings.NewReplacer(
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol], leads: [carol], schedule: ops, escalation_policy: loud}",
		"default_route:\n  team: ops\n  escalation_policy: ops-default", "default_route:\n  team: ops",
		"escalation_policy: dba-default", "escalation_policy: loud",
		"webhooks:", "escalation_policies:\n  - {name: loud, repeat: 2, steps: [{delay: 5m, targets: [{schedule: ops}]}, {delay: 5m, targets: [{room: ops}]}]}\nwebhooks:",
	).Replace(consoleConfig)
	h := New(t, WithConfig(cfg))
	if w := h.Config.Warnings(); len(w) != 1 || !strings.Contains(w[0], "{room: ops}: team ops has no room") {
		t.Fatalf("config warnings = %q, want the room target flagged", w)
	}
	first := h.OnlyIncident(h.PostAlerts(Firing("alertname=Loud")))
	second := h.OnlyIncident(h.PostAlerts(Firing("alertname=Louder")))
	h.Advance(40 * time.Minute) // three rounds of both steps

	for _, id := range []int64{first.ID, second.ID} {
		d := h.Incident(id)
		steps, said := 0, 0
		for _, e := range d.Timeline {
			switch {
			case e.Kind == oncall.KindStep && strings.Contains(e.Detail, "room of ops"):
				steps++
			case e.Kind == oncall.KindUndeliverable && strings.Contains(e.Detail, "room of ops"):
				said++
				if !strings.Contains(e.Detail, "team ops has no room on any configured chat platform") {
					t.Errorf("#%d says %q", id, e.Detail)
				}
			}
		}
		if steps != 3 || said != 1 {
			t.Fatalf("#%d: the room step ran %d times (want 3) and was said undeliverable %d times (want once):\n%s", id, steps, said, Timeline(d))
		}
	}
	var queued int
	if err := h.App.Store.Read().QueryRow(`SELECT count(*) FROM outbox WHERE consumer = ?`, oncall.RoomConsumer).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Fatalf("%d room pages queued for a room that does not exist", queued)
	}
}
