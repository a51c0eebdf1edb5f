package incident

import (
	"testing"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/ingest"
)

func TestParseMatcher(t *testing.T) {
	cases := []struct {
		in      string
		labels  map[string]string
		matches bool
	}{
		{`env="prod"`, map[string]string{"env": "prod"}, true},
		{`env="prod"`, map[string]string{"env": "production"}, false},
		{`env!="prod"`, map[string]string{}, true}, // missing label is ""
		{`env=~"prod|staging"`, map[string]string{"env": "staging"}, true},
		{`env=~"prod"`, map[string]string{"env": "production"}, false}, // anchored
		{`env!~"dev.*"`, map[string]string{"env": "devbox"}, false},
		{`env!~"dev.*"`, map[string]string{"env": "prod"}, true},
		{`service = "a b"`, map[string]string{"service": "a b"}, true},
		{`team=ops`, map[string]string{"team": "ops"}, true}, // unquoted
		{`msg="say \"hi\""`, map[string]string{"msg": `say "hi"`}, true},
		{`x=~""`, map[string]string{}, true},
	}
	for _, c := range cases {
		m, err := ParseMatcher(c.in)
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", c.in, err)
		}
		if got := m.Matches(c.labels); got != c.matches {
			t.Errorf("%s on %v = %v, want %v", c.in, c.labels, got, c.matches)
		}
	}
	for _, bad := range []string{``, `=x`, `1abc="x"`, `env=~"("`, `env="unterminated`, `env~="x"`} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("ParseMatcher(%q) accepted a bad matcher", bad)
		}
	}
}

func TestRouterFirstMatchWinsAndGroupKeys(t *testing.T) {
	crit := ingest.SeverityWarning
	r, err := NewRouter([]config.Route{
		{Name: "db", Match: []string{`service=~"pg|mysql"`, `env="prod"`}, Team: "dba", GroupBy: []string{"cluster", "alertname"}},
		{Name: "prod", Match: []string{`env="prod"`}, Team: "ops", GroupBy: []string{"alertname"}, SeverityMax: &crit},
		{Name: "each", Match: []string{`env="lab"`}, Team: "lab", GroupBy: []string{"..."}},
	}, config.Route{Name: "default", Team: "ops", GroupBy: []string{"alertname"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		labels map[string]string
		route  string
	}{
		{map[string]string{"service": "pg", "env": "prod"}, "db"},
		{map[string]string{"service": "pg", "env": "dev"}, "default"},
		{map[string]string{"service": "web", "env": "prod"}, "prod"},
		{map[string]string{"env": "lab"}, "each"},
		{map[string]string{}, "default"},
	}
	for _, c := range cases {
		if got := r.Route(c.labels).Name; got != c.route {
			t.Errorf("route(%v) = %s, want %s", c.labels, got, c.route)
		}
	}
	db := r.Route(map[string]string{"service": "pg", "env": "prod"})
	a := &ingest.Alert{Fingerprint: "f1", Labels: map[string]string{"alertname": "Lag", "cluster": "eu", "instance": "1"}}
	b := &ingest.Alert{Fingerprint: "f2", Labels: map[string]string{"alertname": "Lag", "cluster": "eu", "instance": "2"}}
	c := &ingest.Alert{Fingerprint: "f3", Labels: map[string]string{"alertname": "Lag", "cluster": "us"}}
	if db.GroupKey(a) != db.GroupKey(b) || db.GroupKey(a) == db.GroupKey(c) {
		t.Fatalf("group keys: a=%s b=%s c=%s", db.GroupKey(a), db.GroupKey(b), db.GroupKey(c))
	}
	// A label value containing the separator cannot forge another group.
	x := &ingest.Alert{Labels: map[string]string{"alertname": `Lag"|cluster="eu`}}
	y := &ingest.Alert{Labels: map[string]string{"alertname": "Lag", "cluster": "eu"}}
	if db.GroupKey(x) == db.GroupKey(y) {
		t.Fatal("crafted label value collided with another group key")
	}
	each := r.Route(map[string]string{"env": "lab"})
	if each.GroupKey(a) == each.GroupKey(b) {
		t.Fatal(`group_by ["..."] must give one group per alert`)
	}
}
