package main

import (
	"fmt"
	"strings"
	"time"
)

// Tokens of the generated configurations.
const (
	hookToken    = "storm-hook"
	apiToken     = "storm-api"
	consoleToken = "storm-console"
)

// botConfig is what a run's configuration file needs to say.
type botConfig struct {
	listen, database string
	// receiver is the base URL of the bench's page receiver; each person's
	// webhook is receiver + "/page/" + name.
	receiver string
	// groupBy is the route's group_by.
	groupBy []string
	// escalation: "oncall" (one step: the 24/7 schedule of one person) or
	// "climb" (step 1 pages pa, after climbDelay step 2 pages pb).
	escalation string
	climbDelay time.Duration
}

// yaml renders the configuration in the schema of manifests/demo.yaml:
// one Alertmanager integration, one team, people reached by their own
// webhook at once, and the web console on, so every incident gets a room
// on the console platform.
func (c botConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\ndatabase: %s\n", c.listen, c.database)
	fmt.Fprintf(&b, "api_tokens: [{name: bench, token: %s}]\n", apiToken)
	fmt.Fprintf(&b, "integrations: [{name: alertmanager, format: alertmanager, token: %s}]\n", hookToken)
	fmt.Fprintf(&b, "default_route: {team: ops, escalation_policy: storm, group_by: [%s]}\n", strings.Join(c.groupBy, ", "))
	person := func(name string) {
		rule := "[{method: webhook, after: 0m}]"
		fmt.Fprintf(&b, "  - {name: %s, time_zone: UTC, webhook: \"%s/page/%s\", notify: %s, notify_important: %s}\n",
			name, c.receiver, name, rule, rule)
	}
	b.WriteString("people:\n")
	switch c.escalation {
	case "climb":
		person("pa")
		person("pb")
		fmt.Fprintf(&b, "console_tokens: [{token: %s, person: pa}]\n", consoleToken)
		b.WriteString("teams: [{name: ops, members: [pa, pb], leads: [pa], escalation_policy: storm}]\n")
		fmt.Fprintf(&b, `escalation_policies:
  - name: storm
    steps:
      - {delay: %s, targets: [{user: pa}]}
      - {delay: 1h, targets: [{user: pb}]}
`, c.climbDelay)
	default:
		person("oncall")
		fmt.Fprintf(&b, "console_tokens: [{token: %s, person: oncall}]\n", consoleToken)
		b.WriteString("teams: [{name: ops, members: [oncall], leads: [oncall], schedule: always, escalation_policy: storm}]\n")
		b.WriteString(`schedules:
  - name: always
    time_zone: UTC
    layers:
      - {name: all-week, rotation: weekly, start: "2020-01-06 00:00", participants: [oncall]}
escalation_policies:
  - name: storm
    steps:
      - {delay: 1h, targets: [{schedule: always}]}
`)
	}
	return b.String()
}
