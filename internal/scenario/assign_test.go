package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

func TestAssignFromSlackHandsTheIncidentOver(t *testing.T) {
	h := New(t, WithConfig(withDave(slackConfig, "slack: U0DAVE")))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	ch := h.Slack.Channel("inc-1-outage")
	if ch == nil {
		t.Fatal("no channel")
	}

	// bob hands the incident to dave, @mentioning him as Slack writes it.
	code, kind, text := h.SlackCommand("U0BOB", ch.ID, "assign <@U0DAVE|dave>")
	if code != 200 || kind != "in_channel" || !strings.Contains(text, "#1 assigned to dave by bob; dave is being paged") {
		t.Fatalf("assign = %d %s %q", code, kind, text)
	}
	h.Tick()
	d := h.Incident(inc.ID)
	if d.Assignee != "dave" || d.Status != incident.StatusTriggered {
		t.Fatalf("after assign: assignee %q, status %s", d.Assignee, d.Status)
	}
	if n := countKind(d, incident.KindAssigned, "to dave"); n != 1 {
		t.Fatalf("%d assignment entries on the timeline:\n%s", n, Timeline(d))
	}
	// dave is called into the channel and paged by his own rule (chat).
	ch = h.Slack.Channel("inc-1-outage")
	if !slices.Contains(ch.Members, "U0DAVE") {
		t.Fatalf("dave not invited: %v", ch.Members)
	}
	if dm := h.Slack.Messages("DU0DAVE"); len(dm) != 1 {
		t.Fatalf("dave's DM pages = %d, want 1", len(dm))
	}
	// Every card shows him.
	if msgs := h.Slack.Messages(ch.ID); !strings.Contains(msgs[0].Blocks, "Assignee") || !strings.Contains(msgs[0].Blocks, "dave") {
		t.Fatalf("card after assign: %s", msgs[0].Blocks)
	}

	// The policy keeps climbing while dave sleeps: step 2 at +10 min.
	h.Advance(10 * time.Minute)
	if n := countKind(h.Incident(inc.ID), oncall.KindStep, "step 2/2"); n != 1 {
		t.Fatalf("step 2 ran %d times after the assignment", n)
	}

	// Refusals say why.
	for _, c := range []struct{ line, says string }{
		{"assign dave", "already assigned to dave"},
		{"assign zed", `no person "zed"`},
		// What was typed comes back escaped: Slack shows it as typed, and
		// it pings nobody.
		{"assign <@U0NOBODY>", "don't know who &lt;@U0NOBODY&gt; is"},
	} {
		_, kind, text := h.SlackCommand("U0BOB", ch.ID, c.line)
		if kind != "ephemeral" || !strings.Contains(text, c.says) {
			t.Errorf("%s = %s %q, want a private refusal saying %q", c.line, kind, text, c.says)
		}
	}

	// dave acknowledges, then alice takes the incident herself: no page.
	h.API("POST", "/api/v1/incidents/1/ack")
	_, _, text = h.SlackCommand("U0ALICE", ch.ID, "assign me")
	if !strings.Contains(text, "alice took incident #1") {
		t.Fatalf("assign me = %q", text)
	}
	h.Tick()
	d = h.Incident(inc.ID)
	if d.Assignee != "alice" || d.Status != incident.StatusAcknowledged {
		t.Fatalf("after assign me: assignee %q, status %s", d.Assignee, d.Status)
	}
	before := len(h.Slack.Messages("DU0ALICE"))
	h.Advance(time.Hour)
	if after := len(h.Slack.Messages("DU0ALICE")); after != before {
		t.Fatalf("alice was paged %d more times after taking the acknowledged incident", after-before)
	}

	h.API("POST", "/api/v1/incidents/1/resolve")
	if _, _, text := h.SlackCommand("U0BOB", ch.ID, "assign dave"); !strings.Contains(text, "resolved; reopen it first") {
		t.Fatalf("assign a resolved incident = %q", text)
	}
}

func TestAssignOverTheAPI(t *testing.T) {
	h := New(t, WithConfig(withDave(slackConfig, "slack: U0DAVE")))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	path := "/api/v1/incidents/" + itoa(inc.ID) + "/assign"
	cases := []struct {
		name  string
		body  any
		code  int
		field string
		says  string
	}{
		{"no person", map[string]string{}, 400, "person", "person"},
		{"unknown field", map[string]string{"who": "dave"}, 400, "person", "person"},
		{"unknown person", map[string]string{"person": "zed"}, 400, "person", `no person "zed"`},
		{"dave", map[string]string{"person": "dave"}, 200, "", ""},
		{"dave again", map[string]string{"person": "dave"}, 409, "", "already assigned"},
	}
	for _, c := range cases {
		r := h.APIJSON("POST", path, c.body)
		if r.Code != c.code || r.Field != c.field || !strings.Contains(r.Error, c.says) {
			t.Errorf("%s: %d field=%q error=%q, want %d field=%q saying %q", c.name, r.Code, r.Field, r.Error, c.code, c.field, c.says)
		}
		if c.code == 200 && !strings.Contains(string(r.Body), `"assignee":"dave"`) {
			t.Errorf("%s: body %s does not name the assignee", c.name, r.Body)
		}
	}
	if r := h.APIJSON("POST", "/api/v1/incidents/999/assign", map[string]string{"person": "dave"}); r.Code != 404 {
		t.Errorf("assign an unknown incident = %d %s", r.Code, r.Body)
	}
	h.Tick()
	if dm := h.Slack.Messages("DU0DAVE"); len(dm) != 1 {
		t.Fatalf("dave's DM pages after the API assignment = %d, want 1", len(dm))
	}
}

func TestEscalateAnAcknowledgedIncidentFromTheCard(t *testing.T) {
	h := New(t, WithConfig(withDave(slackConfig, "slack: U0DAVE")))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Outage")))
	ch := h.Slack.Channel("inc-1-outage")
	h.SlackPress("U0ALICE", ch.ID, "ack #1")
	h.Tick()
	// The acknowledged card still offers Escalate: alice needs help.
	if msgs := h.Slack.Messages(ch.ID); !strings.Contains(msgs[0].Blocks, `"escalate #1"`) {
		t.Fatalf("acknowledged card has no Escalate: %s", msgs[0].Blocks)
	}
	h.SlackPress("U0ALICE", ch.ID, "escalate #1")
	h.Tick()
	d := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	if n := countKind(d, oncall.KindStep, "step 2/2: dave"); n != 1 {
		t.Fatalf("step 2 paged %d times after the escalation:\n%s", n, Timeline(d))
	}
	if dm := h.Slack.Messages("DU0DAVE"); len(dm) != 1 {
		t.Fatalf("dave's DM pages = %d, want 1", len(dm))
	}
	if msgs := h.Slack.Messages(ch.ID); !strings.Contains(msgs[0].Blocks, `"ack #1"`) {
		t.Fatalf("card after escalation does not ask for an ack: %s", msgs[0].Blocks)
	}
}
