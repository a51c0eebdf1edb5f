package chat

import (
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
