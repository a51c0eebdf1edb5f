package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/oncallbot/bot/internal/ingest"
)

// checker collects every problem of a merged Config, each at its place.
type checker struct {
	c    *Config
	errs []error

	integrations, routes, people, teams, schedules, policies, webhooks, apiTokens *index
}

func (k *checker) fail(p place, format string, args ...any) {
	k.errs = append(k.errs, &FieldError{File: p.file, Line: p.line, Column: p.col, Field: p.path, Err: fmt.Errorf(format, args...)})
}

// index is the objects of one kind by name, in the order defined.
type index struct {
	// noun names the kind in messages ("escalation policy").
	noun string
	// missing is the message for a reference to no such object, with the
	// name's %q.
	missing string
	at      map[string]place
	names   []string
}

func newIndex(noun, missing string) *index {
	return &index{noun: noun, missing: missing, at: map[string]place{}}
}

// define records name at p; a name already defined is reported at p,
// naming the first definition, wherever each is.
func (k *checker) define(x *index, name string, p place) {
	if name == "" {
		return // each section says what an object without a name lacks
	}
	if first, ok := x.at[name]; ok {
		k.fail(p, "duplicate %s %q, also defined at %s", x.noun, name, first.pos())
		return
	}
	x.at[name] = p
	x.names = append(x.names, name)
}

func (x *index) has(name string) bool {
	_, ok := x.at[name]
	return ok
}

// ref reports a reference at p to a name x does not define, with the name
// probably meant.
func (k *checker) ref(p place, x *index, name string) {
	if !x.has(name) {
		k.fail(p, x.missing+"%s", name, didYouMean(name, x.names))
	}
}

// check fills defaults and checks the merged Config: every section's own
// rules, then the references between sections, wherever in the files
// each is. It returns every problem found, joined.
func (c *Config) check() error {
	k := &checker{c: c}
	k.defineAll()
	if c.BaseURL == "" {
		c.SetServingAddr(c.Listen)
	}
	k.checkAPITokens()
	k.checkSettings()
	k.checkIntegrations()
	k.checkPeople()
	k.checkSchedules()
	k.checkPolicies()
	k.checkTeams()
	k.checkRoutes()
	k.checkPlatforms()
	k.checkConsole()
	k.checkWebhooks()
	if tr := c.Triage; tr != nil && tr.Logs != nil && !strings.HasPrefix(tr.Logs.URLTemplate, "http://") && !strings.HasPrefix(tr.Logs.URLTemplate, "https://") {
		k.fail(c.atSetting("triage", "logs", "url_template"), "%q does not start with http:// or https://", tr.Logs.URLTemplate)
	}
	if tr := c.Triage; tr != nil && tr.Prometheus != nil {
		if u, err := url.Parse(tr.Prometheus.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			k.fail(c.atSetting("triage", "prometheus", "url"), "%q is not an http(s) URL", tr.Prometheus.URL)
		}
	}
	if tr := c.Triage; tr != nil && tr.AI != nil {
		k.checkTriageAI(tr.AI)
	}
	if tr := c.Triage; tr != nil && tr.Kubernetes != nil {
		kc := tr.Kubernetes
		if (kc.Kubeconfig == "") == !kc.InCluster {
			k.fail(c.atSetting("triage", "kubernetes"), "set exactly one of kubeconfig (a file's path) or in_cluster: true")
		}
		if kc.LogLines < 0 {
			k.fail(c.atSetting("triage", "kubernetes", "log_lines"), "%d is negative", kc.LogLines)
		}
	}
	k.recordSources()
	if len(k.errs) == 0 {
		return nil
	}
	var files []*source
	if c.src != nil {
		files = c.src.files
	}
	return joinSorted(files, k.errs)
}

// defineAll indexes every named object before any reference is checked,
// since a reference may point forwards, or into another file.
func (k *checker) defineAll() {
	c := k.c
	k.integrations = newIndex("integration", "integration %q is not defined in integrations")
	k.routes = newIndex("route", "route %q is not defined in routes")
	k.people = newIndex("person", "person %q is not in people")
	k.teams = newIndex("team", "team %q is not defined in teams")
	k.schedules = newIndex("schedule", "schedule %q is not defined in schedules")
	k.policies = newIndex("escalation policy", "escalation_policy %q is not defined in escalation_policies")
	k.webhooks = newIndex("webhook", "webhook %q is not defined in webhooks")
	k.apiTokens = newIndex("api token", "api token %q is not defined in api_tokens")

	named := func(x *index, section string, n int, name func(int) string, required bool) {
		for i := range n {
			if name(i) == "" && required {
				k.fail(c.at(section, i), "name is required")
			}
			k.define(x, name(i), c.at(section, i))
		}
	}
	named(k.integrations, "integrations", len(c.Integrations), func(i int) string { return c.Integrations[i].Name }, true)
	named(k.people, "people", len(c.People), func(i int) string { return c.People[i].Name }, true)
	named(k.teams, "teams", len(c.Teams), func(i int) string { return c.Teams[i].Name }, true)
	named(k.schedules, "schedules", len(c.Schedules), func(i int) string { return c.Schedules[i].Name }, true)
	named(k.policies, "escalation_policies", len(c.EscalationPolicies), func(i int) string { return c.EscalationPolicies[i].Name }, true)
	// Webhooks and API tokens say "name and url" and "name and token".
	named(k.webhooks, "webhooks", len(c.Webhooks), func(i int) string { return c.Webhooks[i].Name }, false)
	named(k.apiTokens, "api_tokens", len(c.APITokens), func(i int) string { return c.APITokens[i].Name }, false)
	for i := range c.Routes {
		if c.Routes[i].Name == "" {
			// Numbered across files, as the routes are tried.
			c.Routes[i].Name = fmt.Sprintf("route-%d", i+1)
		}
	}
	named(k.routes, "routes", len(c.Routes), func(i int) string { return c.Routes[i].Name }, false)
	if c.DefaultRoute.Name == "" {
		c.DefaultRoute.Name = "default"
	}
}

// recordSources keeps where each object is defined, for SourceOf.
func (k *checker) recordSources() {
	c := k.c
	if c.src == nil {
		return
	}
	for kind, x := range map[string]*index{
		KindIntegration: k.integrations, KindRoute: k.routes, KindPerson: k.people, KindTeam: k.teams,
		KindSchedule: k.schedules, KindEscalationPolicy: k.policies, KindWebhook: k.webhooks, KindAPIToken: k.apiTokens,
	} {
		m := map[string]string{}
		for name, p := range x.at {
			m[name] = p.source()
		}
		c.src.defined[kind] = m
	}
	if s := c.atSetting("default_route").source(); s != "" {
		c.src.defined[KindDefaultRoute] = map[string]string{"default": s, c.DefaultRoute.Name: s}
	}
}

func (k *checker) checkAPITokens() {
	c := k.c
	for i, t := range c.APITokens {
		if t.Name == "" || t.Token == "" {
			k.fail(c.at("api_tokens", i), "name and token are required")
		}
		for j, s := range t.Scopes {
			p := c.at("api_tokens", i, "scopes", j)
			switch team, scoped := strings.CutPrefix(s, "schedule:"); {
			case scoped && team != "":
				if !k.teams.has(team) {
					hint := ""
					if m := closest(team, k.teams.names); m != "" {
						hint = fmt.Sprintf(" (did you mean %q?)", "schedule:"+m)
					}
					k.fail(p, "%q names no team%s", s, hint)
				}
			case Scope(s) == ScopeRead, Scope(s) == ScopeRespond, Scope(s) == ScopeSchedule, Scope(s) == ScopeAdmin:
			default:
				k.fail(p, "%q is not a scope (read, respond, schedule, schedule:<team>, admin)%s", s,
					didYouMean(s, []string{string(ScopeRead), string(ScopeRespond), string(ScopeSchedule), string(ScopeAdmin)}))
			}
		}
	}
}

// checkSettings checks the scalar settings.
func (k *checker) checkSettings() {
	c := k.c
	c.trusted = nil
	for i, p := range c.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				k.fail(c.atSetting("trusted_proxies", i), "%q is neither an IP address nor a CIDR prefix", p)
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
		k.fail(c.atSetting("console_visibility"), "%q is not %q or %q", c.ConsoleVisibility, ConsoleVisibilityAll, ConsoleVisibilityTeams)
	}
	if t := c.MetricsToken; t != nil {
		p := c.atSetting("metrics_token").bare()
		switch {
		case *t == "":
			k.fail(p, "metrics_token is empty (an unset or empty ${NAME}?): leave the key out to keep /metrics open")
		case len(*t) < MinMetricsTokenLen:
			k.fail(p, "metrics_token must be at least %d characters", MinMetricsTokenLen)
		case strings.IndexFunc(*t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			k.fail(p, "metrics_token must not contain spaces or control characters (it is sent in an Authorization header)")
		}
	}
	if c.ConsoleSession <= 0 {
		k.fail(c.atSetting("console_session").bare(), "console_session must be longer than zero")
	}
}

func (k *checker) checkIntegrations() {
	c := k.c
	for i := range c.Integrations {
		in := &c.Integrations[i]
		if !ingest.KnownFormat(in.Format) {
			k.fail(c.at("integrations", i, "format"), "unknown format %q (one of %s)%s", in.Format, strings.Join(ingest.Formats(), ", "), didYouMean(in.Format, ingest.Formats()))
		}
		if in.Token == "" {
			k.fail(c.at("integrations", i), "token is required (every inbound request is authenticated)")
		}
		if in.DefaultSeverity == ingest.SeverityNone {
			in.DefaultSeverity = ingest.SeverityError
		}
		k.checkTriageSources(in.TriageSources, func(j int) place { return c.at("integrations", i, "triage_sources", j) })
	}
}

// checkTriageSources checks a route's or an integration's triage_sources,
// at(j) naming the j-th.
func (k *checker) checkTriageSources(sources []string, at func(j int) place) {
	for j, s := range sources {
		if !slices.Contains(TriageSourceNames, s) {
			k.fail(at(j), "unknown source %q%s; the sources are %s", s, didYouMean(s, TriageSourceNames),
				strings.Join(TriageSourceNames, ", "))
		}
	}
}

func (k *checker) checkPeople() {
	c := k.c
	for i, p := range c.People {
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				k.fail(c.at("people", i, "time_zone"), "%w", err)
			}
		}
		for _, rule := range []string{"notify", "notify_important"} {
			steps := p.Notify
			if rule == "notify_important" {
				steps = p.NotifyImportant
			}
			for j, st := range steps {
				if !slices.Contains(NotifyMethods, st.Method) {
					k.fail(c.at("people", i, rule, j, "method"), "method %q is not one of %v%s", st.Method, NotifyMethods, didYouMean(st.Method, NotifyMethods))
				}
				if st.Mode != "" && st.Mode != "managed" && st.Mode != "allnotifications" {
					k.fail(c.at("people", i, rule, j, "mode"), "mode %q is not managed or allnotifications", st.Mode)
				}
				if st.Method == "webhook" && p.Webhook == "" {
					k.fail(c.at("people", i, rule, j, "method"), "method webhook needs the person's webhook URL")
				}
				if e := st.Enabled; e != nil && e.TimeZone != "" {
					if _, err := time.LoadLocation(e.TimeZone); err != nil {
						k.fail(c.at("people", i, rule, j, "enabled", "time_zone"), "%w", err)
					}
				}
			}
		}
	}
}

func (k *checker) checkSchedules() {
	c := k.c
	for i, sc := range c.Schedules {
		if _, err := time.LoadLocation(sc.TimeZone); err != nil || sc.TimeZone == "" {
			k.fail(c.at("schedules", i, "time_zone"), "%q is not an IANA zone", sc.TimeZone)
		}
		if len(sc.Layers) == 0 {
			k.fail(c.at("schedules", i, "layers"), "no layers")
		}
		for j, l := range sc.Layers {
			for m, name := range l.Participants {
				k.ref(c.at("schedules", i, "layers", j, "participants", m), k.people, name)
			}
		}
	}
}

func (k *checker) checkPolicies() {
	c := k.c
	for i, ep := range c.EscalationPolicies {
		if len(ep.Steps) == 0 {
			k.fail(c.at("escalation_policies", i, "steps"), "no steps")
		}
		if ep.Repeat < 0 {
			k.fail(c.at("escalation_policies", i, "repeat"), "repeat must not be negative")
		}
		for j, st := range ep.Steps {
			if len(st.Targets) == 0 {
				k.fail(c.at("escalation_policies", i, "steps", j, "targets"), "no targets")
			}
			for m, tg := range st.Targets {
				at := func(sub ...any) place {
					return c.at("escalation_policies", i, append([]any{"steps", j, "targets", m}, sub...)...)
				}
				set := 0
				for _, v := range []string{tg.Schedule, tg.User, tg.Team, tg.Room} {
					if v != "" {
						set++
					}
				}
				switch {
				case set != 1:
					k.fail(at(), "a target names exactly one of schedule, user, team, room")
				case tg.Schedule != "":
					k.ref(at("schedule"), k.schedules, tg.Schedule)
				case tg.User != "":
					k.ref(at("user"), k.people, tg.User)
				case tg.Team != "":
					k.ref(at("team"), k.teams, tg.Team)
				case tg.Room != "":
					k.ref(at("room"), k.teams, tg.Room)
				}
			}
			if w := st.When; w != nil && w.TimeZone != "" {
				if _, err := time.LoadLocation(w.TimeZone); err != nil {
					k.fail(c.at("escalation_policies", i, "steps", j, "when", "time_zone"), "%w", err)
				}
			}
		}
	}
}

func (k *checker) checkTeams() {
	c := k.c
	for i, t := range c.Teams {
		for _, list := range []string{"members", "leads"} {
			names := t.Members
			if list == "leads" {
				names = t.Leads
			}
			for j, m := range names {
				k.ref(c.at("teams", i, list, j), k.people, m)
			}
		}
		if t.Schedule != "" {
			k.ref(c.at("teams", i, "schedule"), k.schedules, t.Schedule)
		}
		if t.EscalationPolicy != "" {
			k.ref(c.at("teams", i, "escalation_policy"), k.policies, t.EscalationPolicy)
		}
	}
}

func (k *checker) checkRoutes() {
	c := k.c
	teamPolicy := map[string]string{}
	for _, t := range c.Teams {
		if _, ok := teamPolicy[t.Name]; !ok {
			teamPolicy[t.Name] = t.EscalationPolicy
		}
	}
	check := func(r *Route, at func(sub ...any) place) {
		// Without any teams, a route may name a team the file does not
		// define (the smallest configurations name only default_route).
		if r.Team == "" {
			k.fail(at(), "team is required")
		} else if len(c.Teams) > 0 {
			k.ref(at("team"), k.teams, r.Team)
		}
		// A policy the route inherits from its team was checked there;
		// "default" is the built-in one (page the team's schedule, else
		// the team) that a route with none gets, unless a file defines a
		// policy of that name.
		if r.EscalationPolicy != "" && r.EscalationPolicy != DefaultPolicy && len(c.EscalationPolicies) > 0 {
			k.ref(at("escalation_policy"), k.policies, r.EscalationPolicy)
		}
		if r.EscalationPolicy == "" {
			r.EscalationPolicy = teamPolicy[r.Team]
		}
		if r.EscalationPolicy == "" {
			r.EscalationPolicy = DefaultPolicy
		}
		if len(r.GroupBy) == 0 {
			r.GroupBy = []string{"alertname"}
		}
		k.checkTriageSources(r.TriageSources, func(j int) place { return at("triage_sources", j) })
		if st := r.Storm; st != nil {
			if st.After == 0 {
				st.After = 20
			}
			if st.Within == 0 {
				st.Within = Duration(5 * time.Minute)
			}
			if st.After < 2 {
				p := at("storm", "after")
				p.path = at().path // the message names the field
				k.fail(p, "storm.after must be at least 2 incidents, not %d", st.After)
			}
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if len(r.Match) == 0 {
			k.fail(c.at("routes", i, "match"), "match is empty; use default_route for catch-all")
		}
		check(r, func(sub ...any) place { return c.at("routes", i, sub...) })
	}
	if len(c.DefaultRoute.Match) > 0 {
		k.fail(c.atSetting("default_route", "match"), "match is not allowed, the default route takes every alert no route matched")
	}
	check(&c.DefaultRoute, func(sub ...any) place { return c.atSetting("default_route", sub...) })
}

// checkPlatforms checks the chat and contact platforms' credentials.
func (k *checker) checkPlatforms() {
	c := k.c
	if d := c.Discord; d != nil {
		switch {
		case d.BotToken == "":
			k.fail(c.atSetting("discord"), "bot_token is required")
		case d.PublicKey == "" && !d.Gateway:
			// The gateway's websocket is authenticated by the bot token;
			// only the HTTP endpoint needs the key to verify requests.
			k.fail(c.atSetting("discord"), "public_key is required (or gateway: true)")
		}
	}
	if tg := c.Telegram; tg != nil {
		switch {
		case tg.BotToken == "":
			k.fail(c.atSetting("telegram"), "bot_token is required")
		case tg.WebhookSecret == "" && !tg.LongPolling:
			k.fail(c.atSetting("telegram"), "webhook_secret is required (or long_polling: true)")
		}
	}
	if sl := c.Slack; sl != nil {
		switch {
		case sl.SocketMode && (sl.BotToken == "" || !strings.HasPrefix(sl.AppToken, "xapp-")):
			// The websocket is authenticated by the app token, so no
			// signing secret is needed.
			k.fail(c.atSetting("slack"), "socket_mode needs bot_token and an app-level app_token (xapp-...)")
		case !sl.SocketMode && (sl.BotToken == "" || sl.SigningSecret == ""):
			k.fail(c.atSetting("slack"), "bot_token and signing_secret are required (or socket_mode with app_token)")
		}
	}
	if tw := c.Twilio; tw != nil && (tw.AccountSID == "" || tw.AuthToken == "" || tw.From == "") {
		k.fail(c.atSetting("twilio"), "account_sid, auth_token and from are all required")
	}
	if m := c.SMTP; m != nil {
		if m.Addr == "" || m.From == "" {
			k.fail(c.atSetting("smtp"), "addr and from are required")
		}
		// Never credentials in the clear unless the file says so.
		req := m.TLSRequired()
		m.RequireTLS = &req
	}
}

func (k *checker) checkConsole() {
	c := k.c
	for i, t := range c.ConsoleTokens {
		if t.Token == "" {
			k.fail(c.at("console_tokens", i), "token is required")
		}
		if t.Person == "" {
			k.fail(c.at("console_tokens", i), "person is required (a name from people)")
		} else {
			k.ref(c.at("console_tokens", i, "person"), k.people, t.Person)
		}
	}
}

func (k *checker) checkWebhooks() {
	c := k.c
	for i, w := range c.Webhooks {
		if w.Name == "" || w.URL == "" {
			k.fail(c.at("webhooks", i), "name and url are required")
		}
		// As for routes: with no teams defined, any team name goes.
		if len(c.Teams) > 0 {
			for j, t := range w.Teams {
				k.ref(c.at("webhooks", i, "teams", j), k.teams, t)
			}
		}
	}
}

// Check fills defaults and checks a Config assembled in code, such as the
// running configuration built from the applied set, by the rules Parse
// applies to a file (without positions, which it has none of).
func (c *Config) Check() error { return c.check() }

// DefaultPolicy names the built-in escalation policy of a route that names
// none and whose team names none: page the team's schedule, else the team.
const DefaultPolicy = "default"

// checkTriageAI checks the AI endpoint's settings: an http(s) base URL, a
// model, a budget that is not negative and redaction patterns that compile.
func (k *checker) checkTriageAI(ai *TriageAI) {
	c := k.c
	if ai.BaseURL == "" {
		k.fail(c.atSetting("triage", "ai"), "base_url is missing (the OpenAI-compatible endpoint, such as http://127.0.0.1:11434/v1)")
	} else if u, err := url.Parse(ai.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		k.fail(c.atSetting("triage", "ai", "base_url"), "%q is not an http(s) URL", ai.BaseURL)
	}
	if ai.Model == "" {
		k.fail(c.atSetting("triage", "ai"), "model is missing (the model to ask)")
	}
	if ai.Timeout.Std() > 14*time.Second {
		k.fail(c.atSetting("triage", "ai", "timeout"), "%s is over 14s (the question is one delivery, which has 15s)", ai.Timeout.Std())
	}
	if ai.DailyTokens < 0 {
		k.fail(c.atSetting("triage", "ai", "daily_tokens"), "%d is negative", ai.DailyTokens)
	}
	for i, p := range ai.Redact {
		if _, err := regexp.Compile(p); err != nil {
			k.fail(c.atSetting("triage", "ai", "redact", i), "%v", err)
		}
	}
}
