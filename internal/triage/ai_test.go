package triage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

// fakeOpenAI is an OpenAI-compatible chat endpoint: it keeps what it was
// sent and answers what it was told to.
type fakeOpenAI struct {
	mu     sync.Mutex
	bodies []string
	answer string // the message content; "" with status for a failure
	status int
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	answer, status := f.answer, f.status
	f.mu.Unlock()
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
		return
	}
	resp := map[string]any{"id": "c1", "object": "chat.completion", "created": 1, "model": "local-model",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": answer}}},
		"usage":   map[string]any{"prompt_tokens": 400, "completion_tokens": 100, "total_tokens": 500}}
	if answer == "<none>" {
		resp["choices"] = []any{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

const goodAnswer = "```json\n{\"probable_cause\": \"/var/log filled the disk\", \"impact\": \"writes fail on db-03\", \"next_steps\": [\"rotate the journal\"], \"evidence\": [\"E1\", \"E4\"]}\n```"

func TestAIAnalysis(t *testing.T) {
	fake := &fakeOpenAI{answer: goodAnswer}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	clk := clock.NewFake(opened)
	ai := NewOpenAI(srv.URL+"/v1", "sk-test-key-0123456789abcdef", "local-model", []*regexp.Regexp{regexp.MustCompile(`customer-\d+`)}, clk.Now)
	ai.Budget = 1200
	d := detail()
	// Planted secrets, in labels, annotations and log lines.
	d.Alerts[0].Annotations["description"] = "connect failed: password=hunter2-planted user alice@example.com from 10.1.2.3 for customer-4711"
	d.Alerts[0].Labels["token"] = "ghp_PLANTEDPLANTEDPLANTED1234"
	r := Runner{Sources: []Source{fakeSource{name: "logs", ev: Evidence{Logs: []string{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.PLANTEDjwtPLANTEDjwtPLANTEDjwt"}}}},
		AI: ai, Timeout: time.Second, Now: clk.Now}
	rep := r.Run(context.Background(), d)
	if rep.AI == nil || rep.AI.Cause != "/var/log filled the disk" || len(rep.AI.Next) != 1 || rep.AI.Evidence[1] != "E4" || rep.Status != "ready" {
		t.Fatalf("analysis = %+v, status %s, sources %+v", rep.AI, rep.Status, rep.Sources)
	}
	// The citations name what was given, as it was given (redacted).
	if len(rep.AI.Cited) != 2 || !strings.HasPrefix(rep.AI.Cited[0], "E1 incident ") || !strings.HasPrefix(rep.AI.Cited[1], "E4 summary so far: disk full on db-03") {
		t.Errorf("cited = %q", rep.AI.Cited)
	}
	sent := strings.Join(fake.bodies, "\n")
	for _, secret := range []string{"hunter2-planted", "alice@example.com", "10.1.2.3", "customer-4711", "ghp_PLANTED", "PLANTEDjwt"} {
		if strings.Contains(sent, secret) {
			t.Errorf("%q reached the AI endpoint", secret)
		}
	}
	if !strings.Contains(sent, "password=[redacted]") || !strings.Contains(sent, "disk full on db-03") {
		t.Errorf("the evidence sent is not what it should be:\n%s", sent)
	}

	cases := []struct {
		name, answer string
		status       int
		says         string
	}{
		{"garbage", "I think it is the disk, probably.", 0, "not the JSON asked for"},
		{"nothing", "<none>", 0, "answered nothing"},
		{"down", "", http.StatusServiceUnavailable, "503"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake.answer, fake.status = c.answer, c.status
			ai.used, ai.failures, ai.openUntil = 0, 0, time.Time{}
			rep := r.Run(context.Background(), d)
			last := rep.Sources[len(rep.Sources)-1]
			if rep.AI != nil || last.Name != "ai" || last.OK || !strings.Contains(last.Error, c.says) || rep.Status != "partial" ||
				!strings.Contains(rep.Summary, "The AI analysis is not available") || !strings.Contains(rep.Summary, "disk full on db-03") {
				t.Errorf("report = %+v", rep)
			}
		})
	}

	// Three failures open the circuit: nothing is asked for five minutes.
	fake.answer, fake.status = "", http.StatusInternalServerError
	ai.used, ai.failures, ai.openUntil = 0, 0, time.Time{}
	for range 3 {
		r.Run(context.Background(), d)
	}
	before := len(fake.bodies)
	rep = r.Run(context.Background(), d)
	if len(fake.bodies) != before || !strings.Contains(rep.Sources[len(rep.Sources)-1].Error, "not asking it for a while") {
		t.Fatalf("an open circuit asked again: %d -> %d, %+v", before, len(fake.bodies), rep.Sources)
	}
	fake.answer, fake.status = goodAnswer, 0
	clk.Advance(breakerCooldown)
	if rep := r.Run(context.Background(), d); rep.AI == nil {
		t.Fatalf("the circuit did not close after its cooldown: %+v", rep.Sources)
	}

	// The day's budget: 1,200 tokens at 500 an answer.
	ai.used, ai.day = 0, opened.UTC().Format(time.DateOnly)
	r.Run(context.Background(), d)
	r.Run(context.Background(), d)
	r.Run(context.Background(), d) // 1,500 used
	if rep := r.Run(context.Background(), d); rep.AI != nil || !strings.Contains(rep.Sources[len(rep.Sources)-1].Error, "budget is spent") {
		t.Fatalf("over the budget: %+v", rep.Sources)
	}
	clk.Advance(24 * time.Hour)
	if rep := r.Run(context.Background(), d); rep.AI == nil {
		t.Fatal("the next day's budget did not start afresh")
	}
}

func TestRedactText(t *testing.T) {
	cases := map[string]string{
		"password=hunter2 and more":       "password=[redacted] and more",
		`api_key: "abc123"`:               `api_key: "[redacted]"`,
		"mail bob@example.org now":        "mail [redacted] now",
		"from 192.168.0.10 to fe80::1":    "from [redacted] to fe80::1",
		"AKIAABCDEFGHIJKLMNOP":            "[redacted]",
		"xoxb-123456789012-abcdefghij":    "[redacted]",
		"disk full on db-03":              "disk full on db-03",
		"Authorization: Bearer abc.def":   "Authorization: [redacted]",
		"jwt eyJhbGciOi.eyJzdWIiOiIx.sig": "jwt [redacted]",
		"ghp_abcdefghijklmnop1234":        "[redacted]",
	}
	for in, want := range cases {
		if got := RedactText(in, DefaultRedactions); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCite(t *testing.T) {
	items := []string{"incident \"disk full\"", "log: OOMKilled", strings.Repeat("x", 300)}
	cases := []struct {
		ids  []string
		want []string
	}{
		{[]string{"E2"}, []string{"E2 log: OOMKilled"}},
		{[]string{"E1", " E2 "}, []string{`E1 incident "disk full"`, "E2 log: OOMKilled"}},
		{[]string{"E9", "E0", "nonsense", "E-1"}, nil}, // never given: dropped
		{[]string{"E3"}, []string{"E3 " + strings.Repeat("x", 99) + "…"}},
	}
	for _, c := range cases {
		if got := cite(c.ids, items); !slices.Equal(got, c.want) {
			t.Errorf("cite(%q) = %q, want %q", c.ids, got, c.want)
		}
	}
}

func TestLine(t *testing.T) {
	rep := Report{Summary: "disk full on db-03: 1 alert."}
	if got := rep.Line(); got != rep.Summary {
		t.Errorf("without AI: %q", got)
	}
	rep.AI = &AI{Cause: "the journal filled /var", Impact: "writes fail", Next: []string{"vacuum", "rotate", "alert earlier", "a fourth"}, Cited: []string{"E4 log: no space left"}}
	want := "disk full on db-03: 1 alert.\nAI: the journal filled /var\nImpact: writes fail\nNext 1: vacuum\nNext 2: rotate\nNext 3: alert earlier\nEvidence: E4 log: no space left"
	if got := rep.Line(); got != want {
		t.Errorf("with AI:\n%s\nwant:\n%s", got, want)
	}
}

// The day's budget holds across a restart: what was spent is kept in the
// store, and a new analyzer (a new process) starts from it; the next UTC
// day starts afresh.
func TestAIBudgetOutlivesARestart(t *testing.T) {
	fake := &fakeOpenAI{answer: goodAnswer}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := clock.NewFake(opened)
	analyzer := func() *OpenAI {
		ai := NewOpenAI(srv.URL+"/v1", "", "m", nil, clk.Now)
		ai.Budget, ai.Spending = 1000, Ledger{Store: st}
		return ai
	}
	ai := analyzer()
	for range 2 { // 500 tokens each
		if _, err := ai.Analyze(context.Background(), detail(), Report{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := (Ledger{Store: st}).Spent(context.Background(), opened.UTC().Format(time.DateOnly)); err != nil || n != 1000 {
		t.Fatalf("spent %d (%v), want 1000 kept", n, err)
	}
	restarted := analyzer()
	if _, err := restarted.Analyze(context.Background(), detail(), Report{}); !errors.Is(err, ErrBudgetSpent) {
		t.Fatalf("after a restart: err = %v, want the budget spent", err)
	}
	if len(fake.bodies) != 2 {
		t.Errorf("the endpoint was asked %d times, want 2", len(fake.bodies))
	}
	clk.Advance(24 * time.Hour)
	if _, err := restarted.Analyze(context.Background(), detail(), Report{}); err != nil {
		t.Errorf("the next day: %v", err)
	}
}
