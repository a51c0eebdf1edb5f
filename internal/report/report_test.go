package report

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func ev(when, kind, actor, detail string) incident.Event {
	return incident.Event{At: at(when), Kind: kind, Actor: actor, Detail: detail}
}

// week is a week of a team with alice in London, bob in New York and carol
// in Sydney, each incident at a set time (see the comments for the local
// times), every figure below worked out by hand.
func week() Input {
	inc := func(id int64, created, title string, alerts int, resolvedBy string, events ...incident.Event) incident.History {
		return incident.History{Incident: incident.Incident{ID: id, CreatedAt: at(created), Title: title, AlertCount: alerts,
			Status: incident.StatusResolved, ResolvedBy: resolvedBy}, Events: events}
	}
	sent := func(id int64, person, method, state, when string) oncall.Sent {
		return oncall.Sent{Incident: id, Person: person, Method: method, State: state, At: at(when)}
	}
	return Input{
		Team:  "ops",
		Range: Range{From: at("2026-11-23T00:00:00Z"), To: at("2026-11-30T00:00:00Z")},
		Incidents: []incident.History{
			// Monday 03:00 in London.
			inc(1, "2026-11-23T03:00:00Z", "disk full on db-03", 4, "slack:alice",
				ev("2026-11-23T03:05:00Z", incident.KindAcknowledged, "slack:alice", ""),
				ev("2026-11-23T03:30:00Z", incident.KindResolved, "slack:alice", ""),
				ev("2026-11-23T09:00:00Z", incident.KindTagged, "slack:alice", "noise"),
				ev("2026-11-23T09:01:00Z", incident.KindTagged, "slack:bob", "actionable")), // the latest counts
			// Tuesday 14:00 in London, gone by itself.
			inc(2, "2026-11-24T14:00:00Z", "disk full on db-11", 1, "alertmanager",
				ev("2026-11-24T14:10:00Z", incident.KindResolved, "alertmanager", "all alerts resolved")),
			// Wednesday 23:30 in New York; flaps three times.
			inc(3, "2026-11-26T04:30:00Z", "Kinesis behind 3f9a2c1d", 7, "alertmanager",
				ev("2026-11-26T04:30:00Z", "escalation.step", "bot", "step 1/2: bob (on call)"),
				ev("2026-11-26T04:40:00Z", "escalation.step", "bot", "step 2/2: carol"),
				ev("2026-11-26T04:50:00Z", incident.KindAcknowledged, "web:bob", ""),
				ev("2026-11-26T05:00:00Z", incident.KindResolved, "alertmanager", ""),
				ev("2026-11-26T05:10:00Z", incident.KindReopened, "alertmanager", ""),
				ev("2026-11-26T05:20:00Z", incident.KindResolved, "alertmanager", ""),
				ev("2026-11-26T05:30:00Z", incident.KindReopened, "alertmanager", ""),
				ev("2026-11-26T05:40:00Z", incident.KindResolved, "alertmanager", ""),
				ev("2026-11-26T05:50:00Z", incident.KindReopened, "alertmanager", ""),
				ev("2026-11-26T06:00:00Z", incident.KindResolved, "alertmanager", "")),
			// Saturday 10:00 in London: assigned, escalated by hand, snoozed.
			inc(4, "2026-11-28T10:00:00Z", "ES not green", 2, "web:alice",
				ev("2026-11-28T10:01:00Z", incident.KindAssigned, "web:alice", "to bob"),
				ev("2026-11-28T10:01:30Z", "escalation.manual", "web:alice", "to step 2"),
				ev("2026-11-28T10:01:30Z", "escalation.step", "bot", "step 2/2: carol"),
				ev("2026-11-28T10:02:00Z", incident.KindSnoozed, "web:alice", "until 2026-11-28T11:02:00Z"),
				ev("2026-11-28T10:30:00Z", incident.KindResolved, "web:alice", "")),
		},
		Sent: []oncall.Sent{
			sent(9, "alice", "chat", "sent", "2026-11-22T23:00:00Z"), // the week before: not counted
			sent(1, "alice", "chat", "sent", "2026-11-23T03:00:00Z"),
			sent(1, "alice", "sms", "delivered", "2026-11-23T03:03:00Z"), // 3 minutes later: a second interruption, and a fallback
			sent(2, "alice", "chat", "sent", "2026-11-24T14:00:05Z"),
			sent(3, "bob", "chat", "sent", "2026-11-26T04:30:00Z"),
			sent(3, "bob", "chat", "sent", "2026-11-26T04:30:30Z"), // within 60 s: the same interruption
			sent(3, "carol", "voice", "failed", "2026-11-26T04:40:00Z"),
			sent(3, "carol", "sms", "delivered", "2026-11-26T04:40:10Z"), // Thursday 15:40 in Sydney
			sent(4, "alice", "webhook", "undeliverable", "2026-11-28T10:00:00Z"),
		},
		Zones:    map[string]*time.Location{"alice": zone("Europe/London"), "bob": zone("America/New_York"), "carol": zone("Australia/Sydney")},
		OnCall:   []oncall.Segment{{Start: at("2026-11-23T00:00:00Z"), End: at("2026-11-30T00:00:00Z"), Users: []string{"alice"}}},
		Covered:  map[string]time.Duration{"carol": 12 * time.Hour},
		Previous: map[string]int{"disk full on db-#": 3},
	}
}

func TestComputeAWeek(t *testing.T) {
	r := Compute(week())
	want := Response{
		Incidents:        4,
		TimeToAck:        Durations{Count: 3, Mean: 540, Median: 300, P95: 1200},   // 2, 5, 20 minutes (a snooze acknowledges)
		TimeToResolve:    Durations{Count: 4, Mean: 2400, Median: 1800, P95: 5400}, // 10, 30, 30, 90 minutes
		AckedShare:       0.75,
		AutoResolved:     1,
		EscalatedTimeout: 1,
		EscalatedManual:  1,
		Reassigned:       1,
		SnoozedSeconds:   1680, // 10:02 to the resolve at 10:30
		Reopened:         3,
	}
	if r.Response != want {
		t.Errorf("response =\n%+v\nwant\n%+v", r.Response, want)
	}

	people := map[string]PersonCost{}
	for _, p := range r.People {
		people[p.Person] = p
	}
	cases := []struct {
		person                  string
		business, off, sleep    int
		nights, hours           int
		weekendHours, coveredHr float64
	}{
		{"alice", 1, 0, 2, 1, 2, 48, 0}, // Monday 03:00 and 03:03 (one night, one hour), Tuesday 14:00
		{"bob", 0, 0, 1, 1, 1, 0, 0},    // Wednesday 23:30 in New York, two pages 30 s apart
		{"carol", 1, 0, 0, 0, 1, 0, 12}, // Thursday 15:40 in Sydney; the voice call failed
	}
	for _, c := range cases {
		p, ok := people[c.person]
		if !ok {
			t.Errorf("%s is not in the report", c.person)
			continue
		}
		got := [3]int{p.Interruptions[Business], p.Interruptions[Off], p.Interruptions[Sleep]}
		if got != [3]int{c.business, c.off, c.sleep} || p.Nights != c.nights || p.Hours != c.hours ||
			p.WeekendOnCallHours != c.weekendHours || p.CoveredHours != c.coveredHr {
			t.Errorf("%s = %+v, want business/off/sleep %d/%d/%d, %d nights, %d hours, %v weekend hours, %v covered",
				c.person, p, c.business, c.off, c.sleep, c.nights, c.hours, c.weekendHours, c.coveredHr)
		}
	}

	n := r.Noise
	if len(n.Tags) != 1 || n.Tags["actionable"] != 1 || fmt.Sprint(n.Untagged) != "[2 3 4]" {
		t.Errorf("tags = %v, untagged = %v", n.Tags, n.Untagged)
	}
	if n.Alerts != 14 || n.Incidents != 4 || n.DedupRatio != 3.5 || n.Flapping != 1 || n.NoHumanShare != 0.25 {
		t.Errorf("noise = %+v", n)
	}
	wantCats := []Category{
		{Name: "disk full on db-#", Incidents: 2, SleepPages: 2, Previous: 3},
		{Name: "Kinesis behind #", Incidents: 1, SleepPages: 2, New: true},
		{Name: "ES not green", Incidents: 1, New: true},
	}
	if len(n.Categories) != len(wantCats) {
		t.Fatalf("categories = %+v", n.Categories)
	}
	wantCats[0].IncidentIDs, wantCats[1].IncidentIDs, wantCats[2].IncidentIDs = []int64{1, 2}, []int64{3}, []int64{4}
	for i, c := range wantCats {
		if !reflect.DeepEqual(n.Categories[i], c) {
			t.Errorf("category %d = %+v, want %+v", i, n.Categories[i], c)
		}
	}

	wantMethods := []MethodHealth{
		{Method: "chat", Sent: 4, PageToAck: Durations{Count: 2, Mean: 750, Median: 300, P95: 1200}},
		{Method: "sms", Sent: 2, Fallbacks: 1, PageToAck: Durations{Count: 2, Mean: 355, Median: 120, P95: 590}},
		{Method: "voice", Failed: 1},
		{Method: "webhook", Undeliverable: 1},
	}
	if len(r.Paging.Methods) != len(wantMethods) {
		t.Fatalf("methods = %+v", r.Paging.Methods)
	}
	for i, m := range wantMethods {
		if r.Paging.Methods[i] != m {
			t.Errorf("method %d = %+v, want %+v", i, r.Paging.Methods[i], m)
		}
	}
}

func TestBucketsInTheRespondersZone(t *testing.T) {
	cases := []struct {
		when, zone string
		want       Bucket
	}{
		{"2026-11-23T08:00:00Z", "Europe/London", Business}, // Monday 08:00
		{"2026-11-23T07:59:59Z", "Europe/London", Sleep},
		{"2026-11-23T17:59:00Z", "Europe/London", Business},
		{"2026-11-23T18:00:00Z", "Europe/London", Off},
		{"2026-11-23T22:00:00Z", "Europe/London", Sleep},
		{"2026-11-28T12:00:00Z", "Europe/London", Off},       // Saturday noon
		{"2026-11-23T12:00:00Z", "America/New_York", Sleep},  // 07:00 there
		{"2026-11-23T12:00:00Z", "Australia/Sydney", Sleep},  // 23:00 there
		{"2026-10-25T08:30:00Z", "Europe/London", Off},       // Sunday 08:30 GMT, after clocks went back
		{"2026-10-26T07:30:00Z", "Europe/London", Sleep},     // Monday 07:30 GMT
		{"2026-10-23T07:30:00Z", "Europe/London", Business},  // Friday 08:30 BST, before the change
		{"2026-03-30T07:30:00Z", "Europe/London", Business},  // Monday 08:30 BST, after clocks went forward
		{"2026-11-29T22:00:00Z", "Asia/Kolkata", Sleep},      // 03:30 there
		{"2026-11-30T04:00:00Z", "Asia/Kathmandu", Business}, // Monday 09:45 there
	}
	for _, c := range cases {
		if got := BucketOf(at(c.when), zone(c.zone)); got != c.want {
			t.Errorf("%s in %s = %s, want %s", c.when, c.zone, got, c.want)
		}
	}
}

// A weekend across the end of summer time has a 25-hour Sunday.
func TestWeekendHoursAcrossADSTChange(t *testing.T) {
	london := zone("Europe/London")
	r := Range{From: at("2026-10-19T00:00:00Z"), To: at("2026-10-27T00:00:00Z")}
	// Friday 23 October 12:00 BST to Tuesday 27 October 00:00 GMT.
	got := weekendTime(at("2026-10-23T11:00:00Z"), at("2026-10-27T00:00:00Z"), r, london)
	if got != 49*time.Hour {
		t.Fatalf("weekend on call = %v, want 49h (24 + 25)", got)
	}
	// And the spring one, a 23-hour Sunday.
	r = Range{From: at("2026-03-23T00:00:00Z"), To: at("2026-04-01T00:00:00Z")}
	if got := weekendTime(r.From, r.To, r, london); got != 47*time.Hour {
		t.Fatalf("spring weekend = %v, want 47h", got)
	}
}

func TestCategories(t *testing.T) {
	rules := []CategoryRule{{Pattern: regexp.MustCompile(`(?i)^mysqldump`), Category: "MysqlDump"}}
	cases := []struct{ summary, want string }{
		{"disk full on db-03", "disk full on db-#"},
		{"disk full on db-11", "disk full on db-#"},
		{"MySQLDump failed on backup-7 at 03:00", "MysqlDump"},
		{"job 9f1c2e3a-1b2c-4d5e-8f90-123456789abc failed", "job # failed"},
		{"Kinesis behind 3f9a2c1d", "Kinesis behind #"},
		{"pod api-7d9f8b6c5d-x2k9q crashlooping", "pod api-#-x#k#q crashlooping"},
		{"deadbeef cafe facade", "deadbeef cafe facade"},
		{"  spaced   out  ", "spaced out"},
		{"0x1f2e3d4c overflow", "# overflow"},
	}
	for _, c := range cases {
		if got := CategoryOf(c.summary, rules); got != c.want {
			t.Errorf("CategoryOf(%q) = %q, want %q", c.summary, got, c.want)
		}
	}
}

const rangeConfig = `
people: [{name: alice, time_zone: Europe/London}, {name: bob, time_zone: Europe/London}]
teams:
  - {name: ops, members: [alice, bob], schedule: ops}
  - {name: free, members: [alice]}
schedules:
  - name: ops
    time_zone: Europe/London
    layers: [{name: w, rotation: weekly, start: "2026-01-05 09:00", participants: [alice, bob]}]
default_route: {team: ops}
`

func source(t *testing.T) Source {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Parse([]byte(rangeConfig))
	if err != nil {
		t.Fatal(err)
	}
	oc, err := oncall.NewService(ctx, st, clock.NewFake(at("2026-12-01T12:00:00Z")), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Source{DB: st.Read(), OnCall: oc, Config: cfg}
}

func TestRanges(t *testing.T) {
	s := source(t)
	now := at("2026-12-01T12:00:00Z") // a Tuesday; ops hands off on Mondays 09:00 London
	cases := []struct {
		name, team string
		args       []string
		from, to   string
		err        string
	}{
		{"the last on-call week", "ops", nil, "2026-11-23T09:00:00Z", "2026-11-30T09:00:00Z", ""},
		{"last, said", "ops", []string{"last"}, "2026-11-23T09:00:00Z", "2026-11-30T09:00:00Z", ""},
		{"this week so far", "ops", []string{"this"}, "2026-11-30T09:00:00Z", "2026-12-01T12:00:00Z", ""},
		{"an ISO week in the team's zone", "ops", []string{"2026-W48"}, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", ""},
		{"the week summer time ends", "ops", []string{"2026-W43"}, "2026-10-18T23:00:00Z", "2026-10-26T00:00:00Z", ""},
		{"week 53 of a long year", "ops", []string{"2026-W53"}, "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z", ""},
		{"dates", "ops", []string{"2026-11-01", "2026-11-15"}, "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z", ""},
		{"a team without a schedule: the last ISO week", "free", nil, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", ""},
		{"unknown team", "nope", nil, "", "", `there is no team "nope" (teams: ops, free)`},
		{"reversed dates", "ops", []string{"2026-11-15", "2026-11-01"}, "", "", "2026-11-01 is not after 2026-11-15"},
		{"a week that does not exist", "ops", []string{"2025-W53"}, "", "", "2025-W53 does not exist: 2025 has weeks 01 to 52"},
		{"week 00", "ops", []string{"2026-W00"}, "", "", "does not exist"},
		{"nonsense", "ops", []string{"fortnight"}, "", "", "give last, this, a week like 2026-W48"},
		{"bad dates", "ops", []string{"2026-13-01", "2026-14-01"}, "", "", "dates are written 2026-11-23"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.ParseRange(c.team, c.args, now)
			if c.err != "" {
				if !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want a bad range saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.From.Equal(at(c.from)) || !r.To.Equal(at(c.to)) {
				t.Errorf("range = %s to %s, want %s to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339), c.from, c.to)
			}
		})
	}
}

// The trend steps back by local weeks: the week before a DST change starts
// at the same local time.
func TestTrendStepsBackByLocalWeeks(t *testing.T) {
	r := Range{From: at("2026-10-26T09:00:00Z"), To: at("2026-11-02T09:00:00Z")} // Monday 09:00 GMT to Monday 09:00 GMT
	back := stepBack(r, zone("Europe/London"))
	if got := back(r.From); !got.Equal(at("2026-10-19T08:00:00Z")) { // Monday 09:00 BST
		t.Errorf("the week before starts %s, want 2026-10-19T08:00:00Z", got.UTC().Format(time.RFC3339))
	}
	odd := Range{From: at("2026-11-01T00:00:00Z"), To: at("2026-11-01T06:00:00Z")}
	if got := stepBack(odd, time.UTC)(odd.From); !got.Equal(at("2026-10-31T18:00:00Z")) {
		t.Errorf("a 6-hour range steps back 6 hours: %s", got)
	}
}

// The week ahead names the coming handoffs and London's change to winter
// time on Sunday 25 October.
func TestTheWeekAhead(t *testing.T) {
	s := source(t)
	s.Now = func() time.Time { return at("2026-10-19T00:00:00Z") }
	r := Range{From: at("2026-10-12T00:00:00Z"), To: at("2026-10-19T00:00:00Z")}
	h, err := s.Weekly(context.Background(), "ops", r)
	if err != nil {
		t.Fatal(err)
	}
	nw := h.NextWeek
	if len(nw.Handoffs) != 1 || !nw.Handoffs[0].Start.Equal(at("2026-10-19T08:00:00Z")) || len(nw.Handoffs[0].Users) != 1 {
		t.Errorf("handoffs = %+v, want Monday 09:00 BST", nw.Handoffs)
	}
	if len(nw.DSTChange) != 1 || !nw.DSTChange[0].Equal(at("2026-10-25T01:00:00Z")) {
		t.Errorf("clock changes = %v, want 2026-10-25T01:00:00Z", nw.DSTChange)
	}
	var md strings.Builder
	if err := h.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## The week ahead", "- Mon 19 Oct 09:00: ", "- Clocks change Sun 25 Oct 01:00 GMT (Europe/London)", "## Carrying over\n\nNothing is open.", "## Action items\n\n- \n"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the handoff document lacks %q:\n%s", want, md.String())
		}
	}
}
