package scenario

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// phoneConfig pages alice by chat at once, SMS after 3 minutes and a call
// after 5; Twilio is the fake.
const phoneConfig = `
api_tokens: [{name: tester, token: api-secret}]
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops}
twilio: {account_sid: "%TWILIO_SID%", auth_token: "%TWILIO_TOKEN%", from: "%TWILIO_FROM%", base_url: "%TWILIO%"}
people:
  - name: alice
    phone: "+441632960001"
    notify: [{method: chat, after: 0m}, {method: sms, after: 3m}, {method: voice, after: 5m}]
  - name: bob
    phone: "+12025550102"
    notify: [{method: sms, after: 0m}]
  - name: lead
    phone: "+12025550199"
    notify: [{method: sms, after: 0m}]
  - name: carol
    phone: "+12025550103"
teams:
  - {name: ops, members: [alice, bob, carol], leads: [lead], schedule: ops, escalation_policy: ops-default}
schedules:
  - name: ops
    time_zone: UTC
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
escalation_policies:
  - name: ops-default
    steps:
      - {delay: 15m, targets: [{schedule: ops}]}
      - {delay: 15m, targets: [{user: bob}]}
`

const alicePhone, bobPhone, leadPhone = "+441632960001", "+12025550102", "+12025550199"

func TestPageClimbsFromChatToSMSToACallAndAKeypressAcks(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull", "severity=critical").Summary("disk full on db1")))

	// Chat is not configured: undeliverable, and the lead is told by SMS.
	d := h.Incident(inc.ID)
	if countKind(d, oncall.KindUndeliverable, "chat to alice") != 1 {
		t.Fatalf("chat page not recorded as undeliverable:\n%s", Timeline(d))
	}
	if got := h.Twilio.Messages(leadPhone); len(got) != 1 || !strings.Contains(got[0].Body, "Could not reach alice by chat") {
		t.Fatalf("lead's SMS = %+v", got)
	}
	if len(h.Twilio.Messages(alicePhone)) != 0 {
		t.Fatal("SMS before its 3 minutes")
	}

	h.Advance(3 * time.Minute)
	sms := h.Twilio.Messages(alicePhone)
	if len(sms) != 1 || !strings.Contains(sms[0].Body, "#1 disk full on db1") || !strings.Contains(sms[0].Body, `"1 ack"`) {
		t.Fatalf("alice's SMS at +3m = %+v", sms)
	}
	if len(h.Twilio.Calls(alicePhone)) != 0 {
		t.Fatal("called before the 5 minutes")
	}

	h.Advance(2 * time.Minute)
	calls := h.Twilio.Calls(alicePhone)
	if len(calls) != 1 || !strings.Contains(calls[0].Twiml, "Press 1 to acknowledge") {
		t.Fatalf("alice's call at +5m = %+v", calls)
	}
	if said := h.PressKey(calls[0], "1"); said != "Incident 1 acknowledged. Goodbye." {
		t.Fatalf("after pressing 1 the bot said %q", said)
	}
	d = h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	if d.AcknowledgedBy != "voice:alice" {
		t.Fatalf("acknowledged by %q, want voice:alice", d.AcknowledgedBy)
	}
	// No more pages: step 2 (bob at +15m) never comes.
	h.Advance(time.Hour)
	if got := h.Twilio.Messages(bobPhone); len(got) != 0 {
		t.Fatalf("bob paged after the ack: %+v", got)
	}
	if got := len(h.Twilio.Messages(alicePhone)) + len(h.Twilio.Calls(alicePhone)); got != 2 {
		t.Fatalf("alice got %d SMS and calls, want 2", got)
	}
}

func TestSMSRepliesAckResolveAndAreAuthenticated(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag")))
	h.Advance(3 * time.Minute)

	// A forged reply (wrong signing key) is refused and changes nothing.
	code, _ := h.twilioPost("/twilio/sms", url.Values{"From": {alicePhone}, "To": {TwilioFrom}, "Body": {"ack"}}, "not-the-token")
	if code != 401 {
		t.Fatalf("forged SMS = %d, want 401", code)
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)

	if got := h.ReplySMS("+19999999999", "ack"); !strings.Contains(got, "not known") {
		t.Fatalf("stranger's reply answered %q", got)
	}
	if got := h.ReplySMS(alicePhone, "hello?"); !strings.Contains(got, `"42 ack"`) {
		t.Fatalf("help answer = %q", got)
	}
	if got := h.ReplySMS(alicePhone, "ack"); got != "Incident 1 acknowledged." {
		t.Fatalf("bare ack answered %q", got)
	}
	if got := h.ReplySMS(alicePhone, "1 ack"); !strings.Contains(got, "already acknowledged by sms:alice") {
		t.Fatalf("second ack answered %q", got)
	}
	if got := h.ReplySMS(bobPhone, "resolve 1"); got != "Incident 1 resolved." {
		t.Fatalf("resolve answered %q", got)
	}
	d := h.ExpectStatus(inc.ID, incident.StatusResolved)
	if d.ResolvedBy != "sms:bob" {
		t.Fatalf("resolved by %q", d.ResolvedBy)
	}
	if got := h.ReplySMS(bobPhone, "99 ack"); !strings.Contains(got, "no incident 99") {
		t.Fatalf("unknown incident answered %q", got)
	}
}

func TestSMSRateLimitBundlesPagesAndStatusCallbacksAreRecorded(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	// alice's SMS for A goes out at +3m. Those for B (+3m20s) and C
	// (+3m40s) fall due within the minute after it: they wait, and go out
	// together at +4m, as one SMS.
	a := h.OnlyIncident(h.PostAlerts(Firing("alertname=A")))
	h.Advance(20 * time.Second)
	b := h.OnlyIncident(h.PostAlerts(Firing("alertname=B")))
	h.Advance(20 * time.Second)
	c := h.OnlyIncident(h.PostAlerts(Firing("alertname=C")))
	h.Advance(2*time.Minute + 20*time.Second) // +3m
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("at +3m alice got %d SMS, want A's", len(got))
	}
	h.Advance(time.Minute - time.Millisecond) // just before +4m
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("alice got %d SMS within a minute", len(got))
	}
	h.Advance(time.Millisecond) // +4m
	sms := h.Twilio.Messages(alicePhone)
	if len(sms) != 2 {
		t.Fatalf("alice got %d SMS, want 2: %+v", len(sms), sms)
	}
	if !strings.HasPrefix(sms[1].Body, "2 pages:") || !strings.Contains(sms[1].Body, "#"+itoa(b.ID)) || !strings.Contains(sms[1].Body, "#"+itoa(c.ID)) {
		t.Fatalf("bundled SMS = %q", sms[1].Body)
	}
	// Twilio reports the first SMS failed (21610: unsubscribed): the
	// incident's timeline says so.
	if code := h.TwilioStatus(sms[0], "failed", "21610"); code != 204 {
		t.Fatalf("status callback = %d", code)
	}
	d := h.Incident(a.ID)
	if countKind(d, oncall.KindUndeliverable, "sms to alice: failed Twilio error 21610") != 1 {
		t.Fatalf("failed delivery not on the timeline:\n%s", Timeline(d))
	}
	if code := h.TwilioStatus(sms[1], "delivered", ""); code != 204 {
		t.Fatalf("status callback = %d", code)
	}
	var states []string
	rows, _ := h.App.Store.Read().Query(`SELECT state FROM notifications WHERE method = 'sms' AND person = 'alice' ORDER BY id`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		states = append(states, s)
	}
	rows.Close()
	if !slices.Equal(states, []string{"failed", "delivered", "delivered"}) {
		t.Fatalf("alice's sms notifications = %v", states)
	}
	if code, _ := h.twilioPost("/twilio/status", url.Values{"MessageSid": {sms[0].SID}, "MessageStatus": {"delivered"}}, "forged"); code != 401 {
		t.Fatalf("forged status callback = %d", code)
	}
}

func TestTwilioDownDelaysSMSButNeverLosesIt(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	h.PostAlerts(Firing("alertname=Outage")) // the lead's SMS (alice's chat is undeliverable) goes out
	h.Twilio.FailNext(3, 503, "")
	h.Advance(3 * time.Minute)
	if len(h.Twilio.Messages(alicePhone)) != 0 {
		t.Fatal("an SMS got through a failing Twilio")
	}
	h.Advance(time.Minute) // retries with backoff: 2s, 4s, 8s
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("after Twilio recovered alice got %d SMS, want exactly 1", len(got))
	}
}

// A send cut off by a crash (marked, never recorded sent) may or may not
// have reached the person: it goes again, once, so the page arrives at
// least once, and the timeline says it may arrive twice.
func TestASendCutOffByACrashIsSentAgainOnce(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Crashy")))
	h.Twilio.FailNext(1, 503, "")
	h.Advance(3 * time.Minute) // alice's SMS: Twilio fails cleanly, a retry is due
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("SMS through a failing Twilio: %d", len(got))
	}
	var since *int64
	h.App.Store.Read().QueryRow(`SELECT sending_since FROM notifications WHERE person = 'alice' AND method = 'sms'`).Scan(&since)
	if since != nil {
		t.Fatal("a clean failure left the sending mark; the retry would be suppressed")
	}
	// Now the process dies in the middle of the retry's send: the mark is
	// there and the outbox row still pending, as a restart would find them.
	if err := h.App.Store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE notifications SET sending_since = 1 WHERE person = 'alice' AND method = 'sms'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.Restart()
	h.Advance(time.Minute)
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("the interrupted SMS went %d times after the restart, want once", len(got))
	}
	d := h.Incident(inc.ID)
	if countKind(d, oncall.KindNotifyRetried, "may arrive twice") != 1 {
		t.Fatalf("the resend is not on the timeline:\n%s", Timeline(d))
	}
	// Sent is final: another restart sends nothing more.
	h.Restart()
	h.Advance(time.Minute)
	if got := h.Twilio.Messages(alicePhone); len(got) != 1 {
		t.Fatalf("alice got %d SMS after a second restart, want still 1", len(got))
	}
	// The escalation goes on: the call at +5m still happens.
	h.Advance(time.Minute)
	if len(h.Twilio.Calls(alicePhone)) != 1 {
		t.Fatal("the next method did not fire after the SMS")
	}
}

func TestPressingTwoEscalates(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Big", "severity=critical")))
	h.Advance(5 * time.Minute)
	calls := h.Twilio.Calls(alicePhone)
	if len(calls) != 1 {
		t.Fatalf("calls = %d", len(calls))
	}
	if said := h.PressKey(calls[0], "2"); said != "Incident 1 escalated. Goodbye." {
		t.Fatalf("after 2 the bot said %q", said)
	}
	h.Tick()
	// Step 2 of the policy is bob, whose rule is an SMS at once.
	if got := h.Twilio.Messages(bobPhone); len(got) != 1 {
		t.Fatalf("bob got %d SMS after the escalation", len(got))
	}
	d := h.Incident(inc.ID)
	if countKind(d, oncall.KindEscalated, "") != 1 || d.Timeline[len(d.Timeline)-1].Actor == "" {
		t.Fatalf("escalation not recorded:\n%s", Timeline(d))
	}
	for _, e := range d.Timeline {
		if e.Kind == oncall.KindEscalated && e.Actor != "voice:alice" {
			t.Fatalf("escalated by %q, want voice:alice", e.Actor)
		}
	}
}
