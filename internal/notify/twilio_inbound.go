package notify

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
)

// Commands are what a person can do from a phone: the same incident
// commands as everywhere else, done as that person (recorded as actor) and
// under the same rules of who may act. An error meant for the person has a
// Said() string method; other errors are answered generically.
type Commands interface {
	Acknowledge(ctx context.Context, id int64, person, actor string) error
	Resolve(ctx context.Context, id int64, person, actor string) error
	Escalate(ctx context.Context, id int64, person, actor string) error
	// LatestPaged returns the newest triggered incident paged to person,
	// for a bare "ack".
	LatestPaged(ctx context.Context, person string) (int64, bool)
	// FirstTime records that the request key was handled and reports
	// whether it had not been before. It must remember keys durably:
	// Twilio's signatures have no timestamp, so a captured request stays
	// valid for good.
	FirstTime(ctx context.Context, key string) (bool, error)
}

// StatusRecorder takes Twilio's delivery reports.
type StatusRecorder interface {
	NotificationStatus(ctx context.Context, providerID, status, detail string) error
}

// TwilioInbound answers Twilio's webhooks: SMS replies, the digits of a
// page call, and delivery status callbacks. Every request must carry a
// valid X-Twilio-Signature; forged ones get 401 and change nothing.
type TwilioInbound struct {
	authToken string
	publicURL string
	// byPhone maps a phone number to its person; SetPeople swaps it.
	byPhone atomic.Pointer[map[string]string]
	cmds    Commands
	status  StatusRecorder
	log     *slog.Logger
}

// NewTwilioInbound returns the handler. phones maps E.164 numbers to
// person names.
func NewTwilioInbound(authToken, publicURL string, phones map[string]string, cmds Commands, status StatusRecorder, log *slog.Logger) *TwilioInbound {
	in := &TwilioInbound{authToken: authToken, publicURL: strings.TrimRight(publicURL, "/"),
		cmds: cmds, status: status, log: log}
	in.SetPeople(phones)
	return in
}

// SetPeople puts a new map of phone numbers to people in force, as a
// configuration reload does.
func (h *TwilioInbound) SetPeople(phones map[string]string) { h.byPhone.Store(&phones) }

// verify parses the form and checks the signature against the URL Twilio
// called, which is the bot's public URL plus the request's path and query.
func (h *TwilioInbound) verify(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form body", http.StatusBadRequest)
		return false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" || !ValidTwilioSignature(h.authToken, h.publicURL+r.URL.RequestURI(), r.PostForm, sig) {
		http.Error(w, "invalid X-Twilio-Signature", http.StatusUnauthorized)
		return false
	}
	return true
}

type twimlMessage struct {
	XMLName xml.Name `xml:"Response"`
	Message string   `xml:"Message,omitempty"`
	Say     string   `xml:"Say,omitempty"`
}

func writeTwiML(w http.ResponseWriter, v twimlMessage) {
	w.Header().Set("Content-Type", "text/xml")
	b, _ := xml.Marshal(v)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

var smsCommand = regexp.MustCompile(`(?i)^\s*(?:(\d+)\s+([a-z]+)|([a-z]+)(?:\s+#?(\d+))?)\s*$`)

// ParseSMS reads "42 ack", "ack 42", "ack #42" or a bare "ack". id is 0
// when the message names none.
func ParseSMS(body string) (verb string, id int64, ok bool) {
	m := smsCommand.FindStringSubmatch(body)
	if m == nil {
		return "", 0, false
	}
	num, verb := m[1], m[2]
	if verb == "" {
		verb, num = m[3], m[4]
	}
	switch v := strings.ToLower(verb); v {
	case "ack", "acknowledge", "a":
		verb = "ack"
	case "resolve", "res", "r":
		verb = "resolve"
	case "escalate", "esc", "e":
		verb = "escalate"
	default:
		return "", 0, false
	}
	if num != "" {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return "", 0, false
		}
		id = n
	}
	return verb, id, true
}

func (h *TwilioInbound) run(ctx context.Context, verb string, id int64, person, actor string) error {
	switch verb {
	case "ack":
		return h.cmds.Acknowledge(ctx, id, person, actor)
	case "resolve":
		return h.cmds.Resolve(ctx, id, person, actor)
	default:
		return h.cmds.Escalate(ctx, id, person, actor)
	}
}

// once claims a request by its Twilio id. It answers a repeat (already
// handled: a replay, or a retry of one that got through) with 200 and an
// empty TwiML response, so that an honest retry is not told off and a
// replay acts not again; it answers 500 when the claim could not be
// recorded, so that Twilio retries. It returns whether to go on.
func (h *TwilioInbound) once(w http.ResponseWriter, r *http.Request, key string) bool {
	first, err := h.cmds.FirstTime(r.Context(), key)
	if err != nil {
		h.log.Error("record twilio request", "key", key, "err", err)
		http.Error(w, "could not record the request; retry", http.StatusInternalServerError)
		return false
	}
	if !first {
		h.log.Info("twilio request already handled", "key", key)
		writeTwiML(w, twimlMessage{})
		return false
	}
	return true
}

var pastTense = map[string]string{"ack": "acknowledged", "resolve": "resolved", "escalate": "escalated"}

// SMS handles a text message sent to the bot's number.
func (h *TwilioInbound) SMS(w http.ResponseWriter, r *http.Request) {
	if !h.verify(w, r) {
		return
	}
	sid := r.PostForm.Get("MessageSid")
	if sid == "" {
		http.Error(w, "missing MessageSid", http.StatusBadRequest)
		return
	}
	if !h.once(w, r, "sms:"+sid) {
		return
	}
	person, ok := (*h.byPhone.Load())[r.PostForm.Get("From")]
	if !ok {
		writeTwiML(w, twimlMessage{Message: "This number is not known to the on-call bot."})
		return
	}
	verb, id, ok := ParseSMS(r.PostForm.Get("Body"))
	if !ok {
		writeTwiML(w, twimlMessage{Message: `Reply "42 ack", "42 resolve" or "42 escalate" (42 being the incident number), or just "ack" for your latest page.`})
		return
	}
	if id == 0 {
		if id, ok = h.cmds.LatestPaged(r.Context(), person); !ok {
			writeTwiML(w, twimlMessage{Message: "You have no open page to " + verb + "; name the incident number."})
			return
		}
	}
	if err := h.run(r.Context(), verb, id, person, "sms:"+person); err != nil {
		writeTwiML(w, twimlMessage{Message: fmt.Sprintf("Incident %d: %s", id, refusal(err))})
		return
	}
	writeTwiML(w, twimlMessage{Message: fmt.Sprintf("Incident %d %s.", id, pastTense[verb])})
}

// refusal words an error for a person on a phone. Commands return errors
// written for people (see Commands); anything else stays generic.
func refusal(err error) string {
	var said interface{ Said() string }
	if errors.As(err, &said) {
		return said.Said()
	}
	return "that did not work; try again"
}

// Voice handles the digit pressed during a page call.
func (h *TwilioInbound) Voice(w http.ResponseWriter, r *http.Request) {
	if !h.verify(w, r) {
		return
	}
	sid := r.PostForm.Get("CallSid")
	if sid == "" {
		http.Error(w, "missing CallSid", http.StatusBadRequest)
		return
	}
	// A call's id with the digit pressed: the same call may come back
	// with another digit, which is a request of its own.
	if !h.once(w, r, "voice:"+sid+":"+r.PostForm.Get("Digits")) {
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("incident"), 10, 64)
	if err != nil {
		writeTwiML(w, twimlMessage{Say: "Sorry, this call is not about a known incident. Goodbye."})
		return
	}
	// On a call the bot placed, To is the person called.
	person, ok := (*h.byPhone.Load())[r.PostForm.Get("To")]
	if !ok {
		writeTwiML(w, twimlMessage{Say: "Sorry, this number is not known to the on-call bot. Goodbye."})
		return
	}
	verb := map[string]string{"1": "ack", "2": "escalate"}[r.PostForm.Get("Digits")]
	if verb == "" {
		writeTwiML(w, twimlMessage{Say: "No valid choice. Goodbye."})
		return
	}
	if err := h.run(r.Context(), verb, id, person, "voice:"+person); err != nil {
		writeTwiML(w, twimlMessage{Say: fmt.Sprintf("Incident %d: %s. Goodbye.", id, refusal(err))})
		return
	}
	writeTwiML(w, twimlMessage{Say: fmt.Sprintf("Incident %d %s. Goodbye.", id, pastTense[verb])})
}

// Status records a delivery report of a message or a call.
func (h *TwilioInbound) Status(w http.ResponseWriter, r *http.Request) {
	if !h.verify(w, r) {
		return
	}
	f := r.PostForm
	sid, status := f.Get("MessageSid"), f.Get("MessageStatus")
	if sid == "" {
		sid, status = f.Get("CallSid"), f.Get("CallStatus")
	}
	detail := ""
	if code := f.Get("ErrorCode"); code != "" {
		detail = "Twilio error " + code
	}
	if sid == "" || status == "" {
		http.Error(w, "missing MessageSid/MessageStatus or CallSid/CallStatus", http.StatusBadRequest)
		return
	}
	if err := h.status.NotificationStatus(r.Context(), sid, status, detail); err != nil {
		h.log.Error("record twilio status", "sid", sid, "status", status, "err", err)
		http.Error(w, "could not record the status; retry", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
