package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// testConfig is the smallest configuration that reaches every handler:
// two API tokens (to tell their actors apart), two integrations, a team
// with a weekly schedule.
const testConfig = `
api_tokens:
  - {name: ci, token: api-secret}
  - {name: ops-bot, token: a-second-and-much-longer-secret}
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
  - {name: generic, format: generic, token: gen-secret}
default_route:
  team: ops
  group_by: [alertname]
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: America/New_York}
  - {name: carol, time_zone: Australia/Sydney}
teams:
  - {name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
`

const apiToken = "api-secret"

// start is a Monday, 03:00 UTC.
var start = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// fixture is a Server on a real SQLite file, with the real incident and
// on-call services, a fake clock and a scripted escalator.
type fixture struct {
	t         *testing.T
	clock     *clock.Fake
	store     *store.Store
	incidents *incident.Service
	oncall    *oncall.Service
	escalator *fakeEscalator
	registry  *prometheus.Registry
	server    *Server
	handler   http.Handler
}

// newFixture builds a server; edit changes its Options before New.
func newFixture(t *testing.T, edit ...func(*Options)) *fixture {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(start)
	router, err := incident.NewRouter(cfg.Routes, cfg.DefaultRoute)
	if err != nil {
		t.Fatalf("routes: %v", err)
	}
	pub := outbox.NewPublisher(nil, clk, func() {})
	oc, err := oncall.NewService(ctx, st, clk, cfg)
	if err != nil {
		t.Fatalf("on-call: %v", err)
	}
	f := &fixture{t: t, clock: clk, store: st, oncall: oc, escalator: &fakeEscalator{},
		incidents: incident.NewService(st, clk, router, pub, incident.Options{Logger: log}),
		registry:  prometheus.NewRegistry()}
	opts := Options{
		Incidents: f.incidents, OnCall: oc, Escalator: f.escalator, BaseURL: "https://bot.example/",
		Integrations: cfg.Integrations, APITokens: cfg.APITokens, Ready: st.Ping,
		Clock: clk, Logger: log, Registry: f.registry,
	}
	for _, e := range edit {
		e(&opts)
	}
	f.server = New(opts)
	f.handler = f.server.Handler()
	return f
}

// fakeEscalator answers Escalate with err and records who asked.
type fakeEscalator struct {
	mu    sync.Mutex
	err   error
	calls []string
}

func (e *fakeEscalator) Escalate(_ context.Context, id int64, actor string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, actor)
	return e.err
}

// response is an answer read in full, with the JSON error body decoded.
type response struct {
	code         int
	header       http.Header
	body         string
	error, field string
}

// do sends a request; a token of "" sends no Authorization header.
func (f *fixture) do(method, path, token, body string) response {
	f.t.Helper()
	return f.send(method, path, http.Header{"Authorization": bearer(token)}, body)
}

func bearer(token string) []string {
	if token == "" {
		return nil
	}
	return []string{"Bearer " + token}
}

func (f *fixture) send(method, path string, header http.Header, body string) response {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		if v != nil {
			req.Header[k] = v
		}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	r := response{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
	var e errorBody
	if json.Unmarshal(rec.Body.Bytes(), &e) == nil {
		r.error, r.field = e.Error, e.Field
	}
	return r
}

// api calls the REST API with the first token.
func (f *fixture) api(method, path, body string) response {
	f.t.Helper()
	return f.do(method, path, apiToken, body)
}

// open posts a generic alert and returns the incident it opened.
func (f *fixture) open(title string) int64 {
	f.t.Helper()
	r := f.do("POST", "/hooks/generic", "gen-secret", `{"title":"`+title+`","dedup_key":"`+title+`","labels":{"alertname":"`+title+`"}}`)
	if r.code != http.StatusAccepted {
		f.t.Fatalf("POST /hooks/generic = %d %s", r.code, r.body)
	}
	var res hookResponse
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || len(res.Incidents) != 1 {
		f.t.Fatalf("hook answered %s (%v), want one incident", r.body, err)
	}
	return res.Incidents[0]
}

// metrics renders the registry as /metrics does.
func (f *fixture) metrics() string {
	f.t.Helper()
	r := f.send("GET", "/metrics", nil, "")
	if r.code != http.StatusOK {
		f.t.Fatalf("GET /metrics = %d", r.code)
	}
	return r.body
}

// expectError fails unless r is a JSON error of code whose message
// contains want and whose field is field.
func expectError(t *testing.T, r response, code int, want, field string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("code = %d %s, want %d", r.code, r.body, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !strings.Contains(r.error, want) {
		t.Errorf("error = %q, want it to mention %q", r.error, want)
	}
	if r.field != field {
		t.Errorf("field = %q, want %q", r.field, field)
	}
}

// apiRoutes is one request to each endpoint of /api/v1.
var apiRoutes = []struct{ method, path, body string }{
	{"GET", "/api/v1/incidents", ""},
	{"GET", "/api/v1/incidents/1", ""},
	{"GET", "/api/v1/incidents/1/alerts", ""},
	{"GET", "/api/v1/incidents/1/timeline", ""},
	{"POST", "/api/v1/incidents/1/ack", ""},
	{"POST", "/api/v1/incidents/1/escalate", ""},
	{"GET", "/api/v1/schedules", ""},
	{"GET", "/api/v1/schedules/ops", ""},
	{"GET", "/api/v1/schedules/ops/overrides", ""},
	{"POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"}`},
	{"DELETE", "/api/v1/schedules/ops/overrides/1", ""},
	{"GET", "/api/v1/schedules/ops/swaps", ""},
	{"POST", "/api/v1/schedules/ops/swaps", `{"requester":"alice"}`},
	{"POST", "/api/v1/schedules/ops/swaps/1/accept", `{"user":"bob"}`},
	{"POST", "/api/v1/schedules/ops/take", `{"user":"carol"}`},
	{"PATCH", "/api/v1/schedules/ops/layers/weekly", `{"add":"carol"}`},
	{"GET", "/api/v1/teams/ops/oncall", ""},
	{"GET", "/api/v1/users/alice/shifts", ""},
	// Even an unknown path says nothing before the token is checked.
	{"GET", "/api/v1/nothing-here", ""},
}

func TestAPIRefusesRequestsWithoutAValidToken(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	cases := []struct {
		name          string
		authorization []string
		want          string
		challenge     string
	}{
		{"no header", nil, "missing API token", `Bearer realm="api"`},
		{"empty bearer", []string{"Bearer "}, "missing API token", `Bearer realm="api"`},
		{"basic auth", []string{"Basic " + "Y2k6YXBpLXNlY3JldA=="}, "missing API token", `Bearer realm="api"`},
		{"token without scheme", []string{apiToken}, "missing API token", `Bearer realm="api"`},
		{"wrong token", []string{"Bearer guess"}, "invalid API token", `Bearer realm="api", error="invalid_token"`},
		{"prefix of the token", []string{"Bearer api-secre"}, "invalid API token", `Bearer realm="api", error="invalid_token"`},
		{"token and more", []string{"Bearer api-secretx"}, "invalid API token", `Bearer realm="api", error="invalid_token"`},
		{"trailing space", []string{"Bearer api-secret "}, "invalid API token", `Bearer realm="api", error="invalid_token"`},
		{"an integration's token", []string{"Bearer am-secret"}, "invalid API token", `Bearer realm="api", error="invalid_token"`},
	}
	for _, c := range cases {
		for _, rt := range apiRoutes {
			t.Run(c.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				// Long enough for this client's failed attempts to be
				// forgotten: the limit on them has its own test.
				f.clock.Advance(time.Duration(apiPolicy.Burst) * apiPolicy.Every)
				r := f.send(rt.method, rt.path, http.Header{"Authorization": c.authorization}, rt.body)
				expectError(t, r, http.StatusUnauthorized, c.want, "")
				if got := r.header.Get("WWW-Authenticate"); got != c.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, c.challenge)
				}
			})
		}
	}
	// Nothing a refused request asked for happened.
	if d, err := f.incidents.Get(context.Background(), 1); err != nil || d.Status != incident.StatusTriggered {
		t.Fatalf("incident 1 after refused requests: %v %v", d.Status, err)
	}
	if len(f.escalator.calls) != 0 {
		t.Fatalf("refused requests escalated: %v", f.escalator.calls)
	}
}

func TestAPIAcceptsEachConfiguredToken(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	for _, rt := range apiRoutes {
		for _, token := range []string{apiToken, "a-second-and-much-longer-secret"} {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				r := f.do(rt.method, rt.path, token, rt.body)
				if r.code == http.StatusUnauthorized {
					t.Fatalf("valid token refused: %s", r.body)
				}
			})
		}
	}
}

// HTTP auth schemes are case-insensitive (RFC 9110 §11.1), and the scheme
// and the token may be parted by more than one space; the token is not.
func TestAPIAcceptsTheBearerSchemeInAnyCase(t *testing.T) {
	cases := []struct {
		name, authorization string
		code                int
	}{
		{"canonical", "Bearer " + apiToken, 200},
		{"lower case", "bearer " + apiToken, 200},
		{"upper case", "BEARER " + apiToken, 200},
		{"mixed case", "bEaReR " + apiToken, 200},
		{"two spaces", "Bearer  " + apiToken, 200},
		{"token in another case", "Bearer " + strings.ToUpper(apiToken), 401},
		{"scheme and token run together", "bearer" + apiToken, 401},
		{"a longer scheme", "Bearerx " + apiToken, 401},
		{"tab after the scheme", "bearer\t" + apiToken, 401},
	}
	f := newFixture(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.send("GET", "/api/v1/incidents", http.Header{"Authorization": {c.authorization}}, "")
			if r.code != c.code {
				t.Fatalf("Authorization %q = %d %s, want %d", c.authorization, r.code, r.body, c.code)
			}
		})
	}
}

func TestAPIRecordsTheTokenNameAsActor(t *testing.T) {
	f := newFixture(t)
	id := f.open("Disk")
	r := f.do("POST", "/api/v1/incidents/1/ack", "a-second-and-much-longer-secret", "")
	if r.code != http.StatusOK {
		t.Fatalf("ack = %d %s", r.code, r.body)
	}
	d, err := f.incidents.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if d.AcknowledgedBy != "api:ops-bot" {
		t.Fatalf("acknowledged by %q, want api:ops-bot", d.AcknowledgedBy)
	}
}

func TestSecretMatchesOnlyTheExactToken(t *testing.T) {
	s := newSecret("ci", "api-secret")
	cases := []struct {
		guess string
		want  bool
	}{
		{"api-secret", true},
		{"", false},
		{"api-secre", false},
		{"api-secret\x00", false},
		{"API-SECRET", false},
		{strings.Repeat("a", 10_000), false},
	}
	for _, c := range cases {
		if got := s.matches(c.guess); got != c.want {
			t.Errorf("matches(%.20q) = %v, want %v", c.guess, got, c.want)
		}
	}
	// The token itself is not kept, only its hash.
	if bytes.Contains(s.hash[:], []byte("api-secret")) {
		t.Fatal("secret keeps the token in clear")
	}
}

func TestNoConfiguredTokensMeansNoAPI(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.APITokens = nil })
	expectError(t, f.api("GET", "/api/v1/incidents", ""), http.StatusUnauthorized, "invalid API token", "")
}

func TestHealthAndReadiness(t *testing.T) {
	cases := []struct {
		name  string
		path  string
		ready func(context.Context) error
		code  int
		want  string
	}{
		{"health", "/healthz", nil, 200, `{"status":"ok"}`},
		{"ready", "/readyz", func(context.Context) error { return nil }, 200, `{"status":"ready"}`},
		{"not ready", "/readyz", func(context.Context) error { return errors.New("disk I/O error") }, 503,
			`{"error":"not ready"}`},
		{"ready check has a deadline", "/readyz", func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		}, 200, `{"status":"ready"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				if c.ready != nil {
					o.Ready = c.ready
				}
			})
			r := f.send("GET", c.path, nil, "")
			if r.code != c.code || strings.TrimSpace(r.body) != c.want {
				t.Fatalf("GET %s = %d %s, want %d %s", c.path, r.code, r.body, c.code, c.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestReadinessFailsOnceTheStoreIsClosed(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	expectError(t, f.send("GET", "/readyz", nil, ""), http.StatusServiceUnavailable, "not ready", "")
}

// TestReadinessKeepsTheCauseInTheLog: /readyz is public, so it answers
// only "not ready"; the database's own error (paths, internals) goes to
// the log.
func TestReadinessKeepsTheCauseInTheLog(t *testing.T) {
	cause := errors.New("sqlite: unable to open database file /var/lib/oncall/bot.db: disk I/O error")
	var logged syncBuffer
	f := newFixture(t, func(o *Options) {
		o.Ready = func(context.Context) error { return cause }
		o.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	})
	r := f.send("GET", "/readyz", nil, "")
	expectError(t, r, http.StatusServiceUnavailable, "not ready", "")
	for _, leak := range []string{"sqlite", "/var/lib", "disk I/O", "database"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("/readyz answer %q tells a stranger %q", r.body, leak)
		}
	}
	if log := logged.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, cause.Error()) {
		t.Errorf("log = %q, want a warning with the cause %q", log, cause)
	}
}

// syncBuffer is a bytes.Buffer that handlers may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestMetricsTokenWhenConfigured(t *testing.T) {
	const token = "prometheus-scrape-0123"
	cases := []struct {
		name   string
		header []string // Authorization
		code   int
		want   string // in the error, when refused
		realm  string // WWW-Authenticate, when refused
	}{
		{"no token", nil, 401, "missing metrics token", `Bearer realm="metrics"`},
		{"empty bearer", []string{"Bearer "}, 401, "missing metrics token", `Bearer realm="metrics"`},
		{"basic scheme", []string{"Basic " + token}, 401, "missing metrics token", `Bearer realm="metrics"`},
		{"wrong token", []string{"Bearer guess"}, 401, "invalid metrics token", `Bearer realm="metrics", error="invalid_token"`},
		{"prefix of the token", []string{"Bearer " + token[:len(token)-1]}, 401, "invalid metrics token", `Bearer realm="metrics", error="invalid_token"`},
		{"token and more", []string{"Bearer " + token + "x"}, 401, "invalid metrics token", `Bearer realm="metrics", error="invalid_token"`},
		{"an API token is not the metrics token", []string{"Bearer " + apiToken}, 401, "invalid metrics token", `Bearer realm="metrics", error="invalid_token"`},
		{"right token", []string{"Bearer " + token}, 200, "", ""},
		{"scheme in any case", []string{"bEARER " + token}, 200, "", ""},
	}
	f := newFixture(t, func(o *Options) { o.MetricsToken = token })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.send("GET", "/metrics", http.Header{"Authorization": c.header}, "")
			if c.code == http.StatusOK {
				if r.code != 200 || !strings.Contains(r.body, "bot_http_request_duration_seconds") {
					t.Fatalf("GET /metrics = %d %.200s, want the metrics", r.code, r.body)
				}
				return
			}
			expectError(t, r, c.code, c.want, "")
			if got := r.header.Get("WWW-Authenticate"); got != c.realm {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.realm)
			}
			if strings.Contains(r.body, "bot_") {
				t.Errorf("a refused scrape got metrics: %.200s", r.body)
			}
		})
	}
	// The other public endpoints do not ask for it.
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := f.send("GET", path, nil, ""); r.code != http.StatusOK {
			t.Errorf("GET %s without a token = %d, want 200", path, r.code)
		}
	}
}

func TestMetricsAreOpenWithoutAToken(t *testing.T) {
	f := newFixture(t)
	r := f.send("GET", "/metrics", http.Header{"Authorization": {"Bearer anything"}}, "")
	if r.code != http.StatusOK {
		t.Fatalf("GET /metrics with any token = %d, want 200 (no metrics_token configured)", r.code)
	}
	if !strings.Contains(f.metrics(), "bot_http_request_duration_seconds") {
		t.Fatal("GET /metrics without a token does not serve the metrics")
	}
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/nowhere", 404, "no such endpoint: GET /nowhere"},
		{"GET", "/hooks/alertmanager", 405, "method GET is not allowed on /hooks/alertmanager"},
		{"PUT", "/healthz", 405, "method PUT is not allowed on /healthz"},
		{"GET", "/api/v1/incidents/1/ack", 405, "method GET is not allowed on /api/v1/incidents/1/ack"},
		{"DELETE", "/api/v1/incidents/1", 405, "method DELETE is not allowed"},
		{"PUT", "/api/v1/schedules/ops/overrides", 405, "method PUT is not allowed"},
		{"GET", "/api/v1/nothing-here", 404, "no such endpoint: GET /api/v1/nothing-here"},
		// Twilio's endpoints exist only when Twilio is configured.
		{"POST", "/twilio/sms", 404, "no such endpoint"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			expectError(t, f.api(c.method, c.path, ""), c.code, c.want, "")
		})
	}
}

// panicky mounts routes that panic, as a console or chat adapter might.
type panicky struct{}

func (panicky) Routes(r chi.Router) {
	r.Get("/console-panic", func(http.ResponseWriter, *http.Request) { panic("template exploded") })
}

func TestPanicsBecome500AndAbortsPassThrough(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Console = panicky{}
		o.Mounts = []func(chi.Router){func(r chi.Router) {
			r.Post("/chat/panic", func(http.ResponseWriter, *http.Request) { panic(errors.New("nil map")) })
			r.Post("/chat/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
			r.Post("/chat/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		}}
	})
	for _, p := range []struct{ method, path string }{{"GET", "/console-panic"}, {"POST", "/chat/panic"}} {
		r := f.send(p.method, p.path, nil, "")
		expectError(t, r, http.StatusInternalServerError, "internal error", "")
		if strings.Contains(r.body, "exploded") || strings.Contains(r.body, "nil map") {
			t.Errorf("%s leaks the panic: %s", p.path, r.body)
		}
	}
	if r := f.send("POST", "/chat/ok", nil, ""); r.code != http.StatusNoContent {
		t.Fatalf("mounted route = %d, want 204", r.code)
	}
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler to reach the server", p)
			}
		}()
		f.send("POST", "/chat/abort", nil, "")
	}()
}

func TestLatencyIsLabelledByRoutePattern(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	f.api("GET", "/api/v1/incidents/1", "")
	f.api("GET", "/api/v1/incidents/2", "")
	f.api("GET", "/api/v1/incidents/x", "")
	f.send("GET", "/api/v1/incidents", nil, "")
	m := f.metrics()
	for _, want := range []string{
		`bot_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/incidents/{id}"} 1`,
		`bot_http_request_duration_seconds_count{code="404",method="GET",route="/api/v1/incidents/{id}"} 1`,
		`bot_http_request_duration_seconds_count{code="400",method="GET",route="/api/v1/incidents/{id}"} 1`,
		`bot_http_request_duration_seconds_count{code="401",method="GET",route="/api/v1/*"} 1`,
		`bot_http_request_duration_seconds_count{code="202",method="POST",route="/hooks/{integration}"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `/api/v1/incidents/1"`) {
		t.Error("metrics label a route by its raw path")
	}
}

func TestStreamsCanFlushThroughTheMiddleware(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Mounts = []func(chi.Router){func(r chi.Router) {
			r.Get("/stream", func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(": hello\n\n"))
				if err := http.NewResponseController(w).Flush(); err != nil {
					w.Write([]byte("flush failed: " + err.Error()))
				}
			})
		}}
	})
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/stream", nil))
	if !rec.Flushed || rec.Body.String() != ": hello\n\n" {
		t.Fatalf("stream: flushed %v, body %q", rec.Flushed, rec.Body)
	}
}
