package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// reloadBefore and reloadAfter are a configuration and its next version:
// dave joins ops, bob leaves it, team web is new (with a schedule), team
// dba is gone, and alice has a new Slack account.
const reloadBefore = `
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, slack: UA}
  - {name: bob, slack: UB}
  - {name: dave, slack: UD}
teams:
  - {name: ops, members: [alice, bob], leads: [alice], schedule: ops, rooms: {slack: C0OPS}}
  - {name: dba, members: [bob], schedule: ops, rooms: {slack: C0DBA}}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
`

const reloadAfter = `
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, slack: UA2}
  - {name: bob, slack: UB}
  - {name: dave, slack: UD}
teams:
  - {name: ops, members: [alice, dave], leads: [alice], schedule: ops, rooms: {slack: C0OPS2}}
  - {name: web, members: [bob], schedule: ops, rooms: {slack: C0WEB}}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
`

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"),
		store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// After Reload, a command is judged by the new teams: who may act on an
// incident, which team a room implies. The on-call service is reloaded
// beside it, as the app does.
func TestExecutorReload(t *testing.T) {
	ctx := context.Background()
	before, after := parseConfig(t, reloadBefore), parseConfig(t, reloadAfter)
	clk := clock.NewFake(linkStart)
	oc, err := oncall.NewService(ctx, openStore(t), clk, before)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		user, team string
		line       string
		// before and after are part of the reply before and after the
		// reload.
		before, after string
	}{
		{name: "a person added to a team may act", user: "dave", line: "ack #1",
			before: "Only members of team ops may ack", after: "Incident #1 acknowledged by dave."},
		{name: "a person removed from a team may not", user: "bob", line: "ack #1",
			before: "Incident #1 acknowledged by bob.", after: "Only members of team ops may ack"},
		{name: "a new team's room implies it", user: "bob", team: "web", line: "who",
			before: `There is no team "web".`, after: "On call for web: alice"},
		{name: "a removed team's room no longer implies it", user: "bob", team: "dba", line: "who",
			before: "On call for dba: alice", after: `There is no team "dba".`},
		{name: "the asker's only team is the new one", user: "bob", line: "who",
			before: "Which team? You are in ops, dba.", after: "On call for web: alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inc := &fakeIncidents{}
			e := &Executor{Incidents: inc, OnCall: oc, Teams: before.Teams, Clock: clk}
			for _, step := range []struct {
				cfg  *config.Config
				want string
			}{{before, c.before}, {after, c.after}} {
				if step.cfg == after {
					e.Reload(after)
				}
				if err := oc.Reload(ctx, step.cfg); err != nil {
					t.Fatal(err)
				}
				inc.byID = map[int64]incident.Incident{1: {ID: 1, Team: "ops", Status: incident.StatusTriggered}}
				reply := e.Run(ctx, Request{User: c.user, Platform: "slack", PlatformUser: "U", Team: c.team, Direct: true}, c.line)
				if !strings.Contains(reply.Text, step.want) {
					t.Errorf("%s: %q says %q, want %q", c.user, c.line, reply.Text, step.want)
				}
			}
		})
	}
}

// Commands read the teams while reloads swap them; run with -race, a
// command sees one version or the other, never a torn one.
func TestExecutorReloadWhileCommandsRun(t *testing.T) {
	before, after := parseConfig(t, reloadBefore), parseConfig(t, reloadAfter)
	inc := &fakeIncidents{byID: map[int64]incident.Incident{1: {ID: 1, Team: "ops", Status: incident.StatusAcknowledged}}}
	e := &Executor{Incidents: inc, Teams: before.Teams}
	stop := make(chan struct{})
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				e.Reload([]*config.Config{before, after}[i%2])
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				// The incident is acknowledged already: a member is told
				// so, anyone else is refused; nothing changes it.
				r := e.Run(context.Background(), Request{User: "dave", Platform: "web"}, "ack #1")
				if !strings.Contains(r.Text, "is acknowledged") && !strings.Contains(r.Text, "Only members of team ops") {
					t.Errorf("ack during reloads = %q", r.Text)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-reloaded
}

// openedRoom is a room a platform was asked to open.
type openedRoom struct {
	team    string
	members []Member
}

// openPlatform records the rooms it opens; everything else succeeds.
type openPlatform struct {
	mu     sync.Mutex
	opened []openedRoom
}

func (p *openPlatform) Name() string { return "slack" }
func (p *openPlatform) OpenRoom(_ context.Context, inc incident.Incident, team config.Team, members []Member) (Room, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opened = append(p.opened, openedRoom{team: team.Name, members: members})
	return Room{ID: fmt.Sprintf("C%d", inc.ID)}, nil
}
func (p *openPlatform) PostCard(context.Context, Room, Card) (string, error) { return "m1", nil }
func (p *openPlatform) UpdateCard(context.Context, Room, string, Card) error { return nil }
func (p *openPlatform) Post(context.Context, Room, string) error             { return nil }
func (p *openPlatform) CloseRoom(context.Context, Room) error                { return nil }
func (p *openPlatform) ReopenRoom(context.Context, Room) error               { return nil }
func (p *openPlatform) Direct(context.Context, Member, string, Card) error   { return nil }

func (p *openPlatform) last() openedRoom {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opened[len(p.opened)-1]
}

// incidents opens incidents for a team in st: each alert goes to the
// team its label team names.
type incidents struct {
	t   *testing.T
	svc *incident.Service
	clk *clock.Fake
	n   int
}

func newIncidents(t *testing.T, st *store.Store, clk *clock.Fake, teams ...string) *incidents {
	t.Helper()
	var routes []config.Route
	for _, team := range teams {
		routes = append(routes, config.Route{Name: team, Match: []string{`team="` + team + `"`}, Team: team, GroupBy: []string{"alertname"}})
	}
	router, err := incident.NewRouter(routes, config.Route{Team: teams[0], GroupBy: []string{"alertname"}})
	if err != nil {
		t.Fatal(err)
	}
	return &incidents{t: t, clk: clk,
		svc: incident.NewService(st, clk, router, outbox.NewPublisher(nil, clk, func() {}), incident.Options{})}
}

// triggered opens a new incident of team and returns the outbox message
// of its triggering.
func (in *incidents) triggered(team string) outbox.Message {
	in.t.Helper()
	in.n++
	body := fmt.Sprintf(`{"title":"Disk full","labels":{"alertname":"Disk%d","team":%q}}`, in.n, team)
	b, err := ingest.Decode("generic", []byte(body), ingest.Options{DefaultSeverity: ingest.SeverityError, Now: in.clk.Now()})
	if err != nil {
		in.t.Fatal(err)
	}
	res, err := in.svc.Ingest(context.Background(), "generic", b.Alerts)
	if err != nil || len(res.Incidents) != 1 {
		in.t.Fatalf("open an incident of %s: %+v %v", team, res, err)
	}
	d, err := in.svc.Get(context.Background(), res.Incidents[0])
	if err != nil {
		in.t.Fatal(err)
	}
	payload, err := json.Marshal(incident.EventPayload{Event: incident.KindTriggered, Incident: d.Incident})
	if err != nil {
		in.t.Fatal(err)
	}
	return outbox.Message{ID: d.ID, Payload: payload}
}

// After Reload, a new incident's room opens for its team of the new
// configuration, with its members and leads by their accounts in it.
func TestDelivererReload(t *testing.T) {
	before, after := parseConfig(t, reloadBefore), parseConfig(t, reloadAfter)
	st := openStore(t)
	clk := clock.NewFake(linkStart)
	opened := newIncidents(t, st, clk, "ops", "web", "dba")
	cases := []struct {
		name          string
		team          string
		before, after openedRoom
	}{
		{name: "a new team's room opens with its members", team: "web",
			before: openedRoom{}, after: openedRoom{"web", []Member{{"bob", "UB"}}}},
		{name: "a person added is invited, by their new account", team: "ops",
			before: openedRoom{"ops", []Member{{"alice", "UA"}, {"bob", "UB"}}},
			after:  openedRoom{"ops", []Member{{"alice", "UA2"}, {"dave", "UD"}}}},
		{name: "a removed team's room opens with nobody", team: "dba",
			before: openedRoom{"dba", []Member{{"bob", "UB"}}}, after: openedRoom{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &openPlatform{}
			d := NewDeliverer(p, st, before, clk.Now)
			for _, step := range []struct {
				cfg  *config.Config
				want openedRoom
			}{{before, c.before}, {after, c.after}} {
				d.Reload(step.cfg)
				m := opened.triggered(c.team)
				if err := d.Deliver(context.Background(), m); err != nil {
					t.Fatalf("deliver incident %d: %v", m.ID, err)
				}
				if got := p.last(); got.team != step.want.team || !slices.Equal(got.members, step.want.members) {
					t.Errorf("incident %d of %s opened %+v, want %+v", m.ID, c.team, got, step.want)
				}
			}
		})
	}
}

// After Reload, a team's page goes to its rooms of the new configuration,
// and a team that is gone has none.
func TestRoomPagerReload(t *testing.T) {
	before, after := parseConfig(t, reloadBefore), parseConfig(t, reloadAfter)
	cases := []struct {
		name          string
		team          string
		before, after string // the room posted to, "" for a permanent failure
	}{
		{"a new team's room is paged", "web", "", "C0WEB"},
		{"a moved room is paged where it is now", "ops", "C0OPS", "C0OPS2"},
		{"a removed team's room is not", "dba", "C0DBA", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			r := NewRoomPager([]Platform{roomPlatform{"slack", &got}}, before.Teams)
			payload, err := json.Marshal(oncall.RoomPage{Team: c.team, Text: "page"})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				cfg  *config.Config
				want string
			}{{before, c.before}, {after, c.after}} {
				r.Reload(step.cfg)
				got = nil
				err := r.Deliver(context.Background(), outbox.Message{ID: 1, Payload: payload})
				switch {
				case step.want == "" && !outbox.IsPermanent(err):
					t.Errorf("page of %s = %v (posted %q), want a permanent failure", c.team, err, got)
				case step.want != "" && (err != nil || !slices.Equal(got, []string{"slack post " + step.want + ": page"})):
					t.Errorf("page of %s posted %q (%v), want it in %s", c.team, got, err, step.want)
				}
			}
		})
	}
}
