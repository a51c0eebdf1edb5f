package scenario

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

const davePhone = "+12025550104"

func phoneWithDave(cfg string) string {
	cfg = strings.Replace(cfg, "  - name: carol\n", "  - name: dave\n    phone: \""+davePhone+"\"\n  - name: carol\n", 1)
	cfg = strings.Replace(cfg, "escalation_policies:\n", `  - name: other
    time_zone: UTC
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [dave]}
escalation_policies:
  - name: other-default
    steps:
      - {delay: 15m, targets: [{schedule: other}]}
`, 1)
	return strings.Replace(cfg, "escalation_policy: ops-default}\n", "escalation_policy: ops-default}\n  - {name: other, members: [dave], schedule: other, escalation_policy: other-default}\n", 1)
}

// smsWithSID texts the bot with a given MessageSid, as Twilio does (and
// again, for a replay); it returns the status and the raw TwiML.
func (h *Harness) smsWithSID(from, body, sid string) (int, string) {
	h.T.Helper()
	return h.twilioPost("/twilio/sms", url.Values{
		"From": {from}, "To": {TwilioFrom}, "Body": {body}, "MessageSid": {sid},
		"AccountSid": {TwilioSID}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"},
	}, TwilioToken)
}

// keyOnCall presses digit on call c as if the person called were to.
func (h *Harness) keyOnCall(c TwilioCall, to, digit string) (int, string) {
	h.T.Helper()
	m := gatherAction.FindStringSubmatch(c.Twiml)
	if m == nil {
		h.T.Fatalf("call TwiML has no Gather action: %s", c.Twiml)
	}
	path := strings.TrimPrefix(strings.ReplaceAll(m[1], "&amp;", "&"), h.Config.BaseURL)
	return h.twilioPost(path, url.Values{
		"CallSid": {c.SID}, "AccountSid": {TwilioSID}, "From": {c.From}, "To": {to},
		"Digits": {digit}, "CallStatus": {"in-progress"}, "Direction": {"outbound-api"},
	}, TwilioToken)
}

// says is what a webhook's TwiML answer says, "" for an empty one.
func (h *Harness) says(code int, out string) string {
	h.T.Helper()
	if code != 200 {
		h.T.Fatalf("Twilio webhook answered %d: %s", code, out)
	}
	m := twimlText.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestPhoneCommandsFollowTheTeamRule(t *testing.T) {
	h := New(t, WithConfig(phoneWithDave(phoneConfig)))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull")))
	if inc.Team != "ops" {
		t.Fatalf("incident team %q, want ops", inc.Team)
	}
	h.Advance(5 * time.Minute) // alice's SMS at +3m, her call at +5m
	before := len(h.Incident(inc.ID).Timeline)

	// dave is on team other only: every phone command on ops's incident is
	// refused in words, and nothing changes.
	for _, body := range []string{"1 ack", "1 resolve", "1 escalate"} {
		if got := h.ReplySMS(davePhone, body); !strings.Contains(got, "you are not on team ops") {
			t.Fatalf("dave's %q answered %q", body, got)
		}
	}
	calls := h.Twilio.Calls(alicePhone)
	if len(calls) != 1 {
		t.Fatalf("alice's calls = %+v", calls)
	}
	for _, digit := range []string{"1", "2"} {
		code, out := h.keyOnCall(calls[0], davePhone, digit)
		if said := h.says(code, out); !strings.Contains(said, "you are not on team ops") {
			t.Fatalf("dave pressing %s: the bot said %q", digit, said)
		}
	}
	d := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	if d.AcknowledgedBy != "" || d.ResolvedBy != "" || len(d.Timeline) != before {
		t.Fatalf("dave's refused commands changed the incident:\n%s", Timeline(d))
	}

	// A member and a lead of ops still can.
	if got := h.ReplySMS(bobPhone, "1 ack"); got != "Incident 1 acknowledged." {
		t.Fatalf("bob's ack answered %q", got)
	}
	if got := h.ReplySMS(leadPhone, "resolve 1"); got != "Incident 1 resolved." {
		t.Fatalf("the lead's resolve answered %q", got)
	}
	d = h.ExpectStatus(inc.ID, incident.StatusResolved)
	if d.AcknowledgedBy != "sms:bob" || d.ResolvedBy != "sms:lead" {
		t.Fatalf("acked by %q, resolved by %q", d.AcknowledgedBy, d.ResolvedBy)
	}
}

func TestReplayedTwilioRequestsActOnce(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag")))
	h.Advance(5 * time.Minute)

	// An SMS escalates once; the same MessageSid again (a replay, or
	// Twilio retrying one already handled) gets an empty 200 and does
	// nothing.
	if said := h.says(h.smsWithSID(bobPhone, "1 escalate", "SMreplay0001")); said != "Incident 1 escalated." {
		t.Fatalf("escalate answered %q", said)
	}
	if n := countKind(h.Incident(inc.ID), oncall.KindEscalated, ""); n != 1 {
		t.Fatalf("%d manual escalations, want 1", n)
	}
	code, out := h.smsWithSID(bobPhone, "1 escalate", "SMreplay0001")
	if said := h.says(code, out); said != "" || !strings.Contains(out, "<Response></Response>") {
		t.Fatalf("replayed SMS answered %q", out)
	}
	if n := countKind(h.Incident(inc.ID), oncall.KindEscalated, ""); n != 1 {
		t.Fatalf("after the replay %d manual escalations, want 1", n)
	}

	// The same for a keypress: CallSid and digit once; the call's other
	// digit is a new request.
	calls := h.Twilio.Calls(alicePhone)
	if len(calls) != 1 {
		t.Fatalf("alice's calls = %+v", calls)
	}
	if said := h.says(h.keyOnCall(calls[0], alicePhone, "2")); said != "Incident 1 escalated. Goodbye." {
		t.Fatalf("pressing 2 said %q", said)
	}
	code, out = h.keyOnCall(calls[0], alicePhone, "2")
	if said := h.says(code, out); said != "" || !strings.Contains(out, "<Response></Response>") {
		t.Fatalf("replayed keypress answered %q", out)
	}
	if n := countKind(h.Incident(inc.ID), oncall.KindEscalated, ""); n != 2 {
		t.Fatalf("after the keypress and its replay %d manual escalations, want 2", n)
	}
	if said := h.says(h.keyOnCall(calls[0], alicePhone, "1")); said != "Incident 1 acknowledged. Goodbye." {
		t.Fatalf("pressing 1 said %q", said)
	}
	code, out = h.keyOnCall(calls[0], alicePhone, "1")
	if said := h.says(code, out); said != "" {
		t.Fatalf("replayed ack keypress said %q", said)
	}
	d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	if d.AcknowledgedBy != "voice:alice" || countKind(d, incident.KindAcknowledged, "") != 1 {
		t.Fatalf("acknowledged by %q:\n%s", d.AcknowledgedBy, Timeline(d))
	}
}
