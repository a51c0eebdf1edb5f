package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/ingest"
)

// twoTeams has alice in ops and bob in db; alerts with service=db go to db.
const twoTeams = `
console_tokens:
  - {token: alice-token, person: alice}
  - {token: bob-token, person: bob}
routes:
  - {name: db, match: ['service="db"'], team: db, group_by: [alertname]}
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: America/New_York}
teams:
  - {name: ops, members: [alice]}
  - {name: db, members: [bob]}
`

func (f *fixture) openFor(title, service string) int64 {
	f.t.Helper()
	b, err := ingest.Decode("generic", []byte(`{"title":"`+title+`","labels":{"alertname":"`+title+`","service":"`+service+`"}}`),
		ingest.Options{DefaultSeverity: ingest.SeverityError, Now: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.incidents.Ingest(context.Background(), "generic", b.Alerts)
	if err != nil || len(res.Incidents) != 1 {
		f.t.Fatalf("ingest %q: %+v %v", title, res, err)
	}
	return res.Incidents[0]
}

// Issue 9, item 13: with console_visibility: teams, alice (ops) sees
// nothing of db's incident: not in the list, not its room, not its
// command box, not its live updates; with the default she sees it, and
// acting on it is refused either way.
func TestConsoleVisibility(t *testing.T) {
	for _, c := range []struct {
		name, setting string
		sees          bool
	}{{"default", "", true}, {"all", "console_visibility: all\n", true}, {"teams", "console_visibility: teams\n", false}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureConfig(t, c.setting+twoTeams)
			own := f.openFor("ApiLatencyHigh", "api")
			other := f.openFor("ReplicationLagHigh", "db")
			alice := f.signIn("alice-token")

			list := f.do(request{method: "GET", path: "/", cookie: alice})
			if !strings.Contains(list.Body.String(), "ApiLatencyHigh") {
				t.Fatalf("alice's list lacks her own team's incident:\n%s", list.Body)
			}
			if got := strings.Contains(list.Body.String(), "ReplicationLagHigh"); got != c.sees {
				t.Errorf("db's incident in alice's list: %v, want %v", got, c.sees)
			}

			room := f.do(request{method: "GET", path: "/incidents/" + strconv.FormatInt(other, 10), cookie: alice})
			if want := map[bool]int{true: 200, false: 404}[c.sees]; room.Code != want {
				t.Errorf("db's room for alice = %d, want %d", room.Code, want)
			}
			if !c.sees && strings.Contains(room.Body.String(), "ReplicationLagHigh") {
				t.Error("the 404 names the incident")
			}
			if code := f.do(request{method: "GET", path: "/incidents/" + strconv.FormatInt(own, 10), cookie: alice}).Code; code != 200 {
				t.Errorf("her own team's room = %d", code)
			}

			cmd := f.do(request{method: "POST", path: "/incidents/" + strconv.FormatInt(other, 10) + "/command", cookie: alice,
				form: url.Values{"line": {"resolve"}}})
			if want := map[bool]int{true: http.StatusSeeOther, false: http.StatusNotFound}[c.sees]; cmd.Code != want {
				t.Errorf("resolve in db's room = %d, want %d", cmd.Code, want)
			}
			if st := f.status(other); st != "triggered" {
				t.Errorf("alice resolved db's incident: %s", st)
			}

			// Live updates: db's change reaches her page only if she sees
			// it; her own team's always does. Published in that order,
			// so the first event she gets tells.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, "GET", "/events", nil)
			req.AddCookie(alice)
			w := newStreamWriter()
			done := make(chan struct{})
			go func() { defer close(done); f.handler.ServeHTTP(w, req) }()
			defer func() { cancel(); <-done }()
			if got := nextChunk(t, w.chunks); got != ": connected\n\n" {
				t.Fatalf("stream opens with %q", got)
			}
			for _, id := range []int64{other, own} {
				if err := f.platform.UpdateCard(context.Background(), roomOf(id), "m", chat.Card{}); err != nil {
					t.Fatal(err)
				}
			}
			first := nextChunk(t, w.chunks)
			wantFirst := roomOf(own).ID
			if c.sees {
				wantFirst = roomOf(other).ID
			}
			if !strings.Contains(first, `"room":"`+wantFirst+`"`) {
				t.Errorf("first live update = %q, want one for %s", first, wantFirst)
			}
		})
	}
}
