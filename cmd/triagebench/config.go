package main

import (
	"fmt"
	"strings"
)

// Tokens of the generated configuration.
const (
	hookToken = "triage-hook"
	apiToken  = "triage-api"
)

// Modes of a round: what the triage section turns on.
const (
	modeOff   = "off"   // no triage section
	modeRules = "rules" // history, Prometheus and logs; no AI
	modeAI    = "ai"    // the same and the AI
)

// configYAML is the bot's configuration: one Alertmanager integration,
// one team whose one person is on call 24/7 (paged by Slack DM), Slack
// pointed at the fakes (a channel per incident), and the triage of mode
// with its sources at the fakes.
func configYAML(listen, database, fakes, mode string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\ndatabase: %s\n", listen, database)
	fmt.Fprintf(&b, "api_tokens: [{name: bench, token: %s}]\n", apiToken)
	fmt.Fprintf(&b, "integrations: [{name: alertmanager, format: alertmanager, token: %s}]\n", hookToken)
	fmt.Fprintf(&b, "slack: {bot_token: %q, signing_secret: %q, api_url: %q}\n", slackToken, slackSecret, fakes+"/slack/api/")
	b.WriteString(`default_route: {team: ops, escalation_policy: bench, group_by: [alertname, instance]}
people:
  - {name: oncall, time_zone: UTC, slack: U0ONCALL}
teams: [{name: ops, members: [oncall], leads: [oncall], schedule: always, escalation_policy: bench}]
schedules:
  - name: always
    time_zone: UTC
    layers:
      - {name: all-week, rotation: weekly, start: "2020-01-06 00:00", participants: [oncall]}
escalation_policies:
  - name: bench
    steps:
      - {delay: 1h, targets: [{schedule: always}]}
`)
	if mode == modeOff {
		return b.String()
	}
	b.WriteString("triage:\n  timeout: 10s\n")
	fmt.Fprintf(&b, "  prometheus: {url: %q}\n", fakes+"/prom")
	fmt.Fprintf(&b, "  logs: {url_template: %q}\n",
		fakes+"/logs/loki/api/v1/query_range?query={{.Labels.instance}}&start={{.StartNS}}&end={{.EndNS}}&limit=50")
	if mode == modeAI {
		fmt.Fprintf(&b, "  ai: {base_url: %q, model: %s, api_key: %s, timeout: 10s, daily_tokens: 0}\n", fakes+"/ai/v1", aiModel, aiKey)
	}
	return b.String()
}
