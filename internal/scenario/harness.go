// Package scenario runs the whole bot in-process for tests that read like
// incidents: a real SQLite file in a temp dir, the real HTTP handlers on a
// loopback server, a fake clock that only moves when told, and stateful
// fakes of the outside world (an outgoing-webhook receiver now; chat and
// phone fakes join it as they are built).
//
// A scenario posts payloads, moves the clock with Advance (which runs every
// timer and outbox delivery that fell due, in the test's goroutine), and
// asserts on incidents, timelines and what the fakes received. Nothing
// sleeps.
package scenario

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/app"
	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// Start is the fake clock's starting time in every scenario: a Monday
// morning, 03:00 UTC, when pages hurt most.
var Start = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// BaseConfig is the configuration scenarios start from. %WEBHOOK% is
// replaced by the fake webhook receiver's URL.
const BaseConfig = `
reopen_window: 5m
api_tokens:
  - {name: tester, token: api-secret}
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
  - {name: grafana, format: grafana, token: gf-secret}
  - {name: zabbix, format: zabbix, token: zbx-secret}
  - {name: generic, format: generic, token: gen-secret, default_severity: warning}
routes:
  - name: staging
    match: ['env="staging"']
    team: ops
    group_by: [alertname, env]
    alert_delay: 10m
    severity_max: warning
  - name: databases
    match: ['service=~"postgres|mysql"']
    team: dba
    escalation_policy: dba-default
    group_by: [alertname, cluster]
    alert_delay: 2m
default_route:
  team: ops
  escalation_policy: ops-default
  group_by: [alertname]
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: America/New_York}
  - {name: carol, time_zone: Australia/Sydney}
teams:
  - {name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}
  - {name: dba, members: [bob], leads: [bob]}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
webhooks:
  - name: events
    url: "%WEBHOOK%"
    secret: hook-secret
`

// Tokens of BaseConfig.
var Tokens = map[string]string{
	"alertmanager": "am-secret", "grafana": "gf-secret", "zabbix": "zbx-secret", "generic": "gen-secret",
}

// APIToken is BaseConfig's REST token.
const APIToken = "api-secret"

// Harness is one bot under test.
type Harness struct {
	T        testing.TB
	Clock    *clock.Fake
	App      *app.App
	Server   *httptest.Server
	Webhook  *FakeWebhook
	Twilio   *FakeTwilio
	SMTP     *FakeSMTP
	Slack    *FakeSlack
	Telegram *FakeTelegram
	Discord  *FakeDiscord
	Config   *config.Config

	handler   atomic.Pointer[http.Handler]
	log       *slog.Logger
	platforms []chat.Platform
	realClock bool
}

// Option changes the harness before the bot starts.
type Option func(*options)

type options struct {
	config    string
	platforms []chat.Platform
	realClock bool
}

// WithRealClock runs the bot on the wall clock with its background loops
// started, as in production: for benchmarks of latency, never for tests
// of timing (those move the fake clock).
func WithRealClock() Option { return func(o *options) { o.realClock = true } }

// WithPlatform shows incidents on a chat platform too.
func WithPlatform(p chat.Platform) Option {
	return func(o *options) { o.platforms = append(o.platforms, p) }
}

// WithConfig replaces BaseConfig.
func WithConfig(yaml string) Option { return func(o *options) { o.config = yaml } }

// New starts a bot on a fresh database.
func New(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	o := options{config: BaseConfig}
	for _, f := range opts {
		f(&o)
	}
	h := &Harness{T: t, Clock: clock.NewFake(Start), Webhook: NewFakeWebhook(t), Twilio: NewFakeTwilio(t), SMTP: NewFakeSMTP(t), Slack: NewFakeSlack(t),
		Telegram: NewFakeTelegram(t), Discord: NewFakeDiscord(t)}
	h.log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	yaml := strings.NewReplacer("%WEBHOOK%", h.Webhook.URL(), "%PERSONHOOK%", h.Webhook.PersonURL(""), "%TWILIO%", h.Twilio.URL(),
		"%SMTP%", h.SMTP.Addr(), "%SLACK%", h.Slack.URL(), "%TELEGRAM%", h.Telegram.URL(), "%DISCORD%", h.Discord.URL(), "%SLACK_TOKEN%", SlackToken, "%SLACK_SECRET%", SlackSecret, "%TWILIO_SID%", TwilioSID, "%TWILIO_TOKEN%", TwilioToken, "%TWILIO_FROM%", TwilioFrom).Replace(o.config)
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("scenario config: %v", err)
	}
	cfg.Database = filepath.Join(t.TempDir(), "bot.db")
	h.Config = cfg
	h.platforms = o.platforms
	h.realClock = o.realClock
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(h.Server.Close)
	// Twilio signs what it sends with the URL it called: the bot's public
	// URL must be the one the fakes call.
	cfg.BaseURL = h.Server.URL
	h.boot()
	t.Cleanup(func() {
		if err := h.App.Close(); err != nil {
			t.Errorf("close bot: %v", err)
		}
	})
	return h
}

func (h *Harness) boot() {
	h.T.Helper()
	var clk clock.Clock = h.Clock
	if h.realClock {
		clk = clock.Real{}
	}
	opts := app.Options{Clock: clk, Logger: h.log, Platforms: h.platforms}
	if h.realClock {
		opts.RoomGather = 250 * time.Millisecond // as the binary runs
	}
	a, err := app.New(context.Background(), h.Config, opts)
	if err != nil {
		h.T.Fatalf("start bot: %v", err)
	}
	if h.realClock {
		a.Start(context.Background())
	} else {
		// Timers and the outbox move with the fake clock (Tick); commands
		// that arrive over a listener (Socket Mode, long polling) still
		// come in by themselves.
		a.Listen(context.Background())
	}
	h.App = a
	handler := a.Handler()
	h.handler.Store(&handler)
}

// Restart stops the bot and starts it again on the same database, as a
// process restart would; the clock keeps its time.
func (h *Harness) Restart() {
	h.T.Helper()
	if err := h.App.Close(); err != nil {
		h.T.Fatalf("stop bot: %v", err)
	}
	h.boot()
}

// Advance moves the clock forward by d, stopping at each moment a timer
// or an outbox retry falls due to run it then, so everything happens at
// its own time, as it would in a running bot.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	target := h.Clock.Now().Add(d)
	for {
		h.Tick()
		next, ok := h.nextDue()
		if !ok || next.After(target) {
			break
		}
		h.Clock.Set(next)
	}
	h.Clock.Set(target)
	h.Tick()
}

// nextDue is the earliest time a timer or an outbox retry is due.
func (h *Harness) nextDue() (time.Time, bool) {
	// Only future times: a pending row whose time has passed is waiting
	// behind another of its key, not due on its own.
	now := h.Clock.Now().UnixMilli()
	var ms sql.NullInt64
	err := h.App.Store.Read().QueryRow(`SELECT MIN(t) FROM (
		SELECT MIN(due_at) AS t FROM timers WHERE due_at > ?
		UNION ALL SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending' AND next_attempt_at > ?)`, now, now).Scan(&ms)
	if err != nil {
		h.T.Fatalf("next due: %v", err)
	}
	if !ms.Valid {
		return time.Time{}, false
	}
	return time.UnixMilli(ms.Int64), true
}

// Tick runs everything due now without moving the clock.
func (h *Harness) Tick() {
	h.T.Helper()
	if err := h.App.Tick(context.Background()); err != nil {
		h.T.Fatalf("tick: %v", err)
	}
}

// Response is an HTTP answer, read in full.
type Response struct {
	Code int
	Body []byte
	// Error and Field are the JSON error body's, when there is one.
	Error, Field string
}

func (h *Harness) do(method, path string, header http.Header, body []byte) Response {
	h.T.Helper()
	req, err := http.NewRequest(method, h.Server.URL+path, bytes.NewReader(body))
	if err != nil {
		h.T.Fatalf("build request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.Server.Client().Do(req)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.T.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := Response{Code: resp.StatusCode, Body: b}
	var e struct{ Error, Field string }
	if json.Unmarshal(b, &e) == nil {
		r.Error, r.Field = e.Error, e.Field
	}
	return r
}

// PostRaw posts body to /hooks/{integration} with the given bearer token.
func (h *Harness) PostRaw(integration, token string, body []byte) Response {
	h.T.Helper()
	hdr := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	return h.do(http.MethodPost, "/hooks/"+integration, hdr, body)
}

// HookResult is the 202 body of a webhook.
type HookResult struct {
	Accepted, New, Updated, Resolved, Refired, Ignored, Truncated int
	Incidents                                                     []int64
}

// Post posts body to an integration of BaseConfig and fails the test
// unless the bot answers 202.
func (h *Harness) Post(integration string, body []byte) HookResult {
	h.T.Helper()
	r := h.PostRaw(integration, Tokens[integration], body)
	if r.Code != http.StatusAccepted {
		h.T.Fatalf("POST /hooks/%s = %d %s, want 202", integration, r.Code, r.Body)
	}
	var res HookResult
	if err := json.Unmarshal(r.Body, &res); err != nil {
		h.T.Fatalf("decode hook response %s: %v", r.Body, err)
	}
	return res
}

// PostAlerts posts Alertmanager alerts (see Firing) and runs what fell due.
func (h *Harness) PostAlerts(alerts ...AMAlert) HookResult {
	h.T.Helper()
	res := h.Post("alertmanager", AlertmanagerBody(alerts...))
	h.Tick()
	return res
}

// API calls the REST API with BaseConfig's token.
func (h *Harness) API(method, path string) Response {
	h.T.Helper()
	return h.do(method, path, http.Header{"Authorization": {"Bearer " + APIToken}}, nil)
}

// Incident returns an incident with alerts and timeline, straight from the
// domain.
func (h *Harness) Incident(id int64) incident.Detail {
	h.T.Helper()
	d, err := h.App.Incidents.Get(context.Background(), id)
	if err != nil {
		h.T.Fatalf("get incident %d: %v", id, err)
	}
	return d
}

// OnlyIncident returns the single incident of a result, failing otherwise.
func (h *Harness) OnlyIncident(res HookResult) incident.Detail {
	h.T.Helper()
	if len(res.Incidents) != 1 {
		h.T.Fatalf("alerts touched incidents %v, want exactly one", res.Incidents)
	}
	return h.Incident(res.Incidents[0])
}

// ExpectStatus fails unless incident id is in status st.
func (h *Harness) ExpectStatus(id int64, st incident.Status) incident.Detail {
	h.T.Helper()
	d := h.Incident(id)
	if d.Status != st {
		h.T.Fatalf("incident %d is %s, want %s; timeline:\n%s", id, d.Status, st, Timeline(d))
	}
	return d
}

// Timeline renders an incident's timeline for failure messages.
func Timeline(d incident.Detail) string {
	var b strings.Builder
	for _, e := range d.Timeline {
		fmt.Fprintf(&b, "  %s %-26s by %-14s %s\n", e.At.Format("15:04:05"), e.Kind, e.Actor, e.Detail)
	}
	return b.String()
}

// Kinds lists the kinds of an incident's timeline, in order, leaving out
// the escalation engine's and the notifications' entries (see AllKinds).
func Kinds(d incident.Detail) []string {
	var out []string
	for _, e := range d.Timeline {
		if strings.HasPrefix(e.Kind, "incident.") || strings.HasPrefix(e.Kind, "alert.") {
			out = append(out, e.Kind)
		}
	}
	return out
}

// AllKinds lists every kind of an incident's timeline, in order.
func AllKinds(d incident.Detail) []string {
	out := make([]string, len(d.Timeline))
	for i, e := range d.Timeline {
		out[i] = e.Kind
	}
	return out
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// SharedFixture reads a file of ../shared/fixtures (the payloads whose
// licenses keep them out of this repository), skipping the test when the
// folder is not beside the checkout.
func SharedFixture(t testing.TB, rel string) []byte {
	t.Helper()
	wd, _ := os.Getwd()
	for dir := wd; ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "..", "shared", "fixtures", rel)
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	t.Skipf("shared fixture %s not found beside the checkout", rel)
	return nil
}
