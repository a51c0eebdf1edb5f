// Package config reads the bot's YAML configuration file. It checks the
// file's shape and cross-references (a route names a known team, a token is
// not empty); the packages that use a section compile it further (routes'
// label matchers in incident, for instance) and report errors by name.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
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
	// BaseURL is how the outside world reaches the bot, for links.
	BaseURL string `yaml:"base_url"`
	// ReopenWindow: an alert of a resolved incident that fires again within
	// this window reopens the incident; later it opens a new one.
	ReopenWindow Duration `yaml:"reopen_window"`

	APITokens    []APIToken    `yaml:"api_tokens"`
	Integrations []Integration `yaml:"integrations"`
	Routes       []Route       `yaml:"routes"`
	DefaultRoute Route         `yaml:"default_route"`
	People       []Person      `yaml:"people"`
	Teams        []Team        `yaml:"teams"`
	Webhooks     []Webhook     `yaml:"webhooks"`
}

// APIToken grants access to the REST API. Name is recorded as the actor of
// what the token does.
type APIToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
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
}

// Person is someone who can be paged.
type Person struct {
	Name     string `yaml:"name"`
	FullName string `yaml:"full_name"`
	TimeZone string `yaml:"time_zone"`
	Email    string `yaml:"email"`
	Phone    string `yaml:"phone"`
}

// Team owns incidents and a rotation.
type Team struct {
	Name     string    `yaml:"name"`
	Members  []string  `yaml:"members"`
	Leads    []string  `yaml:"leads"`
	Rotation *Rotation `yaml:"rotation"`
}

// Rotation is a team's on-call rotation. The on-call subsystem gives it
// meaning; the core only checks its shape.
type Rotation struct {
	Name         string   `yaml:"name"`
	Type         string   `yaml:"type"`
	Handoff      string   `yaml:"handoff"`
	TimeZone     string   `yaml:"time_zone"`
	Participants []string `yaml:"participants"`
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
// BOT_DB environment overrides.
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
	}
	if v := os.Getenv("BOT_DB"); v != "" {
		c.Database = v
	}
	return c, nil
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
		Listen:       "127.0.0.1:8080",
		Database:     "data/bot.db",
		ReopenWindow: Duration(5 * time.Minute),
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
		c.BaseURL = "http://" + c.Listen
	}
	for i, t := range c.APITokens {
		if t.Name == "" || t.Token == "" {
			fail("api_tokens[%d]: name and token are required", i)
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
	teams := map[string]bool{}
	for i, t := range c.Teams {
		if t.Name == "" {
			fail("teams[%d]: name is required", i)
		}
		teams[t.Name] = true
		for _, lists := range [][]string{t.Members, t.Leads} {
			for _, m := range lists {
				if !people[m] {
					fail("team %q: %q is not in people", t.Name, m)
				}
			}
		}
		if r := t.Rotation; r != nil {
			for _, m := range r.Participants {
				if !people[m] {
					fail("team %q rotation: participant %q is not in people", t.Name, m)
				}
			}
			if r.TimeZone != "" {
				if _, err := time.LoadLocation(r.TimeZone); err != nil {
					fail("team %q rotation: time_zone: %v", t.Name, err)
				}
			}
		}
	}

	routeNames := map[string]bool{}
	checkRoute := func(where string, r *Route) {
		if r.Team == "" {
			fail("%s: team is required", where)
		} else if len(c.Teams) > 0 && !teams[r.Team] {
			fail("%s: team %q is not defined in teams", where, r.Team)
		}
		if r.EscalationPolicy == "" {
			r.EscalationPolicy = "default"
		}
		if len(r.GroupBy) == 0 {
			r.GroupBy = []string{"alertname"}
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
