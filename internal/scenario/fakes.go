package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/notify"
)

// Delivery is one request the fake webhook receiver accepted.
type Delivery struct {
	// Path is where it was posted: /events for the signed incident-event
	// webhook, /person/<name> for a person's pages.
	Path           string
	Event          string
	IdempotencyKey string
	Signature      string
	Timestamp      string
	Body           []byte
	Payload        incident.EventPayload
}

// FakeWebhook is an outgoing-webhook receiver that records what it gets
// and fails on demand, like a real endpoint having a bad day.
type FakeWebhook struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	delivered []Delivery
	attempts  int
	failures  []failure
}

type failure struct {
	code       int
	retryAfter string
	// path, when set, limits the failure to calls whose path ends so.
	path string
}

// takeFailure removes and returns the first failure of list meant for a
// call to path.
func takeFailure(list *[]failure, path string) (failure, bool) {
	for i, fl := range *list {
		if fl.path == "" || strings.HasSuffix(path, fl.path) {
			*list = append((*list)[:i], (*list)[i+1:]...)
			return fl, true
		}
	}
	return failure{}, false
}

// NewFakeWebhook starts a receiver on loopback.
func NewFakeWebhook(t testing.TB) *FakeWebhook {
	f := &FakeWebhook{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is where the bot should POST.
func (f *FakeWebhook) URL() string { return f.srv.URL + "/events" }

// FailNext makes the next n requests fail with code, carrying a
// Retry-After header when retryAfter is not "".
func (f *FakeWebhook) FailNext(n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code: code, retryAfter: retryAfter})
	}
}

func (f *FakeWebhook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if len(f.failures) > 0 {
		fl := f.failures[0]
		f.failures = f.failures[1:]
		if fl.retryAfter != "" {
			w.Header().Set("Retry-After", fl.retryAfter)
		}
		http.Error(w, "induced failure", fl.code)
		return
	}
	d := Delivery{
		Path:           r.URL.Path,
		Event:          r.Header.Get("X-Bot-Event"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Signature:      r.Header.Get("X-Bot-Signature"),
		Timestamp:      r.Header.Get("X-Bot-Timestamp"),
		Body:           body,
	}
	ts, _ := strconv.ParseInt(d.Timestamp, 10, 64)
	if want := notify.Sign([]byte("hook-secret"), ts, body); d.Path == "/events" && d.Signature != want {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if err := json.Unmarshal(body, &d.Payload); err != nil && d.Path == "/events" {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	// Repeats are recorded too, so tests can count them (Duplicates).
	f.delivered = append(f.delivered, d)
	w.WriteHeader(http.StatusNoContent)
}

// PersonURL is where a person's webhook pages go.
func (f *FakeWebhook) PersonURL(name string) string { return f.srv.URL + "/person/" + name }

// To returns what was delivered to a path, such as "/person/pat".
func (f *FakeWebhook) To(path string) []Delivery {
	var out []Delivery
	for _, d := range f.Deliveries() {
		if d.Path == path {
			out = append(out, d)
		}
	}
	return out
}

// Deliveries returns what was accepted so far.
func (f *FakeWebhook) Deliveries() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Delivery(nil), f.delivered...)
}

// Duplicates counts accepted deliveries whose idempotency key was seen
// before.
func (f *FakeWebhook) Duplicates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	n := 0
	for _, d := range f.delivered {
		if seen[d.IdempotencyKey] {
			n++
		}
		seen[d.IdempotencyKey] = true
	}
	return n
}

// Attempts counts every request, failed or not.
func (f *FakeWebhook) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Events lists the accepted events of one incident as "kind:status", in
// arrival order.
func (f *FakeWebhook) Events(incidentID int64) []string {
	var out []string
	for _, d := range f.Deliveries() {
		if d.Payload.Incident.ID == incidentID {
			out = append(out, d.Event+":"+string(d.Payload.Incident.Status))
		}
	}
	return out
}

// AMAlert is one alert of an Alertmanager webhook, built by Firing.
type AMAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint,omitempty"`
}

// Firing builds a firing alert from "name=value" label pairs.
func Firing(labels ...string) AMAlert {
	a := AMAlert{Status: "firing", Labels: map[string]string{}, Annotations: map[string]string{}, StartsAt: Start}
	for _, kv := range labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			panic(fmt.Sprintf("label %q is not name=value", kv))
		}
		a.Labels[k] = v
	}
	return a
}

// Summary sets the summary annotation.
func (a AMAlert) Summary(s string) AMAlert {
	a.Annotations = map[string]string{"summary": s}
	return a
}

// At sets when the alert started.
func (a AMAlert) At(t time.Time) AMAlert {
	a.StartsAt = t
	return a
}

// Resolved returns the alert resolved at t.
func (a AMAlert) Resolved(t time.Time) AMAlert {
	a.Status = "resolved"
	a.EndsAt = t
	return a
}

// AlertmanagerBody wraps alerts in an Alertmanager v4 webhook envelope.
func AlertmanagerBody(alerts ...AMAlert) []byte {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status,
		"receiver": "oncall-bot", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093", "alerts": alerts,
	})
	if err != nil {
		panic(err)
	}
	return b
}
