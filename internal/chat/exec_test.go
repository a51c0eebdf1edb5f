package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// fakeIncidents keeps incidents in a map; only Get and Acknowledge do
// anything. It is safe for the concurrent acks of ack all.
type fakeIncidents struct {
	mu     sync.Mutex
	byID   map[int64]incident.Incident
	failOn map[int64]error // Acknowledge fails with this
	acked  []string        // "id by actor"
}

func (f *fakeIncidents) Get(_ context.Context, id int64) (incident.Detail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc, ok := f.byID[id]
	if !ok {
		return incident.Detail{}, incident.ErrNotFound
	}
	return incident.Detail{Incident: inc}, nil
}

func (f *fakeIncidents) Acknowledge(_ context.Context, id int64, actor string) (incident.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failOn[id]; err != nil {
		return incident.Incident{}, err
	}
	inc := f.byID[id]
	if inc.Status != incident.StatusTriggered {
		return inc, &incident.ConflictError{Msg: fmt.Sprintf("incident %d is %s", id, inc.Status)}
	}
	inc.Status, inc.AcknowledgedBy = incident.StatusAcknowledged, actor
	f.byID[id] = inc
	f.acked = append(f.acked, fmt.Sprintf("%d by %s", id, actor))
	return inc, nil
}

func (f *fakeIncidents) Unacknowledge(context.Context, int64, string) (incident.Incident, error) {
	return incident.Incident{}, errors.New("not in this fake")
}
func (f *fakeIncidents) Resolve(context.Context, int64, string) (incident.Incident, error) {
	return incident.Incident{}, errors.New("not in this fake")
}
func (f *fakeIncidents) Reopen(context.Context, int64, string) (incident.Incident, error) {
	return incident.Incident{}, errors.New("not in this fake")
}
func (f *fakeIncidents) Snooze(context.Context, int64, string, time.Duration) (incident.Incident, error) {
	return incident.Incident{}, errors.New("not in this fake")
}
func (f *fakeIncidents) Tag(context.Context, int64, string, string) (incident.Incident, error) {
	return incident.Incident{}, nil
}

func (f *fakeIncidents) AddNote(context.Context, int64, string, string) (incident.Incident, error) {
	return incident.Incident{}, errors.New("not in this fake")
}

// fakePaged answers PagedTriggered from a table.
type fakePaged struct {
	ids map[string][]int64
	err error
}

func (f fakePaged) PagedTriggered(_ context.Context, person string) ([]int64, error) {
	return f.ids[person], f.err
}

func TestAckAll(t *testing.T) {
	teams := []config.Team{
		{Name: "ops", Members: []string{"alice", "bob"}, Leads: []string{"carol"}},
		{Name: "dba", Members: []string{"dave"}},
	}
	// Incidents 1-12 are ops', 20-21 dba's, 30 was acknowledged meanwhile.
	incidents := func() map[int64]incident.Incident {
		m := map[int64]incident.Incident{}
		for id := int64(1); id <= 12; id++ {
			m[id] = incident.Incident{ID: id, Team: "ops", Status: incident.StatusTriggered}
		}
		m[20] = incident.Incident{ID: 20, Team: "dba", Status: incident.StatusTriggered}
		m[21] = incident.Incident{ID: 21, Team: "dba", Status: incident.StatusTriggered}
		m[30] = incident.Incident{ID: 30, Team: "ops", Status: incident.StatusAcknowledged}
		return m
	}
	seq := func(from, to int64) []int64 {
		var out []int64
		for id := from; id <= to; id++ {
			out = append(out, id)
		}
		return out
	}
	cases := []struct {
		name   string
		user   string
		paged  fakePaged
		failOn map[int64]error
		// wantAcked lists what was acknowledged (by slack:<user>); says
		// are bits of the reply, in order.
		wantAcked []int64
		says      []string
	}{
		{name: "one", user: "alice", paged: fakePaged{ids: map[string][]int64{"alice": {3}}},
			wantAcked: []int64{3}, says: []string{"Acknowledged 1 incident: #3."}},
		{name: "many, the list cut at ten", user: "alice", paged: fakePaged{ids: map[string][]int64{"alice": seq(1, 12)}},
			wantAcked: seq(1, 12), says: []string{"Acknowledged 12 incidents: #1, #2, #3, #4, #5, #6, #7, #8, #9, #10 and 2 more."}},
		{name: "a lead may too", user: "carol", paged: fakePaged{ids: map[string][]int64{"carol": {1, 2}}},
			wantAcked: []int64{1, 2}, says: []string{"Acknowledged 2 incidents: #1, #2."}},
		{name: "another team's incidents are refused, as a single ack is", user: "alice",
			paged:     fakePaged{ids: map[string][]int64{"alice": {1, 20, 2, 21}}},
			wantAcked: []int64{1, 2},
			says:      []string{"Acknowledged 2 incidents: #1, #2.", "\nNot acknowledged, only members of team dba may: #20, #21."}},
		{name: "refusals of the domain are summarized by reason", user: "alice",
			paged:     fakePaged{ids: map[string][]int64{"alice": {1, 30, 99}}},
			wantAcked: []int64{1},
			says:      []string{"Acknowledged 1 incident: #1.", "Not acknowledged, incident 30 is acknowledged: #30.", "Not acknowledged, there is no such incident: #99."}},
		{name: "nothing acknowledged", user: "dave", paged: fakePaged{ids: map[string][]int64{"dave": {1}}},
			says: []string{"Acknowledged none of the incidents paging you.", "only members of team ops may: #1."}},
		{name: "an unexpected error stays generic", user: "alice", paged: fakePaged{ids: map[string][]int64{"alice": {1, 2}}},
			failOn: map[int64]error{2: errors.New("disk on fire")}, wantAcked: []int64{1},
			says: []string{"Acknowledged 1 incident: #1.", "Not acknowledged, that did not work; try again: #2."}},
		{name: "nothing paging", user: "bob", paged: fakePaged{},
			says: []string{"No triggered incident is paging you"}},
		{name: "the list fails", user: "bob", paged: fakePaged{err: errors.New("db gone")},
			says: []string{"Could not find the incidents paging you: that did not work; try again."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inc := &fakeIncidents{byID: incidents(), failOn: c.failOn}
			e := &Executor{Incidents: inc, Paged: c.paged, Teams: teams}
			for _, line := range []string{"ack all", "/oncall ACK ALL", "acknowledge all"} {
				inc.byID, inc.acked = incidents(), nil
				reply := e.Run(context.Background(), Request{User: c.user, Platform: "slack", PlatformUser: "U1", Incident: 5}, line)
				if !reply.Private || reply.Incident != 0 {
					t.Errorf("%q: reply %+v, want private and about no one incident", line, reply)
				}
				at := 0
				for _, s := range c.says {
					i := strings.Index(reply.Text[at:], s)
					if i < 0 {
						t.Fatalf("%q: reply %q does not say %q (in order)", line, reply.Text, s)
					}
					at += i + len(s)
				}
				var want []string
				for _, id := range c.wantAcked {
					want = append(want, fmt.Sprintf("%d by slack:%s", id, c.user))
				}
				slices.Sort(inc.acked)
				slices.Sort(want)
				if !slices.Equal(inc.acked, want) {
					t.Errorf("%q: acknowledged %v, want %v", line, inc.acked, want)
				}
			}
		})
	}
}

func TestAckAllNeedsItsListAndAUser(t *testing.T) {
	e := &Executor{Incidents: &fakeIncidents{}}
	if r := e.Run(context.Background(), Request{User: "alice", Platform: "web"}, "ack all"); !strings.Contains(r.Text, "not available") {
		t.Errorf("ack all without a list = %q", r.Text)
	}
	e.Paged = fakePaged{ids: map[string][]int64{"": {1}}}
	if r := e.Run(context.Background(), Request{Platform: "telegram", PlatformUser: "9", Team: "ops"}, "ack all"); !strings.Contains(r.Text, "I don't know who you are") {
		t.Errorf("ack all by a stranger = %q", r.Text)
	}
}
