package chat

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

func TestTimelineLine(t *testing.T) {
	cases := []struct {
		kind, actor, detail, want string
	}{
		{incident.KindAcknowledged, "slack:bob", "", "Acknowledged by slack:bob"},
		{incident.KindNote, "web:alice", "disk cleaned", "Note by web:alice: disk cleaned"},
		{incident.KindAssigned, "api:tester", "to dave", "Assigned by api:tester: to dave"},
		{oncall.KindStep, "bot", "step 1/2: alice (on call for ops)", "Escalation: step 1/2: alice (on call for ops)"},
		{oncall.KindNotified, "bot", "sms to alice (on call for ops)", "Notified: sms to alice (on call for ops)"},
		{incident.KindPaging, "bot", "escalation policy ops-default", "Paging started: escalation policy ops-default"},
		{"something.new", "bot", "x", "something.new: x"},
		{"something.new", "", "", "something.new"},
	}
	for _, c := range cases {
		got := timelineLine(incident.EventPayload{Event: c.kind, Actor: c.actor, Detail: c.detail})
		if got != c.want {
			t.Errorf("%s by %q (%q) = %q, want %q", c.kind, c.actor, c.detail, got, c.want)
		}
	}
}

func TestRunText(t *testing.T) {
	alerts := func(n int) []incident.EventPayload {
		var out []incident.EventPayload
		for i := range n {
			out = append(out, incident.EventPayload{Event: incident.KindAlertAdded, Actor: "bot", Detail: fmt.Sprintf("disk full on db%d", i)})
		}
		return out
	}
	cases := []struct {
		name       string
		evs        []incident.EventPayload
		want       string
		wantPaging []string
	}{
		{"one event is its line",
			[]incident.EventPayload{{Event: incident.KindAcknowledged, Actor: "slack:bob"}}, "Acknowledged by slack:bob", nil},
		{"a new incident's first event says nothing",
			[]incident.EventPayload{{Event: incident.KindTriggered, Actor: "bot"}}, "", nil},
		{"a few events are a line each, in order",
			append(alerts(2), incident.EventPayload{Event: oncall.KindStep, Detail: "step 1/2: alice", Paging: []string{"alice"}}),
			"Alert added: disk full on db0\nAlert added: disk full on db1\nEscalation: step 1/2: alice", []string{"alice"}},
		{"a storm of alerts is three lines and a count",
			alerts(3000), "Alert added: disk full on db0\nAlert added: disk full on db1\nAlert added: disk full on db2\n+2,997 alerts", nil},
		{"state changes are never counted away",
			append(append(alerts(5), incident.EventPayload{Event: incident.KindAcknowledged, Actor: "web:alice"}), alerts(1)...),
			"Alert added: disk full on db0\nAlert added: disk full on db1\nAlert added: disk full on db2\nAcknowledged by web:alice\n+3 alerts", nil},
		{"everyone paged in the run is called, once",
			[]incident.EventPayload{{Event: oncall.KindStep, Detail: "step 1", Paging: []string{"alice", "bob"}}, {Event: oncall.KindStep, Detail: "step 2", Paging: []string{"bob", "carol"}}},
			"Escalation: step 1\nEscalation: step 2", []string{"alice", "bob", "carol"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, paging := runText(c.evs)
			if got != c.want {
				t.Errorf("text = %q, want %q", got, c.want)
			}
			if !slices.Equal(paging, c.wantPaging) {
				t.Errorf("paging = %v, want %v", paging, c.wantPaging)
			}
		})
	}
}

func TestRunTextStaysWithinOneMessage(t *testing.T) {
	var evs []incident.EventPayload
	for i := range 100 {
		evs = append(evs, incident.EventPayload{Event: incident.KindNote, Actor: "web:alice", Detail: strings.Repeat("x", 300) + fmt.Sprint(i)})
	}
	got, _ := runText(evs)
	if len(got) > maxRunChars || strings.Count(got, "\n")+1 > maxRunLines {
		t.Fatalf("%d characters in %d lines, want within %d and %d", len(got), strings.Count(got, "\n")+1, maxRunChars, maxRunLines)
	}
	if !strings.HasSuffix(got, " more") {
		t.Errorf("the notes left out are not counted: ...%q", got[len(got)-40:])
	}
}

// An update that stands for several events (Lines) is told like them:
// each line, a burst's alerts past the first few counted.
func TestRunTextOfAnUpdateOfSeveralEvents(t *testing.T) {
	update := incident.EventPayload{Event: incident.KindAlertAdded, Lines: []incident.EventLine{
		{Event: incident.KindTriggered, Actor: "am", Detail: "db0 down"},
		{Event: incident.KindPaging, Actor: "bot", Detail: "escalation policy p"},
		{Event: oncall.KindStep, Actor: "bot", Detail: "step 1/1: pat", Paging: []string{"pat"}},
		{Event: incident.KindAlertAdded, Actor: "am", Detail: "db1 down"},
		{Event: incident.KindAlertAdded, Actor: "am", Detail: "db2 down"},
		{Event: incident.KindAlertAdded, Actor: "am", Detail: "db3 down"},
		{Event: incident.KindAlertAdded, More: 2496},
	}}
	got, paging := runText([]incident.EventPayload{update, {Event: incident.KindAlertAdded, Actor: "am", Detail: "db9 down"}})
	want := "Paging started: escalation policy p\nEscalation: step 1/1: pat\nAlert added by am: db1 down\nAlert added by am: db2 down\nAlert added by am: db3 down\n+2,497 alerts"
	if got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if !slices.Equal(paging, []string{"pat"}) {
		t.Errorf("paging = %v, want [pat]", paging)
	}
}
