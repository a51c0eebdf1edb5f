package incident

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/ingest"
)

// MatchOp is a label matcher's operator.
type MatchOp string

// The four matcher operators of Alertmanager's routing tree.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher tests one label. A missing label has the value "", as in
// Alertmanager, so env!="prod" matches alerts without an env label.
type Matcher struct {
	Name  string
	Op    MatchOp
	Value string
	re    *regexp.Regexp
}

// Matches reports whether labels satisfy the matcher.
func (m *Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

func (m *Matcher) String() string { return m.Name + string(m.Op) + strconv.Quote(m.Value) }

var matcherSyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher parses `name="value"`, `name!="value"`, `name=~"re"` or
// `name!~"re"`. The value may be unquoted when it has no spaces. Regexes
// are anchored at both ends, as in Prometheus.
func ParseMatcher(s string) (*Matcher, error) {
	parts := matcherSyntax.FindStringSubmatch(s)
	if parts == nil {
		return nil, fmt.Errorf("matcher %q: want name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\"", s)
	}
	m := &Matcher{Name: parts[1], Op: MatchOp(parts[2]), Value: parts[3]}
	if strings.HasPrefix(m.Value, `"`) {
		v, err := strconv.Unquote(m.Value)
		if err != nil {
			return nil, fmt.Errorf("matcher %q: bad quoted value: %w", s, err)
		}
		m.Value = v
	}
	if m.Op == MatchRegexp || m.Op == MatchNotRegexp {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return nil, fmt.Errorf("matcher %q: %w", s, err)
		}
		m.re = re
	}
	return m, nil
}

// Route decides who owns matching alerts and how they group and page.
type Route struct {
	Name     string
	Matchers []*Matcher
	Team     string
	Policy   string
	// GroupBy lists the labels that split alerts into incidents; nil with
	// groupByAll set means one incident per alert.
	GroupBy     []string
	groupByAll  bool
	AlertDelay  time.Duration
	SeverityMax ingest.Severity
	// Storm is the route's storm mode, nil when off.
	Storm *StormMode
}

// StormMode: once After new incidents of the route's team opened within
// Within, further new ones join the route's storm incident.
type StormMode struct {
	After  int
	Within time.Duration
}

// Matches reports whether every matcher of r holds for labels.
func (r *Route) Matches(labels map[string]string) bool {
	for _, m := range r.Matchers {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// GroupKey names the group an alert falls into on this route: alerts with
// equal keys share one open incident.
func (r *Route) GroupKey(a *ingest.Alert) string {
	var b strings.Builder
	b.WriteString(r.Name)
	if r.groupByAll {
		b.WriteString("|fingerprint=")
		b.WriteString(a.Fingerprint)
		return b.String()
	}
	for _, name := range r.GroupBy {
		b.WriteByte('|')
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(a.Labels[name]))
	}
	return b.String()
}

// Router picks the first matching route, or the default.
type Router struct {
	routes []*Route
	def    *Route
}

// NewRouter compiles the configured routes.
func NewRouter(routes []config.Route, def config.Route) (*Router, error) {
	r := &Router{}
	for _, rc := range routes {
		rt, err := compileRoute(rc)
		if err != nil {
			return nil, err
		}
		r.routes = append(r.routes, rt)
	}
	d, err := compileRoute(def)
	if err != nil {
		return nil, err
	}
	r.def = d
	return r, nil
}

func compileRoute(rc config.Route) (*Route, error) {
	rt := &Route{
		Name:        rc.Name,
		Team:        rc.Team,
		Policy:      rc.EscalationPolicy,
		AlertDelay:  rc.AlertDelay.Std(),
		SeverityMax: ingest.SeverityCritical,
	}
	if rc.SeverityMax != nil {
		rt.SeverityMax = *rc.SeverityMax
	}
	if st := rc.Storm; st != nil {
		rt.Storm = &StormMode{After: st.After, Within: st.Within.Std()}
	}
	for _, s := range rc.Match {
		m, err := ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", rc.Name, err)
		}
		rt.Matchers = append(rt.Matchers, m)
	}
	for _, g := range rc.GroupBy {
		if g == "..." {
			rt.groupByAll = true
			rt.GroupBy = nil
			break
		}
		rt.GroupBy = append(rt.GroupBy, g)
	}
	sort.Strings(rt.GroupBy)
	return rt, nil
}

// Route returns the route for labels.
func (r *Router) Route(labels map[string]string) *Route {
	for _, rt := range r.routes {
		if rt.Matches(labels) {
			return rt
		}
	}
	return r.def
}
