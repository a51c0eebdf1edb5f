package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/config"
)

// With console_visibility: teams, a reload moves who sees which team's
// incidents with the teams' members; the console's own settings (tokens,
// visibility) stay as it started.
func TestConsoleReloadMovesVisibilityWithTheTeams(t *testing.T) {
	const start = "console_visibility: teams\n" + twoTeams
	cases := []struct {
		name string
		// from and to replace text of start for the reloaded
		// configuration.
		from, to string
		// token signs in; incident is whose (ops' or db's) room is asked.
		token, incident string
		want            int
	}{
		{name: "a person added to a team sees its incidents",
			from: "{name: db, members: [bob]}", to: "{name: db, members: [bob, alice]}",
			token: "alice-token", incident: "db", want: http.StatusOK},
		{name: "a person removed from a team no longer sees them",
			from: "{name: ops, members: [alice]}", to: "{name: ops, members: [bob]}",
			token: "alice-token", incident: "ops", want: http.StatusNotFound},
		{name: "the visibility setting stays as started",
			from: "console_visibility: teams", to: "console_visibility: all",
			token: "alice-token", incident: "db", want: http.StatusNotFound},
		{name: "a session from before the reload goes on",
			from: "{name: db, members: [bob]}", to: "{name: db, members: [bob, alice]}",
			token: "bob-token", incident: "db", want: http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureConfig(t, start)
			ids := map[string]int64{"ops": f.openFor("ApiLatencyHigh", "api"), "db": f.openFor("ReplicationLagHigh", "db")}
			cookie := f.signIn(c.token)
			if !strings.Contains(start, c.from) {
				t.Fatalf("the configuration has no %q to replace", c.from)
			}
			cfg, err := config.Parse([]byte(strings.Replace(start, c.from, c.to, 1)))
			if err != nil {
				t.Fatalf("reloaded config: %v", err)
			}
			f.console.Reload(cfg)
			path := "/incidents/" + strconv.FormatInt(ids[c.incident], 10)
			if got := f.do(request{method: "GET", path: path, cookie: cookie}).Code; got != c.want {
				t.Errorf("%s's room for %s after the reload = %d, want %d", c.incident, c.token, got, c.want)
			}
		})
	}
}

// Console tokens are a server setting: one a reload brings does not sign
// anyone in, and one it drops still does.
func TestConsoleReloadKeepsTheTokens(t *testing.T) {
	f := newFixtureConfig(t, twoTeams)
	cfg, err := config.Parse([]byte(strings.Replace(twoTeams, "  - {token: bob-token, person: bob}", "  - {token: bob-new-token, person: bob}", 1)))
	if err != nil {
		t.Fatalf("reloaded config: %v", err)
	}
	f.console.Reload(cfg)
	if rec := f.do(request{method: "POST", path: "/login", form: url.Values{"token": {"bob-new-token"}}}); rec.Code != http.StatusUnauthorized {
		t.Errorf("sign-in with the reload's new token = %d, want 401", rec.Code)
	}
	f.signIn("bob-token")
}
