package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/config"
)

// routeScopes is the scope each API route needs. A route missing here
// fails the walk below, so no route is added without deciding.
var routeScopes = map[string]string{
	"GET /api/v1/incidents":                                 "read",
	"GET /api/v1/incidents/{id}":                            "read",
	"GET /api/v1/incidents/{id}/alerts":                     "read",
	"GET /api/v1/incidents/{id}/timeline":                   "read",
	"POST /api/v1/incidents/{id}/{action}":                  "respond",
	"GET /api/v1/schedules":                                 "read",
	"GET /api/v1/schedules/{schedule}":                      "read",
	"GET /api/v1/schedules/{schedule}/overrides":            "read",
	"POST /api/v1/schedules/{schedule}/overrides":           "schedule:ops",
	"DELETE /api/v1/schedules/{schedule}/overrides/{id}":    "schedule:ops",
	"GET /api/v1/schedules/{schedule}/swaps":                "read",
	"POST /api/v1/schedules/{schedule}/swaps":               "schedule:ops",
	"POST /api/v1/schedules/{schedule}/swaps/{id}/{action}": "schedule:ops",
	"POST /api/v1/schedules/{schedule}/take":                "schedule:ops",
	"PATCH /api/v1/schedules/{schedule}/layers/{layer}":     "schedule:ops",
	"GET /api/v1/teams/{team}/oncall":                       "read",
	"GET /api/v1/users/{user}/shifts":                       "read",
	"POST /api/v1/config/plan":                              "admin",
	"POST /api/v1/config/apply":                             "admin",
	"GET /api/v1/config/export":                             "admin",
}

func init() {
	// Configuration objects: anyone may read them (API tokens: admins),
	// only admins change them.
	for _, p := range []string{"/people", "/teams", "/escalation-policies", "/routes", "/integrations", "/webhooks", "/api-tokens"} {
		read := "read"
		if p == "/api-tokens" {
			read = "admin"
		}
		routeScopes["GET /api/v1"+p] = read
		routeScopes["GET /api/v1"+p+"/{name}"] = read
		routeScopes["PUT /api/v1"+p+"/{name}"] = "admin"
		routeScopes["DELETE /api/v1"+p+"/{name}"] = "admin"
	}
	routeScopes["GET /api/v1/schedules/{schedule}/definition"] = "read"
	routeScopes["PUT /api/v1/schedules/{schedule}"] = "admin"
	routeScopes["DELETE /api/v1/schedules/{schedule}"] = "admin"
	routeScopes["GET /api/v1/default-route"] = "read"
	routeScopes["PUT /api/v1/default-route"] = "admin"
	routeScopes["GET /api/v1/openapi.json"] = "read"
	routeScopes["GET /api/v1/reports/handoff"] = "read"
}

// Tokens of the scope tests, one per scope.
var scopedTokens = []config.APIToken{
	{Name: "reader", Token: "reader-token-0123456789", Scopes: []string{"read"}},
	{Name: "responder", Token: "responder-token-0123456789", Scopes: []string{"respond"}},
	{Name: "ops-rota", Token: "ops-rota-token-0123456789", Scopes: []string{"schedule:ops"}},
	{Name: "dba-rota", Token: "dba-rota-token-0123456789", Scopes: []string{"schedule:dba"}},
	{Name: "rota", Token: "rota-token-0123456789", Scopes: []string{"schedule"}},
	{Name: "admin", Token: "admin-token-0123456789", Scopes: []string{"admin"}},
}

// holds says which tokens have what a route needs.
var holds = map[string][]string{
	"read":         {"reader", "responder", "ops-rota", "dba-rota", "rota", "admin"},
	"respond":      {"responder", "admin"},
	"schedule:ops": {"ops-rota", "rota", "admin"},
	"admin":        {"admin"},
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

var scopeParams = map[string]string{"id": "1", "action": "ack", "schedule": "ops", "layer": "weekly", "team": "ops", "user": "alice", "name": "ops"}

// Issue 10: every API route checks its scope. Walked from the router, each
// route answers a token without the scope with 403 naming it, and one with
// it with anything but 401 or 403.
func TestEveryAPIRouteChecksItsScope(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.APITokens = append(o.APITokens, scopedTokens...)
		o.Teams = append(o.Teams, config.Team{Name: "ops", Schedule: "ops"}, config.Team{Name: "dba"})
	})
	f.open("Disk")
	walked := 0
	err := chi.Walk(f.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/v1/") {
			return nil
		}
		walked++
		key := method + " " + route
		need, ok := routeScopes[key]
		if !ok {
			t.Errorf("%s: no scope decided for it in routeScopes", key)
			return nil
		}
		path := pathParam.ReplaceAllStringFunc(route, func(p string) string { return scopeParams[p[1:len(p)-1]] })
		for _, tok := range scopedTokens {
			allowed := false
			for _, name := range holds[need] {
				allowed = allowed || name == tok.Name
			}
			r := f.do(method, path, tok.Token, `{}`)
			switch {
			case allowed && (r.code == http.StatusForbidden || r.code == http.StatusUnauthorized):
				t.Errorf("%s with %s (has %s) = %d %s", key, tok.Name, need, r.code, r.body)
			case !allowed && (r.code != http.StatusForbidden || !strings.Contains(r.error, `lacks the scope "`+strings.Split(need, ":")[0])):
				t.Errorf("%s with %s (lacks %s) = %d %q, want 403 naming the scope", key, tok.Name, need, r.code, r.error)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if walked != len(routeScopes) {
		t.Errorf("walked %d API routes, routeScopes lists %d: drop the routes that are gone", walked, len(routeScopes))
	}
}

// A token scoped to one team's schedules may not touch a schedule another
// team shares, nor one no team uses.
func TestTeamScopedTokensAndSharedSchedules(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.APITokens = append(o.APITokens, scopedTokens...)
		o.Teams = append(o.Teams, config.Team{Name: "ops", Schedule: "ops"}, config.Team{Name: "dba", Schedule: "ops"})
	})
	r := f.do("POST", "/api/v1/schedules/ops/take", "ops-rota-token-0123456789", `{"user":"carol"}`)
	expectError(t, r, http.StatusForbidden, `lacks the scope "schedule:dba"`, "")
	if r := f.do("POST", "/api/v1/schedules/ops/take", "rota-token-0123456789", `{"user":"carol"}`); r.code == http.StatusForbidden {
		t.Fatalf("the unscoped schedule token = %d %s", r.code, r.body)
	}
	g := newFixture(t, func(o *Options) { o.APITokens = append(o.APITokens, scopedTokens...) })
	expectError(t, g.do("POST", "/api/v1/schedules/ops/take", "ops-rota-token-0123456789", `{"user":"carol"}`), http.StatusForbidden,
		`lacks the scope "schedule"`, "")
}
