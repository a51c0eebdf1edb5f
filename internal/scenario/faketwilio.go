package scenario

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/oncallbot/bot/internal/notify"
)

// Twilio credentials of the scenarios' fake account.
const (
	TwilioSID   = "ACfake0000000000000000000000000000"
	TwilioToken = "twilio-auth-token"
	TwilioFrom  = "+15005550006"
)

// TwilioMessage is an SMS the fake accepted.
type TwilioMessage struct {
	SID, To, From, Body, StatusCallback string
}

// TwilioCall is a call the fake accepted.
type TwilioCall struct {
	SID, To, From, Twiml, StatusCallback string
}

// FakeTwilio is a stateful stand-in for Twilio's REST API: it checks the
// account's credentials and the fields Twilio requires, answers like
// Twilio (201 with a resource, 4xx with Twilio's error JSON), keeps what
// it was sent per number, and fails on demand.
type FakeTwilio struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	messages []TwilioMessage
	calls    []TwilioCall
	failures []failure
}

// NewFakeTwilio starts the fake on loopback.
func NewFakeTwilio(t testing.TB) *FakeTwilio {
	f := &FakeTwilio{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/{resource}", f.create)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL.
func (f *FakeTwilio) URL() string { return f.srv.URL }

// FailNext makes the next n API calls fail with code.
func (f *FakeTwilio) FailNext(n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code: code, retryAfter: retryAfter})
	}
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)})
}

var e164 = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)

func newSID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (f *FakeTwilio) create(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != TwilioSID || pass != TwilioToken || r.PathValue("sid") != TwilioSID {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "bad form")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failures) > 0 {
		fl := f.failures[0]
		f.failures = f.failures[1:]
		if fl.retryAfter != "" {
			w.Header().Set("Retry-After", fl.retryAfter)
		}
		twilioError(w, fl.code, 20500, "induced failure")
		return
	}
	form := r.PostForm
	to, from := form.Get("To"), form.Get("From")
	if !e164.MatchString(to) {
		twilioError(w, http.StatusBadRequest, 21211, "The 'To' number "+to+" is not a valid phone number.")
		return
	}
	if from != TwilioFrom {
		twilioError(w, http.StatusBadRequest, 21606, "The From phone number "+from+" is not a valid, SMS-capable inbound phone number for your account.")
		return
	}
	var res map[string]any
	switch r.PathValue("resource") {
	case "Messages.json":
		if form.Get("Body") == "" {
			twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
			return
		}
		m := TwilioMessage{SID: newSID("SM"), To: to, From: from, Body: form.Get("Body"), StatusCallback: form.Get("StatusCallback")}
		f.messages = append(f.messages, m)
		res = map[string]any{"sid": m.SID, "status": "queued", "to": to, "from": from, "body": m.Body, "direction": "outbound-api"}
	case "Calls.json":
		if form.Get("Twiml") == "" && form.Get("Url") == "" {
			twilioError(w, http.StatusBadRequest, 21205, "Url or Twiml is required.")
			return
		}
		c := TwilioCall{SID: newSID("CA"), To: to, From: from, Twiml: form.Get("Twiml"), StatusCallback: form.Get("StatusCallback")}
		f.calls = append(f.calls, c)
		res = map[string]any{"sid": c.SID, "status": "queued", "to": to, "from": from, "direction": "outbound-api"}
	default:
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(res)
}

// Messages returns the SMS sent to a number.
func (f *FakeTwilio) Messages(to string) []TwilioMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TwilioMessage
	for _, m := range f.messages {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Calls returns the calls placed to a number.
func (f *FakeTwilio) Calls(to string) []TwilioCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TwilioCall
	for _, c := range f.calls {
		if c.To == to {
			out = append(out, c)
		}
	}
	return out
}

// twilioPost sends a signed Twilio webhook to the bot, as Twilio would,
// and returns the status and body.
func (h *Harness) twilioPost(path string, form url.Values, token string) (int, string) {
	h.T.Helper()
	full := h.Config.BaseURL + path
	sig := notify.TwilioSignature(token, full, form)
	r := h.do("POST", path, http.Header{
		"Content-Type":       {"application/x-www-form-urlencoded"},
		"X-Twilio-Signature": {sig},
	}, []byte(form.Encode()))
	return r.Code, string(r.Body)
}

var twimlText = regexp.MustCompile(`<(?:Message|Say)>([^<]*)</`)

// ReplySMS is a person texting the bot's number; it returns the bot's
// answer.
func (h *Harness) ReplySMS(from, body string) string {
	h.T.Helper()
	code, out := h.twilioPost("/twilio/sms", url.Values{
		"From": {from}, "To": {TwilioFrom}, "Body": {body}, "MessageSid": {newSID("SM")},
		"AccountSid": {TwilioSID}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"},
	}, TwilioToken)
	if code != 200 {
		h.T.Fatalf("SMS reply answered %d: %s", code, out)
	}
	m := twimlText.FindStringSubmatch(out)
	if m == nil {
		h.T.Fatalf("SMS reply answer has no message: %s", out)
	}
	return html.UnescapeString(m[1])
}

var gatherAction = regexp.MustCompile(`<Gather[^>]* action="([^"]+)"`)

// PressKey is the person on a page call pressing digit; it returns what
// the bot says back.
func (h *Harness) PressKey(c TwilioCall, digit string) string {
	h.T.Helper()
	m := gatherAction.FindStringSubmatch(c.Twiml)
	if m == nil {
		h.T.Fatalf("call TwiML has no Gather action: %s", c.Twiml)
	}
	action := strings.ReplaceAll(m[1], "&amp;", "&")
	path := strings.TrimPrefix(action, h.Config.BaseURL)
	code, out := h.twilioPost(path, url.Values{
		"CallSid": {c.SID}, "AccountSid": {TwilioSID}, "From": {c.From}, "To": {c.To},
		"Digits": {digit}, "CallStatus": {"in-progress"}, "Direction": {"outbound-api"},
	}, TwilioToken)
	if code != 200 {
		h.T.Fatalf("keypress answered %d: %s", code, out)
	}
	said := twimlText.FindStringSubmatch(out)
	if said == nil {
		h.T.Fatalf("keypress answer says nothing: %s", out)
	}
	return html.UnescapeString(said[1])
}

// TwilioStatus reports a delivery status for a message, as Twilio's
// status callback does.
func (h *Harness) TwilioStatus(m TwilioMessage, status, errorCode string) int {
	h.T.Helper()
	form := url.Values{"MessageSid": {m.SID}, "MessageStatus": {status}, "AccountSid": {TwilioSID}, "To": {m.To}, "From": {m.From}}
	if errorCode != "" {
		form.Set("ErrorCode", errorCode)
	}
	code, _ := h.twilioPost("/twilio/status", form, TwilioToken)
	return code
}
