package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fakeCommands records the commands run and the keys claimed.
type fakeCommands struct {
	ran     []string
	seen    map[string]bool
	refuse  error
	failKey error
}

func (f *fakeCommands) do(verb string, person string) error {
	if f.refuse != nil {
		return f.refuse
	}
	f.ran = append(f.ran, verb+" by "+person)
	return nil
}

func (f *fakeCommands) Acknowledge(_ context.Context, _ int64, person, _ string) error {
	return f.do("ack", person)
}
func (f *fakeCommands) Resolve(_ context.Context, _ int64, person, _ string) error {
	return f.do("resolve", person)
}
func (f *fakeCommands) Escalate(_ context.Context, _ int64, person, _ string) error {
	return f.do("escalate", person)
}
func (f *fakeCommands) LatestPaged(context.Context, string) (int64, bool) { return 1, true }
func (f *fakeCommands) FirstTime(_ context.Context, key string) (bool, error) {
	if f.failKey != nil {
		return false, f.failKey
	}
	if f.seen[key] {
		return false, nil
	}
	f.seen[key] = true
	return true, nil
}

type said string

func (s said) Error() string { return string(s) }
func (s said) Said() string  { return string(s) }

const inboundToken, inboundURL = "tok", "https://bot.example"

func post(t *testing.T, h http.HandlerFunc, path string, form url.Values) (int, string) {
	t.Helper()
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", TwilioSignature(inboundToken, inboundURL+path, form))
	w := httptest.NewRecorder()
	h(w, r)
	return w.Code, w.Body.String()
}

func newInbound() (*TwilioInbound, *fakeCommands) {
	f := &fakeCommands{seen: map[string]bool{}}
	return NewTwilioInbound(inboundToken, inboundURL, map[string]string{"+1555": "bob"}, f, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil))), f
}

func TestTwilioInboundActsOncePerMessageSidAndKeypress(t *testing.T) {
	h, f := newInbound()
	sms := url.Values{"From": {"+1555"}, "Body": {"1 resolve"}, "MessageSid": {"SM1"}}
	if code, out := post(t, h.SMS, "/twilio/sms", sms); code != 200 || !strings.Contains(out, "Incident 1 resolved.") {
		t.Fatalf("first SMS = %d %s", code, out)
	}
	if code, out := post(t, h.SMS, "/twilio/sms", sms); code != 200 || !strings.HasSuffix(out, "<Response></Response>") {
		t.Fatalf("replayed SMS = %d %s", code, out)
	}
	if code, _ := post(t, h.SMS, "/twilio/sms", url.Values{"From": {"+1555"}, "Body": {"1 ack"}}); code != 400 {
		t.Fatalf("SMS without MessageSid = %d, want 400", code)
	}

	key := url.Values{"CallSid": {"CA1"}, "To": {"+1555"}, "Digits": {"2"}}
	if code, out := post(t, h.Voice, "/twilio/voice?incident=1", key); code != 200 || !strings.Contains(out, "Incident 1 escalated.") {
		t.Fatalf("first keypress = %d %s", code, out)
	}
	if code, out := post(t, h.Voice, "/twilio/voice?incident=1", key); code != 200 || !strings.HasSuffix(out, "<Response></Response>") {
		t.Fatalf("replayed keypress = %d %s", code, out)
	}
	key.Set("Digits", "1")
	if code, out := post(t, h.Voice, "/twilio/voice?incident=1", key); code != 200 || !strings.Contains(out, "Incident 1 acknowledged.") {
		t.Fatalf("other digit on the same call = %d %s", code, out)
	}
	if want := "resolve by bob,escalate by bob,ack by bob"; strings.Join(f.ran, ",") != want {
		t.Fatalf("ran %q, want %q", f.ran, want)
	}

	// A claim that cannot be recorded is a 500, so Twilio retries.
	f.failKey = errors.New("disk full")
	if code, _ := post(t, h.SMS, "/twilio/sms", url.Values{"From": {"+1555"}, "Body": {"1 ack"}, "MessageSid": {"SM2"}}); code != 500 {
		t.Fatalf("SMS whose claim failed = %d, want 500", code)
	}
	if len(f.ran) != 3 {
		t.Fatalf("a command ran without its claim: %q", f.ran)
	}
}

func TestTwilioInboundWordsARefusal(t *testing.T) {
	h, f := newInbound()
	f.refuse = said("only members of team ops may resolve it; you are not on team ops")
	_, out := post(t, h.SMS, "/twilio/sms", url.Values{"From": {"+1555"}, "Body": {"1 resolve"}, "MessageSid": {"SM1"}})
	if !strings.Contains(out, "<Message>Incident 1: only members of team ops may resolve it; you are not on team ops</Message>") {
		t.Fatalf("refused SMS answered %s", out)
	}
	_, out = post(t, h.Voice, "/twilio/voice?incident=1", url.Values{"CallSid": {"CA1"}, "To": {"+1555"}, "Digits": {"1"}})
	if !strings.Contains(out, "you are not on team ops. Goodbye.") {
		t.Fatalf("refused keypress answered %s", out)
	}
}
