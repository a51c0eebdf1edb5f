package scenario

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
)

// Say runs a chat command as user in a room of team, about incident (0
// when the room is not an incident's).
func (h *Harness) Say(user, team string, inc int64, line string) chat.Reply {
	h.T.Helper()
	r := h.App.Chat.Run(context.Background(), chat.Request{User: user, Platform: "test", Team: team, Incident: inc}, line)
	h.Tick()
	return r
}

func expectReply(t *testing.T, r chat.Reply, private bool, contains ...string) {
	t.Helper()
	if r.Private != private {
		t.Fatalf("reply %q: private = %v, want %v", r.Text, r.Private, private)
	}
	for _, c := range contains {
		if !strings.Contains(r.Text, c) {
			t.Fatalf("reply %q does not say %q", r.Text, c)
		}
	}
}

func TestChatCommandsOnAnIncident(t *testing.T) {
	h := New(t)
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk")))

	expectReply(t, h.Say("", "ops", inc.ID, "ack"), true, "don't know who you are on test")
	expectReply(t, h.Say("alice", "ops", 0, "ack"), true, "Which incident?")
	expectReply(t, h.Say("alice", "ops", inc.ID, "ack"), false, "#1 acknowledged by alice")
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "test:alice" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	expectReply(t, h.Say("bob", "ops", inc.ID, "ack"), true, "already acknowledged by test:alice")
	expectReply(t, h.Say("bob", "ops", 0, "note #1 rotating the logs"), false, "#1 noted")
	if countKind(h.Incident(inc.ID), incident.KindNote, "rotating the logs") != 1 {
		t.Fatal("the note is not on the timeline")
	}
	expectReply(t, h.Say("bob", "", 0, "resolve 1"), false, "#1 resolved by bob")
	expectReply(t, h.Say("bob", "", 0, "resolve 99"), true, "no such incident")
	expectReply(t, h.Say("bob", "", 0, "frobnicate"), true, "unknown command")

	// A dba incident: carol is not in dba, so she may look but not act.
	dba := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag", "service=postgres")))
	expectReply(t, h.Say("carol", "", dba.ID, "ack"), true, "Only members of team dba")
	h.ExpectStatus(dba.ID, incident.StatusTriggered)
}

func TestChatSnoozeStopsPagingForAWhile(t *testing.T) {
	h := New(t)
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Noisy")))
	expectReply(t, h.Say("alice", "ops", inc.ID, "snooze 30m"), false, "snoozed by alice for 30m0s")
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	h.Advance(29 * time.Minute)
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	h.Advance(time.Minute)
	d := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	if k := Kinds(d); k[len(k)-1] != incident.KindPaging {
		t.Fatalf("after the snooze paging did not start again: %v", k)
	}
	expectReply(t, h.Say("alice", "ops", inc.ID, "snooze 8d"), true, "at most 7 days")
}

func TestChatWhoAndSchedule(t *testing.T) {
	h := New(t)
	expectReply(t, h.Say("carol", "", 0, "who"), false, "On call for ops: alice (until Mon 2 Mar 09:00 GMT)", "Next: bob from Mon 2 Mar 09:00 GMT")
	// bob is in two teams: he must say which.
	expectReply(t, h.Say("bob", "", 0, "who"), true, "Which team? You are in ops, dba")
	expectReply(t, h.Say("bob", "", 0, "who dba"), false, "Team dba has no schedule")
	expectReply(t, h.Say("", "ops", 0, "who"), false, "On call for ops: alice") // anyone in the team's room may look
	r := h.Say("carol", "ops", 0, "schedule 14")
	expectReply(t, r, false, "Schedule ops, the next 14 days (Europe/London)")
	if n := len(regexp.MustCompile(`\n`).FindAllString(r.Text, -1)); n != 3 {
		t.Fatalf("14 days of a weekly rotation from Monday 03:00 show %d stretches:\n%s", n, r.Text)
	}
}

func TestChatSwapAndTake(t *testing.T) {
	h := New(t)
	r := h.Say("alice", "ops", 0, "cover")
	expectReply(t, r, false, "alice asks for cover from Mon 2 Mar 03:00 GMT to Mon 2 Mar 09:00 GMT", "/oncall accept 1")
	expectReply(t, h.Say("alice", "ops", 0, "accept 1"), true, "cannot cover your own shift")
	expectReply(t, h.Say("carol", "ops", 0, "accept 1"), false, "carol covers alice")
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("after the swap on call = %v", oc.OnCall)
	}
	expectReply(t, h.Say("bob", "ops", 0, "take"), false, "bob took the ops shift until Mon 2 Mar 09:00 GMT")
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("after take on call = %v", oc.OnCall)
	}
	// A swap of a later shift, in the asker's own zone: bob is in New York
	// (UTC-5): his 04:00-08:00 on Tue 3 Mar is 09:00-13:00 UTC, his shift.
	expectReply(t, h.Say("bob", "ops", 0, "swap 2026-03-03T04:00 2026-03-03T08:00"), false,
		"bob asks for cover from Tue 3 Mar 09:00 GMT to Tue 3 Mar 13:00 GMT")
	expectReply(t, h.Say("carol", "ops", 0, "swap tomorrow later"), true, "not a local date and time")
}

func TestChatLeadEditsTheRotation(t *testing.T) {
	h := New(t)
	expectReply(t, h.Say("bob", "ops", 0, "rotation add carol"), true, "Only the leads of team ops (alice)")
	r := h.Say("alice", "ops", 0, "rotation add carol")
	expectReply(t, r, false, "Rotation weekly changed (add carol)", "Next: bob from Mon 2 Mar 09:00 GMT", "Next: carol from Mon 9 Mar 09:00 GMT")
	expectReply(t, h.Say("alice", "ops", 0, "rotation handoff 10:00"), false, "Next: bob from Mon 2 Mar 10:00 GMT")
	expectReply(t, h.Say("alice", "ops", 0, "rotation remove zed"), true, "zed is not in weekly")
	expectReply(t, h.Say("alice", "ops", 0, "override carol 2026-03-02T12:00 2026-03-02T14:00 bob"), false,
		"Override made: carol on call from Mon 2 Mar 12:00 GMT to Mon 2 Mar 14:00 GMT")
	h.Clock.Set(time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC))
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("during the override on call = %v", oc.OnCall)
	}
}
