package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// escalationConfig has a three-step policy that repeats once, a step only
// for criticals, and people with notification rules.
const escalationConfig = `
reopen_window: 5m
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops}
people:
  - name: alice
    notify: [{method: chat, after: 0m}, {method: sms, after: 3m}, {method: voice, after: 5m}]
  - name: bob
    notify: [{method: chat, after: 0m}]
  - name: carol
    notify: [{method: email, after: 0m}]
  - name: lead
    notify: [{method: email, after: 0m}]
teams:
  - {name: ops, members: [alice, bob], leads: [lead], schedule: ops, escalation_policy: ops-default}
schedules:
  - name: ops
    time_zone: UTC
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
escalation_policies:
  - name: ops-default
    repeat: 1
    steps:
      - delay: 10m
        targets: [{schedule: ops}]
      - delay: 10m
        targets: [{user: carol}]
        when: {severity_at_least: critical}
      - delay: 10m
        targets: [{team: ops}]
`

func stepsOf(d incident.Detail) []string {
	var out []string
	for _, e := range d.Timeline {
		switch e.Kind {
		case oncall.KindStep, oncall.KindStepSkipped, oncall.KindRepeat, oncall.KindExhausted, oncall.KindEscalated:
			out = append(out, e.Kind+": "+e.Detail)
		}
	}
	return out
}

func countKind(d incident.Detail, kind, contains string) int {
	n := 0
	for _, e := range d.Timeline {
		if e.Kind == kind && strings.Contains(e.Detail, contains) {
			n++
		}
	}
	return n
}

func TestEscalationClimbsRepeatsAndRunsOut(t *testing.T) {
	h := New(t, WithConfig(escalationConfig))
	// A warning: the criticals-only step is skipped.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag", "severity=warning")))
	h.Advance(10 * time.Minute) // step 2 skipped, step 3 at once
	h.Advance(10 * time.Minute) // round 2, step 1
	h.Advance(10 * time.Minute) // round 2, step 3
	h.Advance(10 * time.Minute) // out of steps
	h.Advance(time.Hour)        // nothing more
	want := []string{
		"escalation.step: step 1/3 (round 1): alice (on call for ops)",
		"escalation.step_skipped: step 2/3 (round 1): only for critical and above, this is warning",
		"escalation.step: step 3/3 (round 1): alice (member of ops), bob (member of ops)",
		"escalation.repeat: nobody acknowledged; policy ops-default starts round 2 of 2",
		"escalation.step: step 1/3 (round 2): alice (on call for ops)",
		"escalation.step_skipped: step 2/3 (round 2): only for critical and above, this is warning",
		"escalation.step: step 3/3 (round 2): alice (member of ops), bob (member of ops)",
		"escalation.exhausted: policy ops-default ran out of steps and nobody acknowledged",
	}
	d := h.Incident(inc.ID)
	if got := stepsOf(d); !slices.Equal(got, want) {
		t.Fatalf("escalation:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// No provider is configured: every notification is recorded as
	// undeliverable, never dropped, and the lead cannot be told either.
	// alice is reached at steps 1 and 3 of both rounds, her rule each time.
	if n := countKind(d, oncall.KindUndeliverable, "sms to alice"); n != 4 {
		t.Fatalf("undeliverable sms to alice recorded %d times, want 4:\n%s", n, Timeline(d))
	}
	for _, e := range d.Timeline {
		if strings.HasPrefix(e.Detail, "sms to alice") {
			if !e.At.Equal(Start.Add(3 * time.Minute)) {
				t.Fatalf("alice's first sms was decided at %s, want 3 minutes after the page", e.At)
			}
			break
		}
	}
	if n := countKind(d, oncall.KindLeadsTold, ""); n != 1 {
		t.Fatalf("the lead's unreachability recorded %d times, want once", n)
	}
	if n := countKind(d, oncall.KindLeadsTold, "no configured way to tell lead"); n == 0 {
		t.Fatalf("the lead's unreachability is not recorded:\n%s", Timeline(d))
	}
	var undeliverable int
	h.App.Store.Read().QueryRow(`SELECT count(*) FROM notifications WHERE incident_id = ? AND state = 'undeliverable'`, inc.ID).Scan(&undeliverable)
	// Each round: alice's three methods at step 1 and again at step 3,
	// bob's chat at step 3.
	if undeliverable != 2*(3+3+1) {
		t.Fatalf("notification log has %d undeliverable rows, want 14", undeliverable)
	}
}

func TestCriticalIncludesTheConditionalStep(t *testing.T) {
	h := New(t, WithConfig(escalationConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Down", "severity=critical")))
	h.Advance(10 * time.Minute)
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 2 || got[1] != "escalation.step: step 2/3 (round 1): carol (named in the policy)" {
		t.Fatalf("escalation = %v", got)
	}
}

func TestAckStopsTheNextStepAndPendingNotifications(t *testing.T) {
	h := New(t, WithConfig(escalationConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag")))
	h.Advance(2 * time.Minute)
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/ack"); r.Code != 200 {
		t.Fatalf("ack = %d", r.Code)
	}
	h.Advance(2 * time.Hour)
	d := h.Incident(inc.ID)
	if got := stepsOf(d); len(got) != 1 {
		t.Fatalf("after ack the policy went on: %v", got)
	}
	// alice's SMS (3m) and call (5m) were never sent after the ack at 2m.
	if n := countKind(d, oncall.KindUndeliverable, "sms to alice") + countKind(d, oncall.KindUndeliverable, "voice to alice"); n != 0 {
		t.Fatalf("notifications after the ack:\n%s", Timeline(d))
	}
}

func TestManualEscalateJumpsToTheNextStep(t *testing.T) {
	h := New(t, WithConfig(escalationConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Down", "severity=critical")))
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/escalate"); r.Code != 200 {
		t.Fatalf("escalate = %d %s", r.Code, r.Body)
	}
	h.Tick()
	got := stepsOf(h.Incident(inc.ID))
	if len(got) != 3 || got[1] != "escalation.manual: to step 2" || !strings.Contains(got[2], "carol") {
		t.Fatalf("after escalate: %v", got)
	}
	// The next step is due 10 minutes after the jump, not after the start.
	h.Advance(9 * time.Minute)
	if n := len(stepsOf(h.Incident(inc.ID))); n != 3 {
		t.Fatalf("step 3 came early: %d entries", n)
	}
	h.Advance(time.Minute)
	if n := len(stepsOf(h.Incident(inc.ID))); n != 4 {
		t.Fatalf("step 3 did not come 10 minutes after the jump")
	}
	// The one who acknowledged asks for help: the incident goes back to
	// triggered and the policy moves on, wanting an ack of its own.
	h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/ack")
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/escalate"); r.Code != 200 || !strings.Contains(string(r.Body), `"status":"triggered"`) {
		t.Fatalf("escalate after ack = %d %s", r.Code, r.Body)
	}
	h.Tick()
	// Past the last step the policy starts its next round.
	if got := stepsOf(h.Incident(inc.ID)); len(got) != 7 || !strings.HasPrefix(got[4], "escalation.manual") ||
		!strings.Contains(got[6], "step 1/3 (round 2): alice") {
		t.Fatalf("after escalating the acknowledged incident: %v", got)
	}
	h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/resolve")
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/escalate"); r.Code != 409 || !strings.Contains(r.Error, "resolved") {
		t.Fatalf("escalate after resolve = %d %s", r.Code, r.Body)
	}
}

func TestAStepDueWhileDownRunsOnRestartWithoutDuplicates(t *testing.T) {
	h := New(t, WithConfig(escalationConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag")))
	// The bot goes down before step 2 is due and comes back 25 minutes
	// later: the overdue work runs at once, each notification once.
	h.Restart()
	h.Clock.Advance(25 * time.Minute)
	h.Restart()
	h.Tick()
	h.Restart()
	h.Tick()
	d := h.Incident(inc.ID)
	if got := stepsOf(d); len(got) != 3 {
		t.Fatalf("after the restart the escalation is %v, want steps 1, 2 (skipped) and 3", got)
	}
	if n := countKind(d, oncall.KindUndeliverable, "sms to alice"); n != 1 {
		t.Fatalf("alice's sms decided %d times, want once", n)
	}
}
