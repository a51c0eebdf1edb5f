package app

import (
	"slices"
	"testing"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// Whether an incident is triaged, and with what, is its route's and its
// opening alert's integration's say together: either can turn triage
// off, and with a list on each only the sources on both are asked.
func TestTriageSettingsOfRouteAndIntegration(t *testing.T) {
	const yaml = `
integrations:
  - {name: am, format: alertmanager, token: t}
  - {name: zbx, format: zabbix, token: t, triage: false}
  - {name: gen, format: generic, token: t, triage_sources: [history, logs, ai]}
routes:
  - {name: staging, match: ['env="staging"'], team: ops, triage: false}
  - {name: k8s, match: ['ns=~".+"'], team: ops, triage_sources: [kubernetes, logs]}
  - {name: none, match: ['quiet="yes"'], team: ops, triage_sources: []}
default_route: {team: ops}
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	a := &App{}
	a.live.Store(cfg)
	cases := []struct {
		route, integration string
		triaged            bool
		sources            []string // nil: all
	}{
		{"", "am", true, nil},
		{"k8s", "am", true, []string{"kubernetes", "logs"}},
		{"", "gen", true, []string{"history", "logs", "ai"}},
		{"k8s", "gen", true, []string{"logs"}},
		{"none", "gen", true, []string{}},
		{"staging", "am", false, nil},
		{"", "zbx", false, nil},
		// A route or an integration no longer configured: the default
		// route's say, and no integration's.
		{"gone", "gone", true, nil},
	}
	for _, c := range cases {
		inc := incident.Incident{Route: c.route}
		if got := a.triages(inc, c.integration); got != c.triaged {
			t.Errorf("route %q, integration %q: triaged %v, want %v", c.route, c.integration, got, c.triaged)
		}
		got := a.triageSourcesOf(inc, c.integration)
		if (got == nil) != (c.sources == nil) || !slices.Equal(got, c.sources) {
			t.Errorf("route %q, integration %q: sources %q, want %q", c.route, c.integration, got, c.sources)
		}
	}
}
