// Package config reads the bot's YAML configuration: one file, or many
// (one per team, say) whose lists are merged. It checks the files' shape
// and cross-references (a route names a known team, a token is not empty),
// across files, naming the file:line:column of each problem; the packages
// that use a section compile it further (routes' label matchers in
// incident, for instance) and report errors by name.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oncallbot/bot/internal/ingest"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP address (BOT_LISTEN overrides it).
	Listen string `yaml:"listen"`
	// Database is the SQLite file (BOT_DB overrides it).
	Database string `yaml:"database"`
	// BaseURL is how the outside world reaches the bot, for links (calendar
	// feeds, links in messages, Twilio callbacks). Without base_url it is
	// DefaultBaseURL of the address the bot listens on, and follows that
	// address through BOT_LISTEN and SetServingAddr.
	BaseURL string `yaml:"base_url"`
	// ReopenWindow: an alert of a resolved incident that fires again within
	// this window reopens the incident; later it opens a new one.
	ReopenWindow Duration `yaml:"reopen_window"`
	// TrustedProxies are the addresses (an IP or a CIDR prefix) of the
	// reverse proxies in front of the bot. A request from one of them is
	// counted, for the limits on failed sign-ins, as coming from the
	// address its X-Forwarded-For names; from anywhere else the header is
	// ignored, since any client can send it.
	TrustedProxies []string `yaml:"trusted_proxies"`

	APITokens []APIToken `yaml:"api_tokens"`
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (Authorization: Bearer <token>); without it /metrics is open to
	// anyone who reaches the bot. A key that is present but empty (an
	// empty ${NAME}) is an error rather than an open endpoint.
	MetricsToken *string `yaml:"metrics_token"`

	Integrations []Integration `yaml:"integrations"`
	// Routes are tried in order, the first match wins. Across the files
	// of LoadPaths the order is the files' order, then each file's own.
	Routes             []Route            `yaml:"routes"`
	DefaultRoute       Route              `yaml:"default_route"`
	People             []Person           `yaml:"people"`
	Teams              []Team             `yaml:"teams"`
	Schedules          []Schedule         `yaml:"schedules"`
	EscalationPolicies []EscalationPolicy `yaml:"escalation_policies"`
	Webhooks           []Webhook          `yaml:"webhooks"`
	// Twilio, when set, sends SMS and places calls (methods sms, voice).
	Twilio *Twilio `yaml:"twilio"`
	// SMTP, when set, sends email (method email).
	SMTP *SMTP `yaml:"smtp"`
	// ConsoleTokens sign people in to the web console; with none, the
	// console is off.
	ConsoleTokens []ConsoleToken `yaml:"console_tokens"`
	// ConsoleSession is how long a console sign-in lasts (default 12h);
	// then the person signs in again.
	ConsoleSession Duration `yaml:"console_session"`
	// ConsoleVisibility is which incidents the console lists and opens
	// for a person: "all" (the default: in an outage every responder sees
	// the whole picture, as in PagerDuty's and Grafana OnCall's default)
	// or "teams" (only the incidents of the teams the person is a member
	// or lead of; others answer 404). Acting on another team's incident
	// is refused either way.
	ConsoleVisibility string `yaml:"console_visibility"`
	// Slack, when set, opens incident channels on Slack and takes its
	// slash command and buttons.
	Slack *Slack `yaml:"slack"`
	// Telegram, when set, opens a forum topic per incident.
	Telegram *Telegram `yaml:"telegram"`
	// Discord, when set, opens a private thread per incident.
	Discord *Discord `yaml:"discord"`
	// Triage, when set, triages each new incident off the paging path and
	// says what it found in the incident's room: the bot's own history of
	// similar incidents and a rule-based summary.
	Triage *Triage `yaml:"triage"`

	// trusted is TrustedProxies parsed.
	trusted []netip.Prefix

	// derivedBaseURL is the BaseURL that was derived from the listen
	// address, "" when base_url was configured. A BaseURL that no longer
	// equals it was set by hand and is left alone.
	derivedBaseURL string

	// src is where each object and setting came from, for the positions
	// in errors and SourceOf; nil for a Config built by hand.
	src *sources
}

// MinMetricsTokenLen is the shortest metrics_token accepted.
const MinMetricsTokenLen = MinTokenLen

// MinTokenLen is the shortest API, integration or console token a bot that
// others can reach accepts: 16 random characters are beyond any online
// guessing, and the limits on failed attempts make guessing slower still.
// A bot reachable only from its own machine (listen and base_url on
// loopback, as in the demo) may use shorter ones.
const MinTokenLen = 16

// Console visibility settings.
const (
	ConsoleVisibilityAll   = "all"
	ConsoleVisibilityTeams = "teams"
)

// TrustedProxyPrefixes is TrustedProxies parsed.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix { return c.trusted }

// MetricsBearer is the token /metrics asks for, "" when it is open.
func (c *Config) MetricsBearer() string {
	if c.MetricsToken == nil {
		return ""
	}
	return *c.MetricsToken
}

// DefaultBaseURL is the base URL of a bot that listens on addr and has no
// base_url: "http://" and addr, with a host that means every interface
// ("", "0.0.0.0", "::") replaced by 127.0.0.1, since no client can reach
// the bot at 0.0.0.0. A bot that other machines reach by another name needs
// base_url.
func DefaultBaseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}).String()
}

// BaseURLDerived reports whether BaseURL was derived from the listen
// address rather than configured.
func (c *Config) BaseURLDerived() bool {
	return c.BaseURL == "" || c.BaseURL == c.derivedBaseURL
}

// SetServingAddr records addr as the address the bot serves on (after
// BOT_LISTEN, with port 0 resolved to the bound port) and points a derived
// BaseURL at it. A configured base_url is left alone.
func (c *Config) SetServingAddr(addr string) {
	if !c.BaseURLDerived() {
		return
	}
	c.BaseURL = DefaultBaseURL(addr)
	c.derivedBaseURL = c.BaseURL
}

// Telegram is the Telegram bot's credentials. Teams name their forum
// supergroup in rooms.telegram; people their user id in telegram.
type Telegram struct {
	BotToken string `yaml:"bot_token"`
	// WebhookSecret is the secret_token given to setWebhook; updates
	// without it are refused. Not needed with LongPolling.
	WebhookSecret string `yaml:"webhook_secret"`
	// APIURL is the Bot API server (default https://api.telegram.org).
	APIURL string `yaml:"api_url"`
	// LongPolling fetches updates with getUpdates instead of taking the
	// webhook, for a bot that Telegram cannot reach; the bot deletes any
	// webhook set. The updates come back on the bot's own connection,
	// authenticated by its token, so no webhook secret is needed.
	LongPolling bool `yaml:"long_polling"`
}

// Discord is the Discord application's credentials. Teams name their
// incidents channel in rooms.discord; people their user id in discord.
type Discord struct {
	BotToken string `yaml:"bot_token"`
	// PublicKey is the application's Ed25519 key (hex), which signs
	// interactions sent to the HTTP endpoint. Optional with Gateway; the
	// endpoint is served only when it is set.
	PublicKey string `yaml:"public_key"`
	// APIURL replaces https://discord.com (a fake in tests).
	APIURL string `yaml:"api_url"`
	// Gateway takes interactions over the gateway's websocket, which the
	// bot opens with its token, so it needs no public URL.
	Gateway bool `yaml:"gateway"`
}

// Slack is the Slack app's credentials and choices.
type Slack struct {
	BotToken      string `yaml:"bot_token"`
	SigningSecret string `yaml:"signing_secret"`
	// APIURL is Slack's Web API (default https://slack.com/api/); point it
	// at a fake to test.
	APIURL string `yaml:"api_url"`
	// PrivateChannels makes incident channels private.
	PrivateChannels bool `yaml:"private_channels"`
	// SocketMode takes commands and button presses over a websocket the
	// bot opens (Slack's Socket Mode), so the bot needs no public URL.
	// It needs AppToken; SigningSecret is then optional, and the HTTP
	// endpoints are served only when it is set.
	SocketMode bool `yaml:"socket_mode"`
	// AppToken is the app-level token (xapp-..., scope connections:write)
	// that opens Socket Mode connections.
	AppToken string `yaml:"app_token"`
}

// TriageSourceNames are the triage's sources and analysis, as a route's
// triage_sources names them.
var TriageSourceNames = []string{"history", "prometheus", "kubernetes", "logs", "ai"}

// Triage configures the triage of new incidents.
type Triage struct {
	// Timeout bounds each source (default 10s): a slow one is reported
	// as failed and the rest stand.
	Timeout Duration `yaml:"timeout"`
	// Prometheus, when set, queries each alert's own expression (its
	// generatorURL's g0.expr, or an expr or query annotation) over the
	// hour before it fired and since.
	Prometheus *TriagePrometheus `yaml:"prometheus"`
	// Logs, when set, reads the last log lines around each alert.
	Logs *TriageLogs `yaml:"logs"`
	// AI, when set, asks an OpenAI-compatible chat endpoint for probable
	// cause, impact and next steps; the rule-based summary stands without.
	AI *TriageAI `yaml:"ai"`
	// Kubernetes, when set, asks the cluster about the workload an alert's
	// labels name (namespace and pod, deployment, statefulset, daemonset,
	// or node): its state, restarts, recent events and the failing
	// container's last log lines.
	Kubernetes *TriageKubernetes `yaml:"kubernetes"`
}

// TriageKubernetes is how triage reaches the cluster: exactly one of a
// kubeconfig file or the pod's own service account (in_cluster), read-only
// (manifests/triage-rbac.yaml grants what it reads).
type TriageKubernetes struct {
	// Kubeconfig is the path of a kubeconfig file; its current context is
	// used.
	Kubeconfig string `yaml:"kubeconfig"`
	// InCluster uses the service account of the pod the bot runs in.
	InCluster bool `yaml:"in_cluster"`
	// LogLines is how many of the failing container's last log lines to
	// read (default 20).
	LogLines int `yaml:"log_lines"`
}

// TriageAI is the OpenAI-compatible endpoint triage asks (a hosted model
// or a local one). What it is sent is redacted first: credentials,
// tokens, emails and IP addresses always, and the Redact patterns too.
type TriageAI struct {
	BaseURL string `yaml:"base_url"`
	Model   string `yaml:"model"`
	// APIKey may be ${ENV}; empty for local servers that take none.
	APIKey string `yaml:"api_key"`
	// Timeout bounds one question (default 10s, at most 14s: the
	// question is one outbox delivery, which has 15s).
	Timeout Duration `yaml:"timeout"`
	// DailyTokens is the most tokens a UTC day may use (0: no limit).
	DailyTokens int64 `yaml:"daily_tokens"`
	// Redact are extra regular expressions whose matches never leave.
	Redact []string `yaml:"redact"`
}

// TriageLogs is the log store triage reads: a URL template filled from
// the alert's labels ({{.Labels.app}}, {{.StartNS}}, {{.EndNS}}...).
type TriageLogs struct {
	URLTemplate string `yaml:"url_template"`
	// Lines is how many of the last lines to keep (default 10).
	Lines int `yaml:"lines"`
}

// TriagePrometheus is the Prometheus HTTP API triage queries.
type TriagePrometheus struct {
	URL string `yaml:"url"`
}

// ConsoleToken signs a person in to the web console.
type ConsoleToken struct {
	Token  string `yaml:"token"`
	Person string `yaml:"person"`
}

// SMTP is the mail server pages are sent through.
type SMTP struct {
	// Addr is host:port, e.g. smtp.example.com:587.
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	From     string `yaml:"from"`
	// RequireTLS refuses to send credentials or mail unless STARTTLS
	// secured the connection (a server that does not offer it fails the
	// delivery). Unset, it is on when a password is set, off otherwise;
	// Parse fills it in.
	RequireTLS *bool `yaml:"require_tls"`
}

// TLSRequired reports whether mail goes only over a STARTTLS-secured
// connection: require_tls as set, or, unset, whether a password is.
func (m *SMTP) TLSRequired() bool {
	if m.RequireTLS != nil {
		return *m.RequireTLS
	}
	return m.Password != ""
}

// Twilio is the SMS and voice provider's account.
type Twilio struct {
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	// From is the bot's Twilio number, E.164.
	From string `yaml:"from"`
	// BaseURL is Twilio's API (default https://api.twilio.com); point it
	// at a fake to test.
	BaseURL string `yaml:"base_url"`
}

// APIToken grants access to the REST API. Name is recorded as the actor of
// what the token does.
type APIToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// TokenRef is the token as written when it came from ${NAME}
	// ("${CI_TOKEN}"), "" when it was written literally: what an export
	// writes back, since the token itself must never leave the process.
	TokenRef string `yaml:"-"`
	// Scopes limit what the token may do (see Scope); none listed means
	// every scope, so a token written before scopes existed keeps working.
	Scopes []string `yaml:"scopes"`
}

// A Scope is what an API token may do:
//   - read: every GET of the API;
//   - respond: read, and act on incidents (ack, resolve, escalate, notes,
//     assign);
//   - schedule: read, and change who is on call (overrides, swaps, shifts
//     taken, rotation edits) on every team's schedules; "schedule:<team>"
//     on that team's schedules only;
//   - admin: everything, configuration included.
type Scope string

// The scopes.
const (
	ScopeRead     Scope = "read"
	ScopeRespond  Scope = "respond"
	ScopeSchedule Scope = "schedule"
	ScopeAdmin    Scope = "admin"
)

// Allows reports whether the token may use scope, for team when the scope
// is schedule (team "" asks for every team's schedules).
func (t APIToken) Allows(scope Scope, team string) bool {
	if len(t.Scopes) == 0 {
		return true
	}
	for _, s := range t.Scopes {
		switch {
		case Scope(s) == ScopeAdmin, Scope(s) == scope:
			return true
		case scope == ScopeRead && (Scope(s) == ScopeRespond || Scope(s) == ScopeSchedule || strings.HasPrefix(s, "schedule:")):
			return true
		case scope == ScopeSchedule && team != "" && s == "schedule:"+team:
			return true
		}
	}
	return false
}

// Integration is one monitoring source posting to /hooks/{name}.
type Integration struct {
	Name   string `yaml:"name"`
	Format string `yaml:"format"`
	Token  string `yaml:"token"`
	// TokenRef is the token as written when it came from ${NAME}
	// ("${AM_TOKEN}"), "" when it was written literally: what an export
	// writes back, since the token itself must never leave the process.
	TokenRef string `yaml:"-"`
	// DefaultSeverity applies to alerts that carry none (default "error",
	// as Alertmanager's own PagerDuty receiver does).
	DefaultSeverity ingest.Severity `yaml:"default_severity"`
	// Triage: false turns triage off for the incidents the integration's
	// alerts open, whatever their route says (a monitoring system whose
	// alerts carry nothing to dig into).
	Triage *bool `yaml:"triage"`
	// TriageSources, when set, are the only triage sources the
	// integration's incidents get (of TriageSourceNames); with a route's
	// own list too, only the sources on both.
	TriageSources []string `yaml:"triage_sources"`
}

// Route sends matching alerts to a team. Routes are tried in order (across
// files, in the order LoadPaths reads them); the first match wins, and
// DefaultRoute takes the rest.
type Route struct {
	Name string `yaml:"name"`
	// Match lists label matchers that must all hold: name="v", name!="v",
	// name=~"regex", name!~"regex" (regexes are anchored).
	Match            []string `yaml:"match"`
	Team             string   `yaml:"team"`
	EscalationPolicy string   `yaml:"escalation_policy"`
	// GroupBy names the labels whose values split alerts into incidents.
	// Default [alertname]; ["..."] makes one incident per alert.
	GroupBy []string `yaml:"group_by"`
	// AlertDelay: no page until an alert has fired this long.
	AlertDelay Duration `yaml:"alert_delay"`
	// SeverityMax caps the severity of the route's alerts (a staging route
	// that never pages at critical, say).
	SeverityMax *ingest.Severity `yaml:"severity_max"`
	// Triage: false turns triage off for the route's incidents (it is on
	// for every route when the triage section is set).
	Triage *bool `yaml:"triage"`
	// TriageSources, when set, are the only triage sources the route's
	// incidents get (of TriageSourceNames): a staging route may skip the
	// AI, a team without Kubernetes its cluster.
	TriageSources []string `yaml:"triage_sources"`
	// Storm, when set, turns on storm mode: past a number of new
	// incidents of the route's team in a while, further new incidents
	// join one storm incident (one room, one page) instead of each
	// opening a room and paging. Off by default.
	Storm *Storm `yaml:"storm"`
}

// Storm is a route's storm mode: once After new incidents of its team
// opened within Within, the next ones join the route's storm incident
// until it is resolved.
type Storm struct {
	After  int      `yaml:"after"`
	Within Duration `yaml:"within"`
}

// Person is someone who can be paged.
type Person struct {
	Name     string `yaml:"name"`
	FullName string `yaml:"full_name"`
	TimeZone string `yaml:"time_zone"`
	Email    string `yaml:"email"`
	Phone    string `yaml:"phone"`
	// Webhook receives this person's pages as JSON (method webhook).
	Webhook string `yaml:"webhook"`
	// Chat identities, so a page can be a direct message.
	Slack    string `yaml:"slack"`
	Telegram string `yaml:"telegram"`
	Discord  string `yaml:"discord"`
	// Notify is the person's own rule for a page: each method after its
	// delay, until someone acknowledges. NotifyImportant replaces it for
	// pages at or above the important severity (critical by default).
	Notify          []NotifyStep `yaml:"notify"`
	NotifyImportant []NotifyStep `yaml:"notify_important"`
}

// NotifyStep is one contact method of a notification rule.
type NotifyStep struct {
	// Method is chat, sms, voice, email or webhook.
	Method string   `yaml:"method"`
	After  Duration `yaml:"after"`
	// Mode is managed (the default: the bot pages on incident
	// transitions, after the delays, within the rate limit) or
	// allnotifications (every raw alert event of the person's teams goes
	// out through this method at once, as a pager that wants everything).
	Mode string `yaml:"mode"`
	// RateLimit is the least time between two pages by this method to
	// this person; a page that comes sooner waits for it.
	RateLimit Duration `yaml:"rate_limit"`
	// Enabled limits the method to a time window, such as business
	// hours; outside it the method is skipped and the rule goes on.
	Enabled *Condition `yaml:"enabled"`
}

// NotifyMethods are the contact methods a notification rule may use.
var NotifyMethods = []string{"chat", "sms", "voice", "email", "webhook"}

// Team owns incidents, a schedule and an escalation policy.
type Team struct {
	Name    string   `yaml:"name"`
	Members []string `yaml:"members"`
	Leads   []string `yaml:"leads"`
	// Schedule names the team's on-call schedule.
	Schedule string `yaml:"schedule"`
	// EscalationPolicy is the team's default policy.
	EscalationPolicy string `yaml:"escalation_policy"`
	// Rooms are the team's chat rooms, by platform.
	Rooms Rooms `yaml:"rooms"`
}

// Rooms names a team's room on each chat platform.
type Rooms struct {
	Slack    string `yaml:"slack"`
	Telegram string `yaml:"telegram"`
	Discord  string `yaml:"discord"`
}

// RoomPlatforms are the chat platforms on which a team can have a room of
// its own (rooms.<platform>); the web console has incident rooms only.
var RoomPlatforms = []string{"slack", "telegram", "discord"}

// On returns the team's room on platform, "" when it has none there.
func (r Rooms) On(platform string) string {
	switch platform {
	case "slack":
		return r.Slack
	case "telegram":
		return r.Telegram
	case "discord":
		return r.Discord
	}
	return ""
}

// ChatPlatforms lists the chat platforms configured (slack, telegram,
// discord; the web console when console tokens are set).
func (c *Config) ChatPlatforms() []string {
	var out []string
	if c.Slack != nil {
		out = append(out, "slack")
	}
	if c.Telegram != nil {
		out = append(out, "telegram")
	}
	if c.Discord != nil {
		out = append(out, "discord")
	}
	if len(c.ConsoleTokens) > 0 {
		out = append(out, "web")
	}
	return out
}

// Warnings lists what is valid but will not work as written: an escalation
// step's room target whose team has no room on any configured chat
// platform (each such step is recorded as undeliverable on the incident's
// timeline, once per incident, and the team's leads are told). `bot check`
// prints them and the bot logs them at start.
func (c *Config) Warnings() []string {
	platforms := c.ChatPlatforms()
	var out []string
	for _, p := range c.EscalationPolicies {
		for i, st := range p.Steps {
			for j, t := range st.Targets {
				if t.Room == "" {
					continue
				}
				team, _ := c.team(t.Room)
				has := false
				for _, pl := range platforms {
					has = has || team.Rooms.On(pl) != ""
				}
				if !has {
					out = append(out, fmt.Sprintf("escalation policy %q, step %d, target %d: {room: %s}: team %s has no room on any configured chat platform (configured: %s; set rooms.slack, rooms.telegram or rooms.discord; the web console has no team rooms), so this target will only be recorded as undeliverable",
						p.Name, i+1, j+1, t.Room, t.Room, orNone(platforms)))
				}
			}
		}
	}
	return out
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func (c *Config) team(name string) (Team, bool) {
	for _, t := range c.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return Team{}, false
}

// Schedule is a stack of rotation layers in one zone; later layers win.
type Schedule struct {
	Name     string  `yaml:"name"`
	TimeZone string  `yaml:"time_zone"`
	Layers   []Layer `yaml:"layers"`
}

// Layer is one rotation of a schedule.
type Layer struct {
	Name string `yaml:"name"`
	// Rotation is hourly, daily, weekly or monthly; Every is how many of
	// those one shift lasts (default 1): rotation hourly, every 12 is a
	// 12-hour shift.
	Rotation string `yaml:"rotation"`
	Every    int    `yaml:"every"`
	// Start is the first handoff, local time in the schedule's zone:
	// "2026-01-05 09:00".
	Start        string   `yaml:"start"`
	Participants []string `yaml:"participants"`
	// Windows restrict the layer, e.g. business hours.
	Windows []Window `yaml:"windows"`
	// ICal takes the layer's shifts from a calendar instead of a
	// rotation: each event is a shift, its summary names the person.
	ICal *ICalSource `yaml:"ical"`
}

// ICalSource is a calendar to import a layer from: a file, or a URL read
// at start and every hour.
type ICalSource struct {
	File string `yaml:"file"`
	URL  string `yaml:"url"`
}

// Window is a time-of-day range on some weekdays ("mon".."sun"); To before
// From runs past midnight.
type Window struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

// EscalationPolicy is how a page climbs until someone acknowledges.
type EscalationPolicy struct {
	Name string `yaml:"name"`
	// Repeat runs the whole policy this many more times when its last
	// step goes unanswered.
	Repeat int              `yaml:"repeat"`
	Steps  []EscalationStep `yaml:"steps"`
}

// EscalationStep notifies its targets, then waits Delay before the next.
type EscalationStep struct {
	Delay   Duration `yaml:"delay"`
	Targets []Target `yaml:"targets"`
	// When makes the step conditional; a step whose condition fails is
	// skipped.
	When *Condition `yaml:"when"`
}

// Target is exactly one of: the on-call of a schedule, a person, a whole
// team, or a team's chat room.
type Target struct {
	Schedule string `yaml:"schedule"`
	User     string `yaml:"user"`
	Team     string `yaml:"team"`
	Room     string `yaml:"room"`
}

// Condition limits a step to a time window and/or a minimum severity.
type Condition struct {
	Window          *Window          `yaml:"window"`
	TimeZone        string           `yaml:"time_zone"`
	SeverityAtLeast *ingest.Severity `yaml:"severity_at_least"`
}

// Webhook is an outgoing webhook that receives incident events.
type Webhook struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Secret signs each delivery (X-Bot-Signature: sha256=HMAC).
	Secret string `yaml:"secret"`
	// SecretRef is the secret as written when it came from ${NAME}
	// ("${HOOK_SECRET}"), "" when it was written literally: what an
	// export writes back, since the secret itself must never leave the
	// process.
	SecretRef string `yaml:"-"`
	// Events filters by event kind, such as incident.triggered; empty
	// means all.
	Events []string `yaml:"events"`
	// Teams filters by owning team; empty means all.
	Teams []string `yaml:"teams"`
}

// Duration is a time.Duration written as "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go duration syntax.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// CheckTokenLengths refuses tokens shorter than MinTokenLen unless the bot
// is reachable only from its own machine: it listens on a loopback address
// and its base_url names one. It runs once the listen address is final
// (after BOT_LISTEN), since that decides.
func (c *Config) CheckTokenLengths() error {
	if c.LocalOnly() {
		return nil
	}
	var errs []error
	short := func(p place, field, token string) {
		if token != "" && len(token) < MinTokenLen {
			errs = append(errs, &FieldError{File: p.file, Line: p.line, Column: p.col, Field: field,
				Err: fmt.Errorf("the token is %d characters; a bot reachable from other machines (listen %q, base_url %q) needs at least %d (e.g. openssl rand -hex 16)",
					len(token), c.Listen, c.BaseURL, MinTokenLen)})
		}
	}
	for i, t := range c.APITokens {
		short(c.at("api_tokens", i, "token"), fmt.Sprintf("%s (%s)", c.at("api_tokens", i).path, t.Name), t.Token)
	}
	for i, in := range c.Integrations {
		short(c.at("integrations", i, "token"), fmt.Sprintf("integration %q", in.Name), in.Token)
	}
	for i, t := range c.ConsoleTokens {
		short(c.at("console_tokens", i, "token"), fmt.Sprintf("%s (%s)", c.at("console_tokens", i).path, t.Person), t.Token)
	}
	var files []*source
	if c.src != nil {
		files = c.src.files
	}
	return joinSorted(files, errs)
}

// LocalOnly reports whether the bot is reachable only from its own
// machine: it listens on a loopback address, and base_url, configured or
// derived, names a loopback host.
func (c *Config) LocalOnly() bool {
	return loopbackHostPort(c.Listen) && loopbackURL(c.BaseURL)
}

func loopbackHostPort(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return loopbackHost(host)
}

func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && loopbackHost(u.Hostname())
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
