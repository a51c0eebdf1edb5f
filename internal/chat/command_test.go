package chat

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Command
	}{
		{"/oncall ack", Command{Verb: VerbAck}},
		{"/oncall@pagerbot ack #42", Command{Verb: VerbAck, Incident: 42}},
		{"ACK 42", Command{Verb: VerbAck, Incident: 42}},
		{"/ack 7", Command{Verb: VerbAck, Incident: 7}},
		{"unacknowledge", Command{Verb: VerbUnack}},
		{"ack all", Command{Verb: VerbAck, All: true}},
		{"/oncall@pagerbot ACK All", Command{Verb: VerbAck, All: true}},
		{"acknowledge all", Command{Verb: VerbAck, All: true}},
		{"/ack all", Command{Verb: VerbAck, All: true}},
		{"resolve #3", Command{Verb: VerbResolve, Incident: 3}},
		{"esc", Command{Verb: VerbEscalate}},
		{"snooze 30m", Command{Verb: VerbSnooze, Duration: 30 * time.Minute}},
		{"snooze 1d12h #9", Command{Verb: VerbSnooze, Duration: 36 * time.Hour, Incident: 9}},
		{"note disk is full, cleaning /var/log", Command{Verb: VerbNote, Text: "disk is full, cleaning /var/log"}},
		{"note #4 on it", Command{Verb: VerbNote, Incident: 4, Text: "on it"}},
		{"note 4 lights are on", Command{Verb: VerbNote, Text: "4 lights are on"}},
		{"assign @bob", Command{Verb: VerbAssign, Person: "@bob"}},
		{"reassign #5 <@U0BOB|bob>", Command{Verb: VerbAssign, Incident: 5, Person: "<@U0BOB|bob>"}},
		{"who", Command{Verb: VerbWho}},
		{"who dba", Command{Verb: VerbWho, Team: "dba"}},
		{"schedule", Command{Verb: VerbSchedule, Duration: 7 * 24 * time.Hour}},
		{"schedule ops 14", Command{Verb: VerbSchedule, Team: "ops", Duration: 14 * 24 * time.Hour}},
		{"swap 2026-03-07T10:00 2026-03-07T18:00", Command{Verb: VerbSwap, Args: []string{"2026-03-07T10:00", "2026-03-07T18:00"}}},
		{"report", Command{Verb: VerbReport}},
		{"report ops", Command{Verb: VerbReport, Team: "ops"}},
		{"report last", Command{Verb: VerbReport, Args: []string{"last"}}},
		{"report ops 2026-W48", Command{Verb: VerbReport, Team: "ops", Args: []string{"2026-W48"}}},
		{"report 2026-11-23 2026-11-30", Command{Verb: VerbReport, Args: []string{"2026-11-23", "2026-11-30"}}},
		{"report dba this", Command{Verb: VerbReport, Team: "dba", Args: []string{"this"}}},
		{"tag noise", Command{Verb: VerbTag, Text: "noise"}},
		{"triage", Command{Verb: VerbTriage}},
		{"triage #8", Command{Verb: VerbTriage, Incident: 8}},
		{"tag Needs-Tuning #12", Command{Verb: VerbTag, Text: "needs-tuning", Incident: 12}},
		{"label #3 actionable", Command{Verb: VerbTag, Text: "actionable", Incident: 3}},
		{"cover", Command{Verb: VerbCover}},
		{"cover 4h", Command{Verb: VerbCover, Duration: 4 * time.Hour}},
		{"accept 12", Command{Verb: VerbAccept, Args: []string{"12"}}},
		{"take", Command{Verb: VerbTake}},
		{"rotation add @carol 2", Command{Verb: VerbRotation, Op: "add", Person: "carol", Args: []string{"2"}}},
		{"rotation remove bob", Command{Verb: VerbRotation, Op: "remove", Person: "bob"}},
		{"rotation order carol, bob,alice", Command{Verb: VerbRotation, Op: "order", Args: []string{"carol", "bob", "alice"}}},
		{"rotation handoff 10:00", Command{Verb: VerbRotation, Op: "handoff", Args: []string{"10:00"}}},
		{"override @dave 2026-03-07T10:00 2026-03-07T18:00 alice", Command{Verb: VerbOverride, Person: "dave", Args: []string{"2026-03-07T10:00", "2026-03-07T18:00", "alice"}}},
		{"link alice", Command{Verb: VerbLink, Args: []string{"alice"}}},
		{"/oncall", Command{Verb: VerbHelp}},
		{"", Command{Verb: VerbHelp}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseRefusesWithUsage(t *testing.T) {
	cases := []struct{ in, says string }{
		{"frobnicate", "unknown command"},
		{"ack banana", "not an incident number"},
		{"ack 1 2", "too many"},
		{"ack all #3", "too many"},
		{"ack all please", "too many"},
		{"resolve all", "not an incident number"},
		{"unack all", "not an incident number"},
		{"escalate all", "not an incident number"},
		{"snooze", "for how long"},
		{"snooze soon", "not a duration"},
		{"note", "needs some text"},
		{"schedule ops 400", "1 to 62 days"},
		{"swap tomorrow", "start and the end"},
		{"accept x", "not a swap number"},
		{"take now", "takes no arguments"},
		{"rotation dance bob", "not add, remove"},
		{"rotation add bob two", "not a number"},
		{"override bob", "person, the start and the end"},
		{"assign", "say who"},
		{"assign #1", "say who"},
		{"assign bob carol", "one person"},
		{"assign bob #1 #2", "one incident"},
		{"assign bob #x", "not an incident number"},
		{"tag", "tag it actionable, noise, needs-tuning"},
		{"tag boring", "tag it actionable"},
		{"tag noise actionable", "one tag at a time"},
		{"tag noise #x", "not an incident number"},
		{"report ops 2026-11-23 2026-11-30 2026-12-07", "too many"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", c.in, err, c.says)
		}
		if pe != nil && !strings.HasPrefix(c.in, "frob") && pe.Usage == "" {
			t.Errorf("Parse(%q): no usage in the refusal", c.in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/oncall ack #42", "ack all", "snooze 1d2h", "rotation order a,b", "note #1 x", "/x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err == nil && c.Verb == "" {
			t.Fatalf("Parse(%q) gave no verb and no error", s)
		}
		if err == nil && c.Incident < 0 {
			t.Fatalf("negative incident from %q", s)
		}
		if err == nil && c.All && (c.Verb != VerbAck || c.Incident != 0) {
			t.Fatalf("Parse(%q) = %+v: all is only ack's, and names no incident", s, c)
		}
	})
}

func TestHelpTellsOfAckAll(t *testing.T) {
	if !strings.Contains(Help(), "/oncall ack [#incident] | ack all") {
		t.Fatalf("help says nothing of ack all:\n%s", Help())
	}
}
