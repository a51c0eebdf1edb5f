package scenario

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// everyPlatform turns on every inbound path the bot has: the console,
// Slack, Telegram, Discord, Twilio, a metrics token.
var everyPlatform = strings.NewReplacer(
	"api_tokens:", "console_tokens: [{token: alice-console, person: alice}]\n"+
		"metrics_token: prometheus-scrape-0123\n"+
		"slack: {bot_token: \"%SLACK_TOKEN%\", signing_secret: \"%SLACK_SECRET%\", api_url: \"%SLACK%\"}\n"+
		"telegram: {bot_token: \""+TelegramToken+"\", webhook_secret: \""+TelegramSecret+"\", api_url: \"%TELEGRAM%\"}\n"+
		"discord: {bot_token: \""+DiscordToken+"\", public_key: \""+DiscordPublicKey+"\", api_url: \"%DISCORD%\"}\n"+
		"twilio: {account_sid: \"%TWILIO_SID%\", auth_token: \"%TWILIO_TOKEN%\", from: \"%TWILIO_FROM%\", base_url: \"%TWILIO%\"}\n"+
		"api_tokens:",
).Replace(BaseConfig)

// public are the routes anyone may call: health, the sign-in page and the
// console's static files (served for any method: a file server). Every
// other route must refuse a request that carries no credentials.
var public = map[string]bool{
	"GET /healthz": true,
	"GET /readyz":  true,
	"GET /login":   true,
	"* /static/*":  true,
}

// paramValue fills a route parameter with something the handler could
// take, so the request reaches its authentication rather than a 400 about
// the path.
var paramValue = map[string]string{
	"id": "1", "integration": "alertmanager", "action": "ack", "schedule": "ops", "layer": "weekly",
	"team": "ops", "user": "alice", "file": "ops.ics", "name": "ops",
}

var routeParam = regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`)

// Issue 9: every route of the router, walked, answers a request without
// credentials with 401 or 403, or sends a browser to sign in; a route
// added later without authentication fails here.
func TestEveryRouteRefusesRequestsWithoutCredentials(t *testing.T) {
	h := New(t, WithConfig(everyPlatform))
	h.PostAlerts(Firing("alertname=DiskFull")) // incident 1 exists
	routes, ok := h.App.Handler().(chi.Routes)
	if !ok {
		t.Fatalf("the bot's handler is a %T, not a chi router to walk", h.App.Handler())
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	walked := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		walked[key] = true
		if public[key] || public["* "+route] {
			walked["* "+route] = public["* "+route]
			return nil
		}
		path := routeParam.ReplaceAllStringFunc(route, func(p string) string {
			name := routeParam.FindStringSubmatch(p)[1]
			if v, ok := paramValue[name]; ok {
				return v
			}
			t.Errorf("%s: no test value for parameter {%s}: add one to paramValue", key, name)
			return "x"
		})
		path = strings.ReplaceAll(path, "*", "x")
		req, err := http.NewRequest(method, h.Server.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		case resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/login":
		default:
			t.Errorf("%s (%s) without credentials = %d %q, want 401, 403 or a redirect to /login", key, path, resp.StatusCode, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk saw the whole surface: one route of each part.
	for _, want := range []string{"POST /hooks/{integration}", "GET /api/v1/incidents/{id}", "GET /metrics", "GET /ical/users/{file}",
		"POST /twilio/sms", "POST /slack/commands", "POST /telegram/webhook", "POST /discord/interactions", "GET /events", "POST /login"} {
		if !walked[want] {
			t.Errorf("the walk never reached %s", want)
		}
	}
	if len(walked) < 30 {
		t.Errorf("walked %d routes; the bot has more", len(walked))
	}
	for key := range public {
		if !walked[key] {
			t.Errorf("public route %s is not in the router: drop it from the list", key)
		}
	}
}
