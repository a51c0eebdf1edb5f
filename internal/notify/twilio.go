package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// DefaultTwilioURL is Twilio's REST API.
const DefaultTwilioURL = "https://api.twilio.com"

// Twilio sends SMS and places calls through Twilio's REST API (2010-04-01)
// over plain net/http.
type Twilio struct {
	baseURL    string
	accountSID string
	authToken  string
	from       string
	// publicURL is how Twilio reaches the bot, for status callbacks and
	// the answers of a call.
	publicURL string
	client    *http.Client
}

// TwilioOptions configure a Twilio client.
type TwilioOptions struct {
	BaseURL    string
	AccountSID string
	AuthToken  string
	From       string
	PublicURL  string
	Client     *http.Client
}

// NewTwilio returns a client; BaseURL defaults to Twilio's.
func NewTwilio(o TwilioOptions) *Twilio {
	if o.BaseURL == "" {
		o.BaseURL = DefaultTwilioURL
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Twilio{baseURL: strings.TrimRight(o.BaseURL, "/"), accountSID: o.AccountSID, authToken: o.AuthToken,
		from: o.From, publicURL: strings.TrimRight(o.PublicURL, "/"), client: o.Client}
}

// twilioResource is the part of a created Message or Call the bot uses.
type twilioResource struct {
	SID     string `json:"sid"`
	Status  string `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// post creates a resource (Messages or Calls) and returns its SID. 429
// and 5xx are retried by the outbox (after Retry-After when given);
// other errors, such as an invalid number (400), are permanent.
func (t *Twilio) post(ctx context.Context, resource string, form url.Values) (string, error) {
	u := fmt.Sprintf("%s/2010-04-01/Accounts/%s/%s.json", t.baseURL, url.PathEscape(t.accountSID), resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", outbox.Permanent(fmt.Errorf("build twilio request: %w", err))
	}
	req.SetBasicAuth(t.accountSID, t.authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio %s: %w", resource, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var r twilioResource
	_ = json.Unmarshal(body, &r) // error bodies are JSON too; a bad one leaves r empty
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		if r.SID == "" {
			return "", fmt.Errorf("twilio %s: answer without a sid", resource)
		}
		return r.SID, nil
	}
	err = fmt.Errorf("twilio %s answered %s: %d %s", resource, resp.Status, r.Code, r.Message)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return "", &outbox.RetryAfterError{After: d, Err: err}
		}
		return "", err
	default:
		return "", outbox.Permanent(err)
	}
}

// SendSMS sends body to the number to and returns the message SID.
func (t *Twilio) SendSMS(ctx context.Context, to, body string) (string, error) {
	form := url.Values{"To": {to}, "From": {t.from}, "Body": {body}}
	if t.publicURL != "" {
		form.Set("StatusCallback", t.publicURL+"/twilio/status")
	}
	return t.post(ctx, "Messages", form)
}

// Call rings the number to and plays twiml, returning the call SID.
func (t *Twilio) Call(ctx context.Context, to, twiml string) (string, error) {
	form := url.Values{"To": {to}, "From": {t.from}, "Twiml": {twiml}}
	if t.publicURL != "" {
		form.Set("StatusCallback", t.publicURL+"/twilio/status")
		form.Add("StatusCallbackEvent", "completed")
	}
	return t.post(ctx, "Calls", form)
}

// TwilioSignature computes X-Twilio-Signature for a request Twilio sent to
// fullURL with the given form parameters: base64 of HMAC-SHA1, keyed with
// the auth token, over the URL followed by each parameter's name and
// value, sorted by name.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vals := append([]string(nil), form[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidTwilioSignature checks a signature in constant time.
func ValidTwilioSignature(authToken, fullURL string, form url.Values, signature string) bool {
	want := TwilioSignature(authToken, fullURL, form)
	return hmac.Equal([]byte(want), []byte(signature))
}

// Pages consumers -------------------------------------------------------

// Recorder notes which provider message carried which notifications, so
// delivery reports can be matched to them.
type Recorder interface {
	NotificationSent(ctx context.Context, keys []string, providerID string) error
}

func pageKeys(pages []oncall.Page) []string {
	out := make([]string, len(pages))
	for i, p := range pages {
		out[i] = p.Key
	}
	return out
}

// SMSConsumer delivers pages by SMS. It sends at most one SMS a minute to
// a number: pages that arrive sooner wait, and go out together in one
// message.
type SMSConsumer struct {
	twilio *Twilio
	rec    Recorder
	now    func() time.Time
	// MinInterval is the least time between two SMS to one number.
	MinInterval time.Duration

	mu   sync.Mutex
	last map[string]time.Time
}

// NewSMSConsumer returns the notify:sms consumer.
func NewSMSConsumer(t *Twilio, rec Recorder, now func() time.Time) *SMSConsumer {
	return &SMSConsumer{twilio: t, rec: rec, now: now, MinInterval: time.Minute, last: map[string]time.Time{}}
}

func decodePage(m outbox.Message) (oncall.Page, error) {
	var p oncall.Page
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return p, outbox.Permanent(fmt.Errorf("decode page %d: %w", m.ID, err))
	}
	return p, nil
}

// Deliver sends one page.
func (c *SMSConsumer) Deliver(ctx context.Context, m outbox.Message) error {
	return c.DeliverBatch(ctx, []outbox.Message{m})
}

// DeliverBatch sends the pages waiting for one person as one SMS.
func (c *SMSConsumer) DeliverBatch(ctx context.Context, ms []outbox.Message) error {
	var pages []oncall.Page
	for _, m := range ms {
		p, err := decodePage(m)
		if err != nil {
			return err
		}
		pages = append(pages, p)
	}
	to := pages[0].Person.Phone
	if to == "" {
		return outbox.Permanent(fmt.Errorf("%s has no phone number", pages[0].Person.Name))
	}
	c.mu.Lock()
	wait := c.last[to].Add(c.MinInterval).Sub(c.now())
	c.mu.Unlock()
	if wait > 0 {
		return &outbox.RetryAfterError{After: wait, Err: fmt.Errorf("rate limit: one SMS a minute to %s", pages[0].Person.Name)}
	}
	body := smsBody(pages)
	sid, err := c.twilio.SendSMS(ctx, to, body)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.last[to] = c.now()
	c.mu.Unlock()
	// Sent is sent: failing to note the SID must not send it again.
	_ = c.rec.NotificationSent(ctx, pageKeys(pages), sid)
	return nil
}

// maxSMS is the longest body Twilio takes (1,600 characters).
const maxSMS = 1600

// smsBody is the text of one SMS carrying pages: one page as it is,
// several as a list, as many as fit, then how many more there are.
func smsBody(pages []oncall.Page) string {
	if len(pages) == 1 {
		return pages[0].Text
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d pages:", len(pages))
	n := utf8.RuneCountInString(b.String())
	for i, p := range pages {
		line := utf8.RuneCountInString(p.Text) + 1
		left := len(pages) - i - 1
		// Room for this page, and for the "+N more" line after it if
		// more pages will not fit.
		reserve := 0
		if left > 0 {
			reserve = len(fmt.Sprintf("\n+%d more", left))
		}
		if n+line+reserve > maxSMS {
			fmt.Fprintf(&b, "\n+%d more", left+1)
			break
		}
		b.WriteString("\n")
		b.WriteString(p.Text)
		n += line
	}
	return b.String()
}

// VoiceConsumer delivers pages by phone call: the call reads the page and
// asks for 1 to acknowledge or 2 to escalate.
type VoiceConsumer struct {
	twilio *Twilio
	rec    Recorder
}

// NewVoiceConsumer returns the notify:voice consumer.
func NewVoiceConsumer(t *Twilio, rec Recorder) *VoiceConsumer {
	return &VoiceConsumer{twilio: t, rec: rec}
}

type twimlSay struct {
	XMLName xml.Name `xml:"Say"`
	Text    string   `xml:",chardata"`
}

type twimlGather struct {
	XMLName   xml.Name `xml:"Gather"`
	NumDigits int      `xml:"numDigits,attr"`
	Action    string   `xml:"action,attr"`
	Method    string   `xml:"method,attr"`
	Timeout   int      `xml:"timeout,attr"`
	Say       twimlSay
}

type twimlResponse struct {
	XMLName xml.Name `xml:"Response"`
	Body    []any
}

// CallTwiML is what a page call plays.
func CallTwiML(publicURL string, p oncall.Page) string {
	action := fmt.Sprintf("%s/twilio/voice?incident=%d", publicURL, p.Incident.ID)
	text := fmt.Sprintf("This is the on-call bot. %s incident %d: %s. Press 1 to acknowledge. Press 2 to escalate.",
		p.Incident.Severity, p.Incident.ID, p.Incident.Title)
	r := twimlResponse{Body: []any{
		twimlGather{NumDigits: 1, Action: action, Method: "POST", Timeout: 10, Say: twimlSay{Text: text}},
		twimlSay{Text: "No answer received. Goodbye."},
	}}
	b, _ := xml.Marshal(r)
	return xml.Header + string(b)
}

// Deliver places one call.
func (c *VoiceConsumer) Deliver(ctx context.Context, m outbox.Message) error {
	p, err := decodePage(m)
	if err != nil {
		return err
	}
	if p.Person.Phone == "" {
		return outbox.Permanent(fmt.Errorf("%s has no phone number", p.Person.Name))
	}
	sid, err := c.twilio.Call(ctx, p.Person.Phone, CallTwiML(c.twilio.publicURL, p))
	if err != nil {
		return err
	}
	_ = c.rec.NotificationSent(ctx, []string{p.Key}, sid)
	return nil
}
