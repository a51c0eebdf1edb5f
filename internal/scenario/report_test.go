package scenario

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/report"
)

const reportConfig = `
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, time_zone: Europe/London, webhook: "%PERSONHOOK%alice", notify: [{method: webhook, after: 0m}]}
  - {name: bob, time_zone: America/New_York, webhook: "%PERSONHOOK%bob", notify: [{method: webhook, after: 0m}]}
  - {name: carol, time_zone: Australia/Sydney, webhook: "%PERSONHOOK%carol", notify: [{method: webhook, after: 0m}]}
teams:
  - {name: ops, members: [alice, bob, carol], leads: [carol], schedule: ops, escalation_policy: p}
schedules:
  - name: ops
    time_zone: Europe/London
    layers: [{name: w, rotation: weekly, start: "2026-02-23 09:00", participants: [alice]}]
escalation_policies:
  - name: p
    steps:
      - {delay: 10m, targets: [{schedule: ops}]}
      - {delay: 10m, targets: [{user: bob}]}
`

// Issue 11: a week of incidents at set local times, paged and answered
// through the real bot on the fake clock, gives exact figures. The week
// holds New York's change to summer time (Sunday 8 March, 02:00): bob's
// page at 12:30 UTC that Sunday is 08:30 there, off hours, where it would
// have been 07:30, sleep hours, the day before.
func TestAWeeksHandoffReportFromTheRealBot(t *testing.T) {
	h := New(t, WithConfig(reportConfig)) // Monday 2 March, 03:00 UTC
	ack := func(id string) { h.API("POST", "/api/v1/incidents/"+id+"/ack") }

	// Monday 03:00 London: alice woken; acked after 5 minutes, resolved 25 later.
	h.PostAlerts(Firing("alertname=DiskA").Summary("disk full on db-03"))
	h.Advance(5 * time.Minute)
	ack("1")
	h.Advance(25 * time.Minute)
	h.API("POST", "/api/v1/incidents/1/resolve")

	// Tuesday 14:00 London: business hours; at 14:10 step 2 pages bob
	// (09:10 in New York, still winter time), and then the alert clears
	// by itself.
	h.Advance(time.Date(2026, 3, 3, 14, 0, 0, 0, time.UTC).Sub(h.Clock.Now()))
	h.PostAlerts(Firing("alertname=DiskB").Summary("disk full on db-11"))
	h.Advance(10 * time.Minute)
	h.PostAlerts(Firing("alertname=DiskB").Summary("disk full on db-11").Resolved(h.Clock.Now()))

	// Sunday 12:20 UTC: alice (London, Sunday noon: off hours), then at
	// 12:30 step 2 pages bob (08:30 in New York, summer time since 02:00).
	h.Advance(time.Date(2026, 3, 8, 12, 20, 0, 0, time.UTC).Sub(h.Clock.Now()))
	h.PostAlerts(Firing("alertname=Kinesis").Summary("Kinesis behind 3f9a2c1d"))
	h.Advance(10 * time.Minute)
	h.Advance(5 * time.Minute)
	ack("3")

	src := h.App.Reports()
	r, err := src.ParseRange("ops", []string{"2026-03-02", "2026-03-09"}, h.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	hand, err := src.Weekly(context.Background(), "ops", r)
	if err != nil {
		t.Fatal(err)
	}
	got := hand.Response
	want := report.Response{
		Incidents:        3,
		TimeToAck:        report.Durations{Count: 2, Mean: 600, Median: 300, P95: 900},   // 5 and 15 minutes
		TimeToResolve:    report.Durations{Count: 2, Mean: 1200, Median: 600, P95: 1800}, // 10 and 30 minutes; the third is open
		AckedShare:       0.667,
		AutoResolved:     1,
		EscalatedTimeout: 2,
	}
	if got != want {
		t.Errorf("response =\n%+v\nwant\n%+v", got, want)
	}
	people := map[string]report.PersonCost{}
	for _, p := range hand.People {
		people[p.Person] = p
	}
	alice, bob := people["alice"], people["bob"]
	if alice.Interruptions[report.Sleep] != 1 || alice.Interruptions[report.Business] != 1 || alice.Interruptions[report.Off] != 1 ||
		alice.Nights != 1 || alice.Hours != 3 {
		t.Errorf("alice = %+v, want one interruption in each bucket, one night, three hours", alice)
	}
	if bob.Interruptions[report.Off] != 1 || bob.Interruptions[report.Business] != 1 || bob.Interruptions[report.Sleep] != 0 || bob.Nights != 0 {
		t.Errorf("bob = %+v, want Tuesday 09:10 EST in business hours and Sunday 08:30 EDT off hours", bob)
	}
	// alice is on call the whole week; its weekend is 48 hours in London.
	if alice.WeekendOnCallHours != 48 {
		t.Errorf("alice's weekend on call = %v hours, want 48", alice.WeekendOnCallHours)
	}
	n := hand.Noise
	if n.Alerts != 3 || n.Incidents != 3 || n.NoHumanShare != 0.5 || len(n.Categories) != 2 ||
		n.Categories[0].Name != "disk full on db-#" || n.Categories[0].Incidents != 2 || n.Categories[0].SleepPages != 1 ||
		n.Categories[1].Name != "Kinesis behind #" || !n.Categories[1].New {
		t.Errorf("noise = %+v", n)
	}
	if len(hand.Trend) != 4 || hand.Trend[3].Incidents != 3 || hand.Trend[0].Incidents != 0 {
		t.Errorf("trend = %+v", hand.Trend)
	}
	// Carried over: #3, acknowledged minutes ago. The week ahead: no
	// handoff (alice alone is in the rotation), no gap; London's clocks
	// change on 29 March, outside it.
	if co := hand.CarryOver; len(co.Acknowledged) != 1 || co.Acknowledged[0].ID != 3 || len(co.Triggered) != 0 || len(co.AckedForDays) != 0 {
		t.Errorf("carry-over = %+v", co)
	}
	if nw := hand.NextWeek; len(nw.Handoffs) != 0 || len(nw.Gaps) != 0 || len(nw.DSTChange) != 0 {
		t.Errorf("next week = %+v", nw)
	}

	// The same report from the API, and its refusals.
	r1 := h.API("GET", "/api/v1/reports/handoff?team=ops&from=2026-03-02&to=2026-03-09")
	var api report.Handoff
	if err := json.Unmarshal(r1.Body, &api); err != nil || r1.Code != 200 || api.Response != hand.Response {
		t.Fatalf("API report = %d %v %s", r1.Code, err, r1.Body)
	}
	for _, c := range []struct{ query, says string }{
		{"team=nope", `there is no team "nope"`},
		{"team=ops&week=2025-W53", "2025-W53 does not exist"},
		{"team=ops&from=2026-03-09&to=2026-03-02", "is not after"},
		{"team=ops&from=2026-03-02", "from and to go together"},
		{"", "team is required"},
	} {
		r := h.API("GET", "/api/v1/reports/handoff?"+c.query)
		var e struct{ Error string }
		json.Unmarshal(r.Body, &e)
		if r.Code != 400 || !strings.Contains(e.Error, c.says) {
			t.Errorf("?%s = %d %s, want 400 saying %q", c.query, r.Code, r.Body, c.says)
		}
	}
}

// /oncall tag in an incident's room labels it; /oncall report in the
// team's room answers the short card, counting the tag; a bad range is
// answered privately with the usage.
func TestReportAndTagOnSlack(t *testing.T) {
	cfg := strings.Replace(slackConfig, "{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {slack: C0TEAM}}", 1)
	h := New(t, WithConfig(cfg))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db-03")))
	ch := h.Slack.Channel("inc-1-disk-full-on-db-03")
	h.Advance(2 * time.Minute)
	h.SlackCommand("U0ALICE", ch.ID, "ack")
	h.SlackCommand("U0ALICE", ch.ID, "resolve")
	if _, kind, text := h.SlackCommand("U0BOB", ch.ID, "tag needs-tuning"); !strings.Contains(text, "tagged needs-tuning by bob") {
		t.Fatalf("tag = %s %q", kind, text)
	}
	// The resolved card offers the tags as buttons.
	if msgs := h.Slack.Messages(ch.ID); !strings.Contains(msgs[0].Blocks, `"tag noise #1"`) {
		t.Fatalf("the resolved card has no tag buttons: %s", msgs[0].Blocks)
	}
	h.SlackPress("U0ALICE", ch.ID, "tag noise #1")
	h.SlackCommand("U0BOB", ch.ID, "tag needs-tuning")
	tagged, pressed := false, false
	for _, e := range h.Incident(inc.ID).Timeline {
		tagged = tagged || e.Kind == "incident.tagged" && e.Detail == "needs-tuning" && e.Actor == "slack:bob"
		pressed = pressed || e.Kind == "incident.tagged" && e.Detail == "noise" && e.Actor == "slack:alice"
	}
	if !pressed {
		t.Fatalf("the button's tag is not on the timeline:\n%s", Timeline(h.Incident(inc.ID)))
	}
	if !tagged {
		t.Fatalf("the tag is not on the timeline:\n%s", Timeline(h.Incident(inc.ID)))
	}

	h.Advance(7 * 24 * time.Hour) // past the next Monday 09:00 handoff
	_, _, card := h.SlackCommand("U0BOB", "C0TEAM", "report")
	for _, want := range []string{"Handoff report for ops", "• Incidents: 1 ↑ (before: 0)", "• Time to ack, median: 2m0s", "• Top alert: disk full on db-# (1 incidents"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "untagged") {
		t.Errorf("a tagged incident counted as untagged:\n%s", card)
	}
	if _, kind, text := h.SlackCommand("U0BOB", "C0TEAM", "report ops 2025-W53"); kind != "ephemeral" || !strings.Contains(text, "2025-W53 does not exist") || !strings.Contains(text, "Usage: /oncall report") {
		t.Errorf("bad week = %s %q", kind, text)
	}
	if _, kind, text := h.SlackCommand("U0BOB", "C0TEAM", "report nope"); kind != "ephemeral" || !strings.Contains(text, "nope") {
		t.Errorf("unknown team = %s %q", kind, text)
	}
}

// The console's Reports page: the figures, the chart (an SVG the page
// loads), the drill-down from a category to its incidents, and a bad
// range said on the page with a 400.
func TestConsoleReportsPage(t *testing.T) {
	h := New(t, WithConfig(strings.Replace(reportConfig, "api_tokens:", "console_tokens: [{token: carol-console, person: carol}]\napi_tokens:", 1)))
	h.PostAlerts(Firing("alertname=DiskA").Summary("disk full on db-03"))
	h.Advance(5 * time.Minute)
	h.API("POST", "/api/v1/incidents/1/ack")
	b := browser(t)
	post(t, b, h.Server.URL+"/login", url.Values{"token": {"carol-console"}})
	code, page, path := get(t, b, h.Server.URL+"/reports")
	if code != 200 || path != "/reports/ops" {
		t.Fatalf("GET /reports = %d at %s", code, path)
	}
	code, page, _ = get(t, b, h.Server.URL+"/reports/ops?from=2026-03-02&to=2026-03-09")
	for _, want := range []string{"Handoff report: ops", "<td>1</td>", "5m0s", `<img src="/reports/ops/chart.svg?from=2026-03-02&amp;to=2026-03-09"`,
		"<summary>disk full on db-#</summary>", `<a href="/incidents/1">#1</a>`, "alice <span class=\"muted\">Europe/London</span>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if code, svg, _ := get(t, b, h.Server.URL+"/reports/ops/chart.svg?from=2026-03-02&to=2026-03-09"); code != 200 || !strings.HasPrefix(strings.TrimSpace(svg), "<svg") {
		t.Errorf("chart = %d %.60q", code, svg)
	}
	if code, page, _ := get(t, b, h.Server.URL+"/reports/ops?week=2025-W53"); code != 400 || !strings.Contains(page, "2025-W53 does not exist") {
		t.Errorf("bad week = %d", code)
	}
	if code, _, _ := get(t, b, h.Server.URL+"/reports/nope"); code != 404 {
		t.Errorf("unknown team = %d", code)
	}
}

// Issue 11: at each weekly handoff the team's room gets the handoff
// report by itself, for the person coming on call; a restart arms no
// second timer.
func TestTheHandoffReportIsPostedAtEachHandoff(t *testing.T) {
	cfg := strings.Replace(slackConfig, "{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
		"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {slack: C0TEAM}}", 1)
	h := New(t, WithConfig(cfg)) // Monday 2 March 03:00 UTC; ops hands over on Mondays at 09:00 London
	h.Slack.mu.Lock()
	h.Slack.channels["C0TEAM"] = &SlackChannel{ID: "C0TEAM", Name: "ops"}
	h.Slack.mu.Unlock()
	posts := func() int {
		n := 0
		for _, m := range h.Slack.Messages("C0TEAM") {
			if strings.Contains(m.Text, "Handoff report for ops") {
				n++
			}
		}
		return n
	}
	h.Advance(5*time.Hour + 59*time.Minute)
	if n := posts(); n != 0 {
		t.Fatalf("%d posts before the handoff", n)
	}
	h.Advance(2 * time.Minute) // 09:01
	if n := posts(); n != 1 {
		t.Fatalf("%d posts at the handoff, want 1", n)
	}
	// The chart comes under the card, as /oncall report's does.
	if files := h.Slack.WaitFiles("C0TEAM", 1); len(files) != 1 || !strings.HasPrefix(files[0].Name, "handoff-ops-") {
		t.Fatalf("files in the team's channel = %+v, want the chart once", files)
	} else {
		expectChart(t, "slack file "+files[0].Name, files[0].Data)
	}
	h.Restart()
	h.Advance(7 * 24 * time.Hour)
	if n := posts(); n != 2 {
		t.Fatalf("%d posts after a restart and a week, want 2", n)
	}
	last := h.Slack.Messages("C0TEAM")
	if text := last[len(last)-1].Text; !strings.Contains(text, "Mon 2 Mar 09:00 to Mon 9 Mar 09:00 GMT") {
		t.Errorf("the second post covers %q, want the week that just ended", text)
	}
}

// The Monday 09:00 handoff posts the report on every platform: the
// team's Telegram forum (its general topic) and its Discord channel, as on
// Slack above.
func TestTheHandoffReportIsPostedOnTelegramAndDiscord(t *testing.T) {
	cases := []struct {
		name string
		cfg  string
		// posts returns the words posted in the team's room and the
		// pictures.
		posts func(h *Harness) ([]string, [][]byte)
	}{
		{"telegram", telegramConfig, func(h *Harness) ([]string, [][]byte) {
			var out []string
			var pics [][]byte
			for _, m := range h.Telegram.Messages(TelegramForum, 0) {
				if m.Photo != nil {
					pics = append(pics, m.Photo)
					continue
				}
				out = append(out, m.Text)
			}
			return out, pics
		}},
		{"discord", discordConfig, func(h *Harness) ([]string, [][]byte) {
			var out []string
			var pics [][]byte
			for _, m := range h.Discord.Messages(DiscordIncident) {
				for _, f := range m.Files {
					pics = append(pics, f.Data)
				}
				out = append(out, m.Content)
			}
			return out, pics
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := New(t, WithConfig(c.cfg))
			h.Advance(6*time.Hour + time.Minute) // Monday 09:01 London
			texts, pics := c.posts(h)
			got := strings.Join(texts, "\n")
			if strings.Count(got, "Handoff report for ops") != 1 {
				t.Fatalf("posts in the team's room:\n%s", got)
			}
			if len(pics) != 1 {
				t.Fatalf("%d pictures in the team's room, want the chart once", len(pics))
			}
			expectChart(t, c.name+" chart", pics[0])
		})
	}
}
