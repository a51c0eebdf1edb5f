// Package config reads the bot's YAML configuration file. It checks the
// file's shape and cross-references (a route names a known team, a token is
// not empty); the packages that use a section compile it further (routes'
// label matchers in incident, for instance) and report errors by name.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

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

	Integrations       []Integration      `yaml:"integrations"`
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

	// trusted is TrustedProxies parsed.
	trusted []netip.Prefix

	// derivedBaseURL is the BaseURL that was derived from the listen
	// address, "" when base_url was configured. A BaseURL that no longer
	// equals it was set by hand and is left alone.
	derivedBaseURL string
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
	// DefaultSeverity applies to alerts that carry none (default "error",
	// as Alertmanager's own PagerDuty receiver does).
	DefaultSeverity ingest.Severity `yaml:"default_severity"`
}

// Route sends matching alerts to a team. Routes are tried in order; the
// first match wins, and DefaultRoute takes the rest.
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

// Load reads and checks the file at path, then applies the BOT_LISTEN and
// BOT_DB environment overrides. A BaseURL derived from listen follows
// BOT_LISTEN.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if v := os.Getenv("BOT_LISTEN"); v != "" {
		c.Listen = v
		c.SetServingAddr(v)
	}
	if v := os.Getenv("BOT_DB"); v != "" {
		c.Database = v
	}
	if err := c.CheckTokenLengths(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// CheckTokenLengths refuses tokens shorter than MinTokenLen unless the bot
// is reachable only from its own machine: it listens on a loopback address
// and its base_url names one. It runs once the listen address is final
// (after BOT_LISTEN), since that decides.
func (c *Config) CheckTokenLengths() error {
	if c.LocalOnly() {
		return nil
	}
	var errs []error
	short := func(field, token string) {
		if token != "" && len(token) < MinTokenLen {
			errs = append(errs, fmt.Errorf("%s: the token is %d characters; a bot reachable from other machines (listen %q, base_url %q) needs at least %d (e.g. openssl rand -hex 16)",
				field, len(token), c.Listen, c.BaseURL, MinTokenLen))
		}
	}
	for i, t := range c.APITokens {
		short(fmt.Sprintf("api_tokens[%d] (%s)", i, t.Name), t.Token)
	}
	for _, in := range c.Integrations {
		short(fmt.Sprintf("integration %q", in.Name), in.Token)
	}
	for i, t := range c.ConsoleTokens {
		short(fmt.Sprintf("console_tokens[%d] (%s)", i, t.Person), t.Token)
	}
	return errors.Join(errs...)
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

// envRef matches ${NAME}: secrets can stay out of the file. The braces are
// required so a regex's "$" is never taken for a variable.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse decodes a configuration, fills defaults and checks it. Unknown keys
// are errors, so a typo does not silently disable a route. ${NAME} in a
// value is replaced by the environment variable NAME (comments are left
// alone), so secrets can stay out of the file.
func Parse(raw []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if err := expandEnv(&doc); err != nil {
		return nil, err
	}
	c := &Config{
		Listen:         "127.0.0.1:8080",
		Database:       "data/bot.db",
		ReopenWindow:   Duration(5 * time.Minute),
		ConsoleSession: Duration(12 * time.Hour),
	}
	if len(doc.Content) > 0 {
		// Re-encode the expanded tree so KnownFields applies: Node.Decode
		// does not check unknown keys.
		expanded, err := yaml.Marshal(&doc)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(expanded))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, err
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func expandEnv(n *yaml.Node) error {
	var missing []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := os.LookupEnv(name)
				if !ok {
					missing = append(missing, fmt.Sprintf("%s (line %d)", name, n.Line))
				}
				return v
			})
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	if len(missing) > 0 {
		return fmt.Errorf("environment variables not set: %s", strings.Join(missing, ", "))
	}
	return nil
}

func (c *Config) check() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.BaseURL == "" {
		c.SetServingAddr(c.Listen)
	}
	for i, t := range c.APITokens {
		if t.Name == "" || t.Token == "" {
			fail("api_tokens[%d]: name and token are required", i)
		}
		for j, s := range t.Scopes {
			switch team, scoped := strings.CutPrefix(s, "schedule:"); {
			case scoped && team != "":
				if _, ok := c.team(team); !ok {
					fail("api_tokens[%d].scopes[%d]: %q names no team", i, j, s)
				}
			case Scope(s) == ScopeRead, Scope(s) == ScopeRespond, Scope(s) == ScopeSchedule, Scope(s) == ScopeAdmin:
			default:
				fail("api_tokens[%d].scopes[%d]: %q is not a scope (read, respond, schedule, schedule:<team>, admin)", i, j, s)
			}
		}
	}
	c.trusted = nil
	for i, p := range c.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				fail("trusted_proxies[%d]: %q is neither an IP address nor a CIDR prefix", i, p)
				continue
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		c.trusted = append(c.trusted, prefix.Masked())
	}
	switch c.ConsoleVisibility {
	case "":
		c.ConsoleVisibility = ConsoleVisibilityAll
	case ConsoleVisibilityAll, ConsoleVisibilityTeams:
	default:
		fail("console_visibility: %q is not %q or %q", c.ConsoleVisibility, ConsoleVisibilityAll, ConsoleVisibilityTeams)
	}
	if t := c.MetricsToken; t != nil {
		switch {
		case *t == "":
			fail("metrics_token is empty (an unset or empty ${NAME}?): leave the key out to keep /metrics open")
		case len(*t) < MinMetricsTokenLen:
			fail("metrics_token must be at least %d characters", MinMetricsTokenLen)
		case strings.IndexFunc(*t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			fail("metrics_token must not contain spaces or control characters (it is sent in an Authorization header)")
		}
	}
	seen := map[string]bool{}
	for i := range c.Integrations {
		in := &c.Integrations[i]
		switch {
		case in.Name == "":
			fail("integrations[%d]: name is required", i)
		case seen[in.Name]:
			fail("integrations[%d]: duplicate name %q", i, in.Name)
		}
		seen[in.Name] = true
		if !ingest.KnownFormat(in.Format) {
			fail("integration %q: format %q is not one of %v", in.Name, in.Format, ingest.Formats())
		}
		if in.Token == "" {
			fail("integration %q: token is required (every inbound request is authenticated)", in.Name)
		}
		if in.DefaultSeverity == ingest.SeverityNone {
			in.DefaultSeverity = ingest.SeverityError
		}
	}

	people := map[string]bool{}
	for i, p := range c.People {
		if p.Name == "" {
			fail("people[%d]: name is required", i)
		}
		if people[p.Name] {
			fail("people[%d]: duplicate name %q", i, p.Name)
		}
		people[p.Name] = true
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				fail("person %q: time_zone: %v", p.Name, err)
			}
		}
	}
	scheduleNames := map[string]bool{}
	for i, sc := range c.Schedules {
		if sc.Name == "" || scheduleNames[sc.Name] {
			fail("schedules[%d]: name %q is empty or taken", i, sc.Name)
		}
		scheduleNames[sc.Name] = true
	}
	policyNames := map[string]bool{}
	for i, ep := range c.EscalationPolicies {
		if ep.Name == "" || policyNames[ep.Name] {
			fail("escalation_policies[%d]: name %q is empty or taken", i, ep.Name)
		}
		policyNames[ep.Name] = true
	}
	teams := map[string]bool{}
	for _, t := range c.Teams {
		teams[t.Name] = true
	}
	for i, t := range c.Teams {
		if t.Name == "" {
			fail("teams[%d]: name is required", i)
		}
		for _, lists := range [][]string{t.Members, t.Leads} {
			for _, m := range lists {
				if !people[m] {
					fail("team %q: %q is not in people", t.Name, m)
				}
			}
		}
		if t.Schedule != "" && !scheduleNames[t.Schedule] {
			fail("team %q: schedule %q is not defined in schedules", t.Name, t.Schedule)
		}
		if t.EscalationPolicy != "" && !policyNames[t.EscalationPolicy] {
			fail("team %q: escalation_policy %q is not defined in escalation_policies", t.Name, t.EscalationPolicy)
		}
	}
	for _, p := range c.People {
		for _, rule := range [][]NotifyStep{p.Notify, p.NotifyImportant} {
			for _, st := range rule {
				if !slices.Contains(NotifyMethods, st.Method) {
					fail("person %q: notify method %q is not one of %v", p.Name, st.Method, NotifyMethods)
				}
				if st.Mode != "" && st.Mode != "managed" && st.Mode != "allnotifications" {
					fail("person %q: notify mode %q is not managed or allnotifications", p.Name, st.Mode)
				}
				if st.Method == "webhook" && p.Webhook == "" {
					fail("person %q: method webhook needs the person's webhook URL", p.Name)
				}
			}
		}
	}
	for _, sc := range c.Schedules {
		if _, err := time.LoadLocation(sc.TimeZone); err != nil || sc.TimeZone == "" {
			fail("schedule %q: time_zone %q is not an IANA zone", sc.Name, sc.TimeZone)
		}
		if len(sc.Layers) == 0 {
			fail("schedule %q: no layers", sc.Name)
		}
		for _, l := range sc.Layers {
			for _, m := range l.Participants {
				if !people[m] {
					fail("schedule %q layer %q: participant %q is not in people", sc.Name, l.Name, m)
				}
			}
		}
	}
	for _, ep := range c.EscalationPolicies {
		if len(ep.Steps) == 0 {
			fail("escalation policy %q: no steps", ep.Name)
		}
		if ep.Repeat < 0 {
			fail("escalation policy %q: repeat must not be negative", ep.Name)
		}
		for i, st := range ep.Steps {
			if len(st.Targets) == 0 {
				fail("escalation policy %q step %d: no targets", ep.Name, i+1)
			}
			for _, tg := range st.Targets {
				set := 0
				for _, v := range []string{tg.Schedule, tg.User, tg.Team, tg.Room} {
					if v != "" {
						set++
					}
				}
				switch {
				case set != 1:
					fail("escalation policy %q step %d: a target names exactly one of schedule, user, team, room", ep.Name, i+1)
				case tg.Schedule != "" && !scheduleNames[tg.Schedule]:
					fail("escalation policy %q step %d: schedule %q is not defined", ep.Name, i+1, tg.Schedule)
				case tg.User != "" && !people[tg.User]:
					fail("escalation policy %q step %d: user %q is not in people", ep.Name, i+1, tg.User)
				case tg.Team != "" && !teams[tg.Team]:
					fail("escalation policy %q step %d: team %q is not defined", ep.Name, i+1, tg.Team)
				case tg.Room != "" && !teams[tg.Room]:
					fail("escalation policy %q step %d: room of team %q: no such team", ep.Name, i+1, tg.Room)
				}
			}
			if w := st.When; w != nil && w.TimeZone != "" {
				if _, err := time.LoadLocation(w.TimeZone); err != nil {
					fail("escalation policy %q step %d: time_zone: %v", ep.Name, i+1, err)
				}
			}
		}
	}

	routeNames := map[string]bool{}
	teamPolicy := map[string]string{}
	for _, t := range c.Teams {
		teamPolicy[t.Name] = t.EscalationPolicy
	}
	checkRoute := func(where string, r *Route) {
		if r.Team == "" {
			fail("%s: team is required", where)
		} else if len(c.Teams) > 0 && !teams[r.Team] {
			fail("%s: team %q is not defined in teams", where, r.Team)
		}
		if r.EscalationPolicy == "" {
			r.EscalationPolicy = teamPolicy[r.Team]
		}
		if r.EscalationPolicy == "" {
			r.EscalationPolicy = "default"
		} else if len(c.EscalationPolicies) > 0 && !policyNames[r.EscalationPolicy] {
			fail("%s: escalation_policy %q is not defined in escalation_policies", where, r.EscalationPolicy)
		}
		if len(r.GroupBy) == 0 {
			r.GroupBy = []string{"alertname"}
		}
		if st := r.Storm; st != nil {
			if st.After == 0 {
				st.After = 20
			}
			if st.Within == 0 {
				st.Within = Duration(5 * time.Minute)
			}
			if st.After < 2 {
				fail("%s: storm.after must be at least 2 incidents, not %d", where, st.After)
			}
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Name == "" {
			r.Name = fmt.Sprintf("route-%d", i+1)
		}
		if routeNames[r.Name] {
			fail("routes[%d]: duplicate name %q", i, r.Name)
		}
		routeNames[r.Name] = true
		if len(r.Match) == 0 {
			fail("route %q: match is empty; use default_route for catch-all", r.Name)
		}
		checkRoute(fmt.Sprintf("route %q", r.Name), r)
	}
	if c.DefaultRoute.Name == "" {
		c.DefaultRoute.Name = "default"
	}
	if len(c.DefaultRoute.Match) > 0 {
		fail("default_route: match is not allowed, the default route takes every alert no route matched")
	}
	checkRoute("default_route", &c.DefaultRoute)

	if d := c.Discord; d != nil {
		switch {
		case d.BotToken == "":
			fail("discord: bot_token is required")
		case d.PublicKey == "" && !d.Gateway:
			// The gateway's websocket is authenticated by the bot token;
			// only the HTTP endpoint needs the key to verify requests.
			fail("discord: public_key is required (or gateway: true)")
		}
	}
	if tg := c.Telegram; tg != nil {
		switch {
		case tg.BotToken == "":
			fail("telegram: bot_token is required")
		case tg.WebhookSecret == "" && !tg.LongPolling:
			fail("telegram: webhook_secret is required (or long_polling: true)")
		}
	}
	if sl := c.Slack; sl != nil {
		switch {
		case sl.SocketMode && (sl.BotToken == "" || !strings.HasPrefix(sl.AppToken, "xapp-")):
			// The websocket is authenticated by the app token, so no
			// signing secret is needed.
			fail("slack: socket_mode needs bot_token and an app-level app_token (xapp-...)")
		case !sl.SocketMode && (sl.BotToken == "" || sl.SigningSecret == ""):
			fail("slack: bot_token and signing_secret are required (or socket_mode with app_token)")
		}
	}
	if c.ConsoleSession <= 0 {
		fail("console_session must be longer than zero")
	}
	for i, t := range c.ConsoleTokens {
		if t.Token == "" || !people[t.Person] {
			fail("console_tokens[%d]: needs a token and a person from people", i)
		}
	}
	if tw := c.Twilio; tw != nil && (tw.AccountSID == "" || tw.AuthToken == "" || tw.From == "") {
		fail("twilio: account_sid, auth_token and from are all required")
	}
	if m := c.SMTP; m != nil {
		if m.Addr == "" || m.From == "" {
			fail("smtp: addr and from are required")
		}
		// Never credentials in the clear unless the file says so.
		req := m.TLSRequired()
		m.RequireTLS = &req
	}
	hooks := map[string]bool{}
	for i, w := range c.Webhooks {
		if w.Name == "" || w.URL == "" {
			fail("webhooks[%d]: name and url are required", i)
		}
		if hooks[w.Name] {
			fail("webhooks[%d]: duplicate name %q", i, w.Name)
		}
		hooks[w.Name] = true
	}
	return errors.Join(errs...)
}
