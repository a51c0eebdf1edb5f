package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/ingest"
)

func TestDemoConfigLoads(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	c, err := Load(filepath.Join(filepath.Dir(file), "..", "..", "manifests", "demo.yaml"))
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	names := map[string]string{}
	for _, in := range c.Integrations {
		names[in.Name] = in.Token
	}
	for _, n := range []string{"alertmanager", "grafana", "zabbix", "generic"} {
		if names[n] != "demo" {
			t.Errorf("demo integration %s token = %q, want demo", n, names[n])
		}
	}
	if len(c.APITokens) != 1 || c.APITokens[0].Token != "demo" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("demo api tokens %+v listen %s", c.APITokens, c.Listen)
	}
	if len(c.Teams) != 1 || c.Teams[0].Name != "ops" || c.Teams[0].Schedule != "ops" || c.Teams[0].EscalationPolicy != "ops-default" {
		t.Errorf("demo team = %+v", c.Teams)
	}
	if len(c.Schedules) != 1 || len(c.Schedules[0].Layers) == 0 || len(c.EscalationPolicies) == 0 {
		t.Errorf("demo schedules %+v policies %+v", c.Schedules, c.EscalationPolicies)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("the demo has warnings (a newcomer's first log would show them): %q", w)
	}
}

func TestWarningsFlagRoomTargetsNobodySees(t *testing.T) {
	const policy = "escalation_policies: [{name: p, steps: [{delay: 5m, targets: [{schedule: s}]}, {delay: 5m, targets: [{user: alice}, {room: ops}]}]}]\n" +
		"schedules: [{name: s, time_zone: UTC, layers: [{name: l, rotation: weekly, start: \"2026-01-05 09:00\", participants: [alice]}]}]\n" +
		"people: [{name: alice}]\ndefault_route: {team: ops}\n"
	cases := []struct {
		name, yaml string
		want       string // in the one warning, or "" for none
	}{
		{"no chat platform", "teams: [{name: ops, members: [alice]}]\n", `escalation policy "p", step 2, target 2: {room: ops}: team ops has no room on any configured chat platform (configured: none`},
		{"the console only", "console_tokens: [{token: t, person: alice}]\nteams: [{name: ops, members: [alice]}]\n", "(configured: web;"},
		{"a room on a platform not configured", "console_tokens: [{token: t, person: alice}]\nteams: [{name: ops, members: [alice], rooms: {slack: C1}}]\n", "team ops has no room"},
		{"a room where the bot is", "slack: {bot_token: xoxb-1, signing_secret: s}\nteams: [{name: ops, members: [alice], rooms: {slack: C1}}]\n", ""},
		{"telegram's forum", "telegram: {bot_token: \"1:x\", long_polling: true}\nteams: [{name: ops, members: [alice], rooms: {telegram: \"-100\"}}]\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := parseOrRefuse(t, policy+c.yaml, "")
			w := cfg.Warnings()
			if c.want == "" {
				if len(w) != 0 {
					t.Fatalf("warnings = %q, want none", w)
				}
				return
			}
			if len(w) != 1 || !strings.Contains(w[0], c.want) {
				t.Fatalf("warnings = %q, want one saying %q", w, c.want)
			}
		})
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("default_route: {team: ops}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOT_LISTEN", "127.0.0.1:9999")
	t.Setenv("BOT_DB", "/tmp/x.db")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Database != "/tmp/x.db" {
		t.Fatalf("overrides: listen=%s db=%s", c.Listen, c.Database)
	}
}

func TestDefaultBaseURL(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost:9000", "http://localhost:9000"},
		{"bot.internal:80", "http://bot.internal:80"},
		{":8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://127.0.0.1:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"10.1.2.3:443", "http://10.1.2.3:443"},
		{"no-port", "http://no-port"},
	}
	for _, c := range cases {
		if got := DefaultBaseURL(c.addr); got != c.want {
			t.Errorf("DefaultBaseURL(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// The links the bot hands out must name the address it serves on: the
// file's listen, BOT_LISTEN over it, then the port actually bound; a
// configured base_url wins over all of them.
func TestBaseURLFollowsTheServingAddress(t *testing.T) {
	cases := []struct {
		name, file, env, serving, want string
	}{
		{"file listen", "listen: 127.0.0.1:7000\n", "", "", "http://127.0.0.1:7000"},
		{"file listen on all interfaces", "listen: ':7000'\n", "", "", "http://127.0.0.1:7000"},
		{"BOT_LISTEN over the file", "listen: 127.0.0.1:7000\n", "127.0.0.1:9999", "", "http://127.0.0.1:9999"},
		{"BOT_LISTEN on all interfaces", "listen: 127.0.0.1:7000\n", "0.0.0.0:9999", "", "http://127.0.0.1:9999"},
		{"BOT_LISTEN without a file listen", "", "127.0.0.2:9999", "", "http://127.0.0.2:9999"},
		{"port 0 bound", "", "127.0.0.1:0", "127.0.0.1:41234", "http://127.0.0.1:41234"},
		{"all interfaces, port 0 bound", "listen: ':0'\n", "", "[::]:41234", "http://127.0.0.1:41234"},
		{"base_url wins over BOT_LISTEN", "listen: 127.0.0.1:7000\nbase_url: https://oncall.example.com\n", "127.0.0.1:9999", "127.0.0.1:9999", "https://oncall.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(c.file+"default_route: {team: ops}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("BOT_LISTEN", c.env)
			cfg, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.serving != "" {
				cfg.SetServingAddr(c.serving)
			}
			if cfg.BaseURL != c.want {
				t.Errorf("BaseURL = %q, want %q", cfg.BaseURL, c.want)
			}
			if derived := !strings.Contains(c.file, "base_url"); cfg.BaseURLDerived() != derived {
				t.Errorf("BaseURLDerived() = %v, want %v", cfg.BaseURLDerived(), derived)
			}
		})
	}
}

// A BaseURL set by hand after Parse, as the scenario harness does, is not
// taken for a derived one.
func TestSetServingAddrKeepsABaseURLSetByHand(t *testing.T) {
	c, err := Parse([]byte("default_route: {team: ops}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = "http://127.0.0.1:5555"
	c.SetServingAddr("127.0.0.1:6666")
	if c.BaseURL != "http://127.0.0.1:5555" || c.BaseURLDerived() {
		t.Errorf("BaseURL = %q (derived %v), want the one set by hand", c.BaseURL, c.BaseURLDerived())
	}
}

func TestParseDefaultsAndSecrets(t *testing.T) {
	t.Setenv("AM_TOKEN", "s3cret")
	c, err := Parse([]byte(`
# a comment mentioning ${NOT_SET} is left alone
integrations:
  - {name: am, format: alertmanager, token: "${AM_TOKEN}"}
routes:
  - {name: r, match: ['x="y$"'], team: ops, alert_delay: 90s, severity_max: warning}
default_route: {team: ops}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Integrations[0].Token != "s3cret" || c.Integrations[0].DefaultSeverity != ingest.SeverityError {
		t.Errorf("integration = %+v", c.Integrations[0])
	}
	r := c.Routes[0]
	if r.AlertDelay.Std() != 90*time.Second || *r.SeverityMax != ingest.SeverityWarning || r.Match[0] != `x="y$"` ||
		r.EscalationPolicy != "default" || len(r.GroupBy) != 1 || r.GroupBy[0] != "alertname" {
		t.Errorf("route = %+v", r)
	}
	if r.Storm != nil {
		t.Errorf("storm mode is on without being asked for: %+v", r.Storm)
	}
	if c.ReopenWindow.Std() != 5*time.Minute || c.DefaultRoute.Name != "default" || c.BaseURL != "http://127.0.0.1:8080" {
		t.Errorf("defaults: reopen=%v default=%s base=%s", c.ReopenWindow, c.DefaultRoute.Name, c.BaseURL)
	}
}

func TestStormModeDefaults(t *testing.T) {
	c, err := Parse([]byte("default_route: {team: ops, storm: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st := c.DefaultRoute.Storm; st == nil || st.After != 20 || st.Within.Std() != 5*time.Minute {
		t.Errorf("storm = %+v, want 20 incidents within 5m", st)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "default_route: {team: ops}\nroutez: []\n", "routez"},
		{"bad format", "default_route: {team: ops}\nintegrations: [{name: a, format: nagios, token: t}]\n", `format "nagios"`},
		{"no token", "default_route: {team: ops}\nintegrations: [{name: a, format: generic}]\n", "token is required"},
		{"duplicate integration", "default_route: {team: ops}\nintegrations: [{name: a, format: generic, token: t}, {name: a, format: generic, token: t}]\n", "duplicate"},
		{"no default team", "routes: []\n", "default_route: team is required"},
		{"unknown team", "teams: [{name: ops}]\ndefault_route: {team: web}\n", `team "web" is not defined`},
		{"unknown member", "people: [{name: a}]\nteams: [{name: ops, members: [a, zed]}]\ndefault_route: {team: ops}\n", `"zed" is not in people`},
		{"bad zone", "people: [{name: a, time_zone: Mars/Olympus}]\ndefault_route: {team: ops}\n", "time_zone"},
		{"bad duration", "reopen_window: soon\ndefault_route: {team: ops}\n", "soon"},
		{"bad severity", "default_route: {team: ops, severity_max: apocalyptic}\n", "apocalyptic"},
		{"empty match", "routes: [{name: r, team: ops}]\ndefault_route: {team: ops}\n", "match is empty"},
		{"missing env", "default_route: {team: '${NO_SUCH_VAR_X}'}\n", "NO_SUCH_VAR_X"},
		{"unknown schedule", "teams: [{name: ops, schedule: nope}]\ndefault_route: {team: ops}\n", `schedule "nope" is not defined`},
		{"bad schedule zone", "schedules: [{name: s, time_zone: Nowhere/X, layers: [{rotation: daily, start: '2026-01-01 09:00'}]}]\ndefault_route: {team: ops}\n", "IANA"},
		{"target with two kinds", "people: [{name: a}]\nteams: [{name: ops}]\nescalation_policies: [{name: p, steps: [{targets: [{user: a, team: ops}]}]}]\ndefault_route: {team: ops, escalation_policy: p}\n", "exactly one"},
		{"unknown policy on route", "teams: [{name: ops}]\nescalation_policies: [{name: p, steps: [{targets: [{team: ops}]}]}]\ndefault_route: {team: ops, escalation_policy: q}\n", `escalation_policy "q"`},
		{"bad notify method", "people: [{name: a, notify: [{method: pigeon}]}]\ndefault_route: {team: ops}\n", "pigeon"},
		{"storm of one", "default_route: {team: ops, storm: {after: 1}}\n", "storm.after must be at least 2"},
		{"storm gone before it began", "default_route: {team: ops, storm: {after: 5, within: -1m}}\n", "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestSlackCredentialsDependOnTheTransport(t *testing.T) {
	cases := []struct {
		name, slack, want string // want "" means accepted
	}{
		{"http with signing secret", `{bot_token: xoxb-1, signing_secret: s}`, ""},
		{"http without signing secret", `{bot_token: xoxb-1}`, "signing_secret are required"},
		{"http needs no app token", `{bot_token: xoxb-1, signing_secret: s, app_token: xapp-1}`, ""},
		{"socket mode without signing secret", `{bot_token: xoxb-1, socket_mode: true, app_token: xapp-1-A1-2-abc}`, ""},
		{"socket mode with signing secret too", `{bot_token: xoxb-1, signing_secret: s, socket_mode: true, app_token: xapp-1}`, ""},
		{"socket mode without app token", `{bot_token: xoxb-1, signing_secret: s, socket_mode: true}`, "app-level app_token"},
		{"socket mode with a bot token as app token", `{bot_token: xoxb-1, socket_mode: true, app_token: xoxb-1}`, "xapp-"},
		{"socket mode without bot token", `{socket_mode: true, app_token: xapp-1}`, "socket_mode needs bot_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte("default_route: {team: ops}\nslack: " + c.slack + "\n"))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			case c.want == "" && strings.Contains(c.slack, "socket_mode: true") && !cfg.Slack.SocketMode:
				t.Fatalf("socket_mode not read: %+v", cfg.Slack)
			}
		})
	}
}

func TestTelegramWebhookSecretUnlessLongPolling(t *testing.T) {
	tests := []struct {
		name, telegram, wantErr string
	}{
		{"webhook with its secret", "{bot_token: t, webhook_secret: s}", ""},
		{"webhook without a secret", "{bot_token: t}", "webhook_secret is required"},
		{"long polling needs no secret", "{bot_token: t, long_polling: true}", ""},
		{"long polling still needs the token", "{long_polling: true}", "bot_token is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("default_route: {team: ops}\ntelegram: " + tt.telegram + "\n"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Contains(tt.telegram, "long_polling: true"); c.Telegram.LongPolling != want {
				t.Fatalf("long_polling = %v, want %v", c.Telegram.LongPolling, want)
			}
		})
	}
}

func TestDiscordPublicKeyUnlessGateway(t *testing.T) {
	tests := []struct {
		name, discord, wantErr string
	}{
		{"http endpoint with its key", "{bot_token: t, public_key: k}", ""},
		{"http endpoint without a key", "{bot_token: t}", "public_key is required"},
		{"gateway needs no key", "{bot_token: t, gateway: true}", ""},
		{"gateway beside the endpoint", "{bot_token: t, public_key: k, gateway: true}", ""},
		{"gateway still needs the token", "{gateway: true}", "bot_token is required"},
		{"endpoint still needs the token", "{public_key: k}", "bot_token is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("default_route: {team: ops}\ndiscord: " + tt.discord + "\n"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Contains(tt.discord, "gateway: true"); c.Discord.Gateway != want {
				t.Fatalf("gateway = %v, want %v", c.Discord.Gateway, want)
			}
		})
	}
}

func TestConsoleSessionLength(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       time.Duration
		wantErr    string
	}{
		{"default", "", 12 * time.Hour, ""},
		{"set", "console_session: 30m\n", 30 * time.Minute, ""},
		{"days in hours", "console_session: 168h\n", 168 * time.Hour, ""},
		{"zero", "console_session: 0s\n", 0, "console_session must be longer than zero"},
		{"negative", "console_session: -1h\n", 0, "negative"},
		{"not a duration", "console_session: forever\n", 0, "forever"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.yaml + "default_route: {team: ops}\n"))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ConsoleSession.Std(); got != c.want {
				t.Fatalf("console_session = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMetricsToken(t *testing.T) {
	const base = "default_route: {team: ops}\n"
	cases := []struct {
		name, yaml, env string
		want            string // MetricsBearer
		err             string // or the error
	}{
		{name: "not set: /metrics is open", yaml: base, want: ""},
		{name: "null: as not set", yaml: base + "metrics_token:\n", want: ""},
		{name: "set", yaml: base + "metrics_token: prometheus-scrape-0123\n", want: "prometheus-scrape-0123"},
		{name: "from the environment", yaml: base + "metrics_token: ${METRICS_TOKEN_T}\n", env: "from-env-0123456789", want: "from-env-0123456789"},
		{name: "empty", yaml: base + "metrics_token: \"\"\n", err: "metrics_token is empty"},
		{name: "empty from the environment", yaml: base + "metrics_token: ${METRICS_TOKEN_T}\n", env: "", err: "metrics_token is empty"},
		{name: "too short", yaml: base + "metrics_token: short\n", err: "at least 16 characters"},
		{name: "a space", yaml: base + "metrics_token: \"prometheus scrape 0123\"\n", err: "must not contain spaces"},
		{name: "a tab", yaml: base + "metrics_token: \"prometheus-scrape\\t0123\"\n", err: "must not contain spaces"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("METRICS_TOKEN_T", c.env)
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			if got := cfg.MetricsBearer(); got != c.want {
				t.Errorf("MetricsBearer() = %q, want %q", got, c.want)
			}
		})
	}
}

// parseOrRefuse parses yaml. With wantErr set it checks that parsing
// fails naming it, and returns nil.
func parseOrRefuse(t *testing.T, yaml, wantErr string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(yaml))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to mention %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// smtp.require_tls defaults to on when a password is set (credentials
// never go in the clear), off otherwise; an explicit value wins.
func TestSMTPRequireTLS(t *testing.T) {
	const base = "default_route: {team: ops}\nsmtp: {addr: \"smtp.example.com:587\", from: bot@example.com"
	cases := []struct {
		name, yaml, env string
		want            bool
		err             string
	}{
		{name: "no password: off", yaml: base + "}\n", want: false},
		{name: "username, no password: off", yaml: base + ", username: bot}\n", want: false},
		{name: "password: on", yaml: base + ", username: bot, password: s3cret}\n", want: true},
		{name: "password from the environment: on", yaml: base + ", username: bot, password: \"${SMTP_PASSWORD_T}\"}\n", env: "s3cret", want: true},
		{name: "password empty from the environment: off", yaml: base + ", username: bot, password: \"${SMTP_PASSWORD_T}\"}\n", env: "", want: false},
		{name: "null: as not set", yaml: base + ", password: s3cret, require_tls: null}\n", want: true},
		{name: "password, explicit false: off", yaml: base + ", username: bot, password: s3cret, require_tls: false}\n", want: false},
		{name: "no password, explicit true: on", yaml: base + ", require_tls: true}\n", want: true},
		{name: "not a boolean", yaml: base + ", require_tls: sometimes}\n", err: "sometimes"},
		{name: "addr still required", yaml: "default_route: {team: ops}\nsmtp: {from: bot@example.com, require_tls: true}\n", err: "smtp: addr and from are required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SMTP_PASSWORD_T", c.env)
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			if got := cfg.SMTP.TLSRequired(); got != c.want {
				t.Errorf("TLSRequired() = %v, want %v", got, c.want)
			}
			if cfg.SMTP.RequireTLS == nil || *cfg.SMTP.RequireTLS != c.want {
				t.Errorf("RequireTLS = %v after Parse, want it filled in as %v", cfg.SMTP.RequireTLS, c.want)
			}
		})
	}
}

func TestTokenLengthsDependOnWhoCanReachTheBot(t *testing.T) {
	const tokens = "api_tokens: [{name: ci, token: %s}]\n" +
		"integrations: [{name: am, format: alertmanager, token: %s}]\n" +
		"people: [{name: alice}]\nconsole_tokens: [{token: %s, person: alice}]\n" +
		"default_route: {team: ops}\n"
	long := "0123456789abcdef"
	cases := []struct {
		name, head       string
		api, hook, conse string
		err              []string // every one named, or none
	}{
		{name: "loopback listen, short tokens (the demo)", head: "listen: 127.0.0.1:8080\n", api: "demo", hook: "demo", conse: "demo"},
		{name: "localhost with a loopback base_url", head: "listen: localhost:8080\nbase_url: http://localhost:8080\n", api: "demo", hook: "demo", conse: "demo"},
		{name: "IPv6 loopback", head: "listen: '[::1]:8080'\n", api: "demo", hook: "demo", conse: "demo"},
		{name: "every interface, short tokens", head: "listen: 0.0.0.0:8080\n", api: "demo", hook: "hook", conse: "c",
			err: []string{"api_tokens[0] (ci): the token is 4 characters", `integration "am": the token is 4 characters`, "console_tokens[0] (alice): the token is 1 characters", "at least 16"}},
		{name: "every interface, long tokens", head: "listen: 0.0.0.0:8080\n", api: long, hook: long, conse: long},
		{name: "loopback behind a public base_url (a proxy in front)", head: "listen: 127.0.0.1:8080\nbase_url: https://oncall.example.com\n", api: long, hook: "short", conse: long,
			err: []string{`integration "am": the token is 5 characters`}},
		{name: "no listen address: the default is loopback", head: "", api: "short", hook: "short", conse: "short"},
		{name: "an interface's own address", head: "listen: 192.0.2.10:8080\n", api: "short", hook: long, conse: long, err: []string{"api_tokens[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bot.yaml")
			if err := os.WriteFile(path, []byte(c.head+fmt.Sprintf(tokens, c.api, c.hook, c.conse)), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("BOT_LISTEN", "")
			_, err := Load(path)
			if len(c.err) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("short tokens accepted")
			}
			for _, want := range c.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestBOTListenDecidesTokenLengths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:8080\napi_tokens: [{name: ci, token: demo}]\ndefault_route: {team: ops}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOT_LISTEN", ":8080")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "api_tokens[0]") {
		t.Fatalf("BOT_LISTEN on every interface with a 4-character token: err = %v", err)
	}
}

func TestTrustedProxiesAndConsoleVisibility(t *testing.T) {
	const base = "default_route: {team: ops}\n"
	cases := []struct {
		name, yaml, err string
		proxies         []string
		visibility      string
	}{
		{name: "defaults", yaml: base, visibility: "all"},
		{name: "addresses and prefixes", yaml: base + "trusted_proxies: [10.0.0.0/8, 192.168.1.7, '::1', '2001:db8::/32']\nconsole_visibility: teams\n",
			proxies: []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "2001:db8::/32"}, visibility: "teams"},
		{name: "a prefix with host bits is masked", yaml: base + "trusted_proxies: [10.1.2.3/8]\n", proxies: []string{"10.0.0.0/8"}, visibility: "all"},
		{name: "not an address", yaml: base + "trusted_proxies: [proxy.example.com]\n", err: `trusted_proxies[0]: "proxy.example.com" is neither`},
		{name: "unknown visibility", yaml: base + "console_visibility: mine\n", err: `console_visibility: "mine" is not "all" or "teams"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			var got []string
			for _, p := range cfg.TrustedProxyPrefixes() {
				got = append(got, p.String())
			}
			if !slices.Equal(got, c.proxies) {
				t.Errorf("trusted proxies = %v, want %v", got, c.proxies)
			}
			if cfg.ConsoleVisibility != c.visibility {
				t.Errorf("console_visibility = %q, want %q", cfg.ConsoleVisibility, c.visibility)
			}
		})
	}
}

func TestAPITokenScopes(t *testing.T) {
	const base = "default_route: {team: ops}\nteams: [{name: ops}, {name: dba}]\n"
	cfg := parseOrRefuse(t, base+"api_tokens:\n"+
		"  - {name: all, token: t1}\n"+
		"  - {name: reader, token: t2, scopes: [read]}\n"+
		"  - {name: responder, token: t3, scopes: [respond]}\n"+
		"  - {name: ops-rota, token: t4, scopes: ['schedule:ops']}\n"+
		"  - {name: rota, token: t5, scopes: [schedule]}\n"+
		"  - {name: admin, token: t6, scopes: [admin]}\n", "")
	byName := map[string]APIToken{}
	for _, tok := range cfg.APITokens {
		byName[tok.Name] = tok
	}
	cases := []struct {
		token string
		scope Scope
		team  string
		want  bool
	}{
		{"all", ScopeAdmin, "", true},
		{"reader", ScopeRead, "", true},
		{"reader", ScopeRespond, "", false},
		{"reader", ScopeSchedule, "ops", false},
		{"responder", ScopeRead, "", true},
		{"responder", ScopeRespond, "", true},
		{"responder", ScopeSchedule, "ops", false},
		{"responder", ScopeAdmin, "", false},
		{"ops-rota", ScopeRead, "", true},
		{"ops-rota", ScopeSchedule, "ops", true},
		{"ops-rota", ScopeSchedule, "dba", false},
		{"ops-rota", ScopeSchedule, "", false},
		{"ops-rota", ScopeRespond, "", false},
		{"rota", ScopeSchedule, "dba", true},
		{"rota", ScopeSchedule, "", true},
		{"rota", ScopeAdmin, "", false},
		{"admin", ScopeRespond, "", true},
		{"admin", ScopeSchedule, "dba", true},
	}
	for _, c := range cases {
		if got := byName[c.token].Allows(c.scope, c.team); got != c.want {
			t.Errorf("%s.Allows(%s, %q) = %v, want %v", c.token, c.scope, c.team, got, c.want)
		}
	}
	for _, bad := range []struct{ yaml, err string }{
		{"api_tokens: [{name: x, token: t, scopes: [write]}]\n", `api_tokens[0].scopes[0]: "write" is not a scope`},
		{"api_tokens: [{name: x, token: t, scopes: ['schedule:nope']}]\n", `api_tokens[0].scopes[0]: "schedule:nope" names no team`},
		{"api_tokens: [{name: x, token: t, scopes: ['schedule:']}]\n", `"schedule:" is not a scope`},
	} {
		parseOrRefuse(t, base+bad.yaml, bad.err)
	}
}

func TestTriageAI(t *testing.T) {
	const base = "default_route: {team: ops}\ntriage:\n  ai: "
	cases := []struct {
		name, yaml, env string
		err             string
	}{
		{name: "a local model", yaml: base + "{base_url: \"http://127.0.0.1:11434/v1\", model: llama3}\n"},
		{name: "key from the environment", yaml: base + "{base_url: \"https://api.example/v1\", model: m, api_key: \"${AI_KEY_T}\", daily_tokens: 200000, timeout: 12s, redact: ['cust-\\d+']}\n", env: "sk-test"},
		{name: "no URL", yaml: base + "{model: m}\n", err: "triage.ai: base_url is missing"},
		{name: "not http", yaml: base + "{base_url: \"ftp://x\", model: m}\n", err: "is not an http(s) URL"},
		{name: "no model", yaml: base + "{base_url: \"http://127.0.0.1/v1\"}\n", err: "triage.ai: model is missing"},
		{name: "negative budget", yaml: base + "{base_url: \"http://127.0.0.1/v1\", model: m, daily_tokens: -1}\n", err: "daily_tokens: -1 is negative"},
		{name: "too long", yaml: base + "{base_url: \"http://127.0.0.1/v1\", model: m, timeout: 30s}\n", err: "triage.ai.timeout: 30s is over 14s"},
		{name: "a bad pattern", yaml: base + "{base_url: \"http://127.0.0.1/v1\", model: m, redact: ['(']}\n", err: "triage.ai.redact[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AI_KEY_T", c.env)
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			if cfg.Triage.AI == nil || cfg.Triage.AI.Model == "" {
				t.Fatalf("triage.ai = %+v", cfg.Triage.AI)
			}
			if c.env != "" && cfg.Triage.AI.APIKey != c.env {
				t.Errorf("api_key = %q, want it from the environment", cfg.Triage.AI.APIKey)
			}
		})
	}
}

func TestTriageKubernetes(t *testing.T) {
	const base = "default_route: {team: ops}\ntriage:\n  kubernetes: "
	cases := []struct {
		name, yaml string
		want       TriageKubernetes
		err        string
	}{
		{name: "in cluster", yaml: base + "{in_cluster: true}\n", want: TriageKubernetes{InCluster: true}},
		{name: "a kubeconfig", yaml: base + "{kubeconfig: /etc/oncall-bot/kubeconfig, log_lines: 50}\n", want: TriageKubernetes{Kubeconfig: "/etc/oncall-bot/kubeconfig", LogLines: 50}},
		{name: "neither", yaml: base + "{log_lines: 10}\n", err: "triage.kubernetes: set exactly one of kubeconfig"},
		{name: "both", yaml: base + "{kubeconfig: /k, in_cluster: true}\n", err: "triage.kubernetes: set exactly one of kubeconfig"},
		{name: "negative log lines", yaml: base + "{in_cluster: true, log_lines: -1}\n", err: "triage.kubernetes.log_lines: -1 is negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			if cfg.Triage.Kubernetes == nil || *cfg.Triage.Kubernetes != c.want {
				t.Errorf("triage.kubernetes = %+v, want %+v", cfg.Triage.Kubernetes, c.want)
			}
		})
	}
}

func TestRouteTriageSources(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
		err        string
	}{
		{name: "all by default", yaml: "default_route: {team: ops}\n"},
		{name: "a few", yaml: "default_route: {team: ops, triage_sources: [history, logs]}\n", want: []string{"history", "logs"}},
		{name: "a typo", yaml: "default_route: {team: ops, triage_sources: [history, promethus]}\n", err: `triage_sources[1]: unknown source "promethus" (did you mean "prometheus"?)`},
		{name: "on a route", yaml: "default_route: {team: ops}\nroutes: [{match: ['env=\"staging\"'], team: ops, triage_sources: [gpt]}]\n", err: `unknown source "gpt"`},
		{name: "on an integration", yaml: "default_route: {team: ops}\nintegrations: [{name: zbx, format: zabbix, token: t, triage_sources: [history, kubernets]}]\n",
			err: `integrations[0].triage_sources[1]: unknown source "kubernets" (did you mean "kubernetes"?)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := parseOrRefuse(t, c.yaml, c.err)
			if cfg == nil {
				return
			}
			if !slices.Equal(cfg.DefaultRoute.TriageSources, c.want) {
				t.Errorf("triage_sources = %q, want %q", cfg.DefaultRoute.TriageSources, c.want)
			}
		})
	}
}
