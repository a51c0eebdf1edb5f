// Package notify reaches people and systems outside chat. This file is the
// outgoing webhook: incident events POSTed as JSON to a URL of the user's.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
)

// Webhook delivers outbox messages to one URL.
//
// Each POST carries the event JSON as its body and these headers:
//
//	Content-Type: application/json
//	X-Bot-Event: incident.acknowledged
//	Idempotency-Key: timeline/1234   (the same on every retry of one event)
//	X-Bot-Timestamp: 1700000000      (Unix seconds of this attempt)
//	X-Bot-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, when a secret is set
//
// A 2xx answer is success; 429 and 5xx are retried (429 after its
// Retry-After); other 4xx are permanent failures, since the same request
// would fail again.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a webhook consumer. client may be nil.
func NewWebhook(url, secret string, client *http.Client, now func() time.Time) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Webhook{url: url, secret: []byte(secret), client: client, now: now}
}

// Sign returns the X-Bot-Signature value for body sent at ts, so receivers
// (and tests) can check a delivery.
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Deliver POSTs one message.
func (w *Webhook) Deliver(ctx context.Context, m outbox.Message) error {
	return w.post(ctx, m.Kind, m.IdempotencyKey, m.Payload)
}

func (w *Webhook) post(ctx context.Context, kind, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return outbox.Permanent(fmt.Errorf("build webhook request: %w", redactURL(err)))
	}
	ts := w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "oncall-bot")
	req.Header.Set("X-Bot-Event", kind)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Bot-Timestamp", strconv.FormatInt(ts, 10))
	if len(w.secret) > 0 {
		req.Header.Set("X-Bot-Signature", Sign(w.secret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", redactURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		err := fmt.Errorf("webhook answered %s: %s", resp.Status, bytes.TrimSpace(snippet))
		if d, ok := RetryAfter(resp.Header.Get("Retry-After"), w.now()); ok {
			return &outbox.RetryAfterError{After: d, Err: err}
		}
		return err
	default:
		return outbox.Permanent(fmt.Errorf("webhook answered %s: %s", resp.Status, bytes.TrimSpace(snippet)))
	}
}

// redactURL keeps a webhook's URL out of an error but for its scheme and
// host: its path and query often hold the receiver's secret (a Slack or
// Teams webhook is its own credential), and errors reach the log, the
// outbox and incident timelines.
func redactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	where := "the webhook"
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host
	}
	return fmt.Errorf("%s %s: %w", ue.Op, where, ue.Err)
}

// RetryAfter parses a Retry-After header, in seconds or as an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// PersonWebhook delivers a person's pages to the webhook URL in their
// contact details (method webhook), as JSON, with the headers of Webhook.
//
// Pages waiting together for one person (a storm) go as one POST, so the
// next page never queues behind a thousand others: its body is a
// PageBundle, its X-Bot-Event "notify.pages", and each page in it keeps
// its own key for the receiver to drop repeats by.
type PersonWebhook struct {
	client *http.Client
	now    func() time.Time
}

// EventPages is the X-Bot-Event of a PageBundle.
const EventPages = "notify.pages"

// PageBundle is the body of a POST carrying several pages to one person.
type PageBundle struct {
	Kind  string            `json:"kind"`
	Count int               `json:"count"`
	Pages []json.RawMessage `json:"pages"`
}

// NewPersonWebhook returns the notify:webhook consumer.
func NewPersonWebhook(client *http.Client, now func() time.Time) *PersonWebhook {
	return &PersonWebhook{client: client, now: now}
}

// Deliver posts one page to its person's URL.
func (p *PersonWebhook) Deliver(ctx context.Context, m outbox.Message) error {
	return p.DeliverBatch(ctx, []outbox.Message{m})
}

// DeliverBatch posts the pages waiting for one person: one page as itself,
// several as a PageBundle.
func (p *PersonWebhook) DeliverBatch(ctx context.Context, ms []outbox.Message) error {
	page, err := decodePage(ms[0])
	if err != nil {
		return err
	}
	if page.Person.Webhook == "" {
		return outbox.Permanent(fmt.Errorf("%s has no webhook URL", page.Person.Name))
	}
	hook := NewWebhook(page.Person.Webhook, "", p.client, p.now)
	if len(ms) == 1 {
		return hook.Deliver(ctx, ms[0])
	}
	b := PageBundle{Kind: EventPages, Count: len(ms)}
	for _, m := range ms {
		b.Pages = append(b.Pages, json.RawMessage(m.Payload))
	}
	body, err := json.Marshal(b)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("encode page bundle: %w", err))
	}
	// The same pages make the same key, on every retry of the bundle.
	key := fmt.Sprintf("pages/%s/%d/%s", ms[0].IdempotencyKey, len(ms), ms[len(ms)-1].IdempotencyKey)
	return hook.post(ctx, EventPages, key, body)
}

var _ outbox.BatchConsumer = (*PersonWebhook)(nil)
