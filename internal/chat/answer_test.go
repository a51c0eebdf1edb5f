package chat

import (
	"context"
	"strings"
	"testing"
)

func TestAnswered(t *testing.T) {
	cases := []struct {
		name string
		req  Request
		want bool
	}{
		{"a stranger in a team's room (a newcomer linking)", Request{Platform: "telegram", PlatformUser: "555", Team: "ops"}, true},
		{"a stranger in an incident's room", Request{Platform: "slack", PlatformUser: "U9", Incident: 4}, true},
		{"a known person in their DM", Request{Platform: "slack", PlatformUser: "UA", User: "alice", Direct: true}, true},
		{"a known person in a team's room", Request{Platform: "discord", PlatformUser: "111", User: "alice", Team: "ops"}, true},
		{"a stranger's DM", Request{Platform: "telegram", PlatformUser: "555", Direct: true}, false},
		{"a stranger in a group the bot was added to", Request{Platform: "telegram", PlatformUser: "555"}, false},
		{"a known person in a group the config does not name", Request{Platform: "telegram", PlatformUser: "1001", User: "alice"}, false},
		{"nobody at all", Request{Platform: "telegram"}, false},
		{"the console's signed-in person", Request{Platform: "web", User: "alice"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Answered(c.req); got != c.want {
				t.Errorf("Answered(%+v) = %v, want %v", c.req, got, c.want)
			}
		})
	}
}

// Run applies the rule before anything else: a refusal names no team,
// person or schedule, whatever the line; a link made with /oncall link
// makes the DM one of a known person.
func TestRunAnswersOnlyWhereItListens(t *testing.T) {
	f := newLinkFixture(t)
	// 7001 links itself to alice from the team's room.
	room := Request{Platform: "telegram", PlatformUser: "7001", Team: "ops"}
	f.exec.Run(context.Background(), room, "link alice")
	if r := f.exec.Run(context.Background(), room, "link alice "+f.sent.last("telegram", "7001")); !strings.Contains(r.Text, "Linked") {
		t.Fatalf("link answered %q", r.Text)
	}
	lines := []string{"who", "who ops", "schedule", "schedule ops 30", "help", "link bob", "ack #1", "nonsense", ""}
	cases := []struct {
		name string
		req  Request
		// answered, else refused; says is part of the answer to "who".
		answered bool
		says     string
	}{
		{"a stranger's DM", Request{Platform: "telegram", PlatformUser: "666", Direct: true}, false, ""},
		{"a stranger in an unknown group", Request{Platform: "telegram", PlatformUser: "666"}, false, ""},
		{"a linked account's DM", Request{Platform: "telegram", PlatformUser: "7001", Direct: true}, true, "On call for ops"},
		{"a linked account in an unknown group", Request{Platform: "telegram", PlatformUser: "7001"}, false, ""},
		{"a configured person's DM", Request{Platform: "slack", PlatformUser: "UB", User: "bob", Direct: true}, true, "On call for ops"},
		{"a stranger in the team's room", Request{Platform: "telegram", PlatformUser: "666", Team: "ops"}, true, "On call for ops"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, line := range lines {
				r := f.exec.Run(context.Background(), c.req, line)
				if r.Unanswered == c.answered {
					t.Fatalf("%q: reply %+v, want answered %v", line, r, c.answered)
				}
				if c.answered {
					continue
				}
				if r.Text != unanswered || !r.Private || r.Incident != 0 {
					t.Fatalf("%q: refused with %+v, want the one private refusal", line, r)
				}
				for _, name := range []string{"alice", "bob", "ops"} {
					if strings.Contains(r.Text, name) {
						t.Fatalf("%q: the refusal %q names %s", line, r.Text, name)
					}
				}
			}
			if r := f.exec.Run(context.Background(), c.req, "who"); !strings.Contains(r.Text, c.says) {
				t.Fatalf("who answered %q, want %q", r.Text, c.says)
			}
		})
	}
	// Refused commands send nothing: bob got the codes of the three
	// answered "link bob" only.
	if n := f.sent.to["bob"]; n != 3 {
		t.Errorf("bob was sent %d codes; want the 3 of the answered requests", n)
	}
}
