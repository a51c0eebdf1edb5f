package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/oncallbot/bot/internal/incident"
)

// Analyzer reads the evidence and says what it makes of it.
type Analyzer interface {
	Analyze(ctx context.Context, d incident.Detail, rep Report) (*AI, error)
}

// OpenAI asks an OpenAI-compatible chat endpoint (a hosted model or a
// local one: the base URL is configurable) for probable cause, impact and
// next steps, citing the evidence. Everything it sends is redacted first;
// a circuit breaker stops asking a failing endpoint for a while, and a
// daily token budget bounds the cost.
type OpenAI struct {
	client openai.Client
	model  string
	// Redact are the patterns whose matches never leave the bot.
	Redact []*regexp.Regexp
	// Budget is the most tokens a UTC day may use (0: no limit).
	Budget int64
	// Spending, when set, keeps what each day spent beyond this process
	// (Ledger): a restart does not hand out the day's budget again.
	Spending interface {
		Spent(ctx context.Context, day string) (int64, error)
		Spend(ctx context.Context, day string, tokens int64) error
	}
	// Timeout bounds one question (default 10 s).
	Timeout time.Duration
	// Observe, when set, hears each call: its outcome ("ok", "error",
	// "circuit_open", "budget_spent"; "unrecorded" when Spending failed to
	// keep a call's tokens) and the tokens it used.
	Observe func(outcome string, tokens int64)
	Now     func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	day       string
	used      int64
}

// breakerFailures open the circuit; it stays open breakerCooldown.
const (
	breakerFailures = 3
	breakerCooldown = 5 * time.Minute
)

// DefaultRedactions are what is redacted whatever the configuration adds:
// credentials and keys, bearer tokens, emails, IP addresses, long secrets.
var DefaultRedactions = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(authorization|bearer|token|api[_-]?key|secret|password|passwd|pwd)(["'\s:=]+)(?:(?i:bearer|basic|token)\s+)?[^\s"',;&]+`),
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+`),
	regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`),
	regexp.MustCompile(`(?i)\b(xox[abprs]|xapp|ghp|gho|ghs|github_pat|glpat|sk)[-_][A-Za-z0-9_-]{10,}\b`),
	regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`),
	regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`),
	regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b`),
	regexp.MustCompile(`\b[A-Za-z0-9+/_-]{32,}={0,2}`),
}

// NewOpenAI returns the analyzer for the endpoint at baseURL.
func NewOpenAI(baseURL, apiKey, model string, extra []*regexp.Regexp, now func() time.Time) *OpenAI {
	opts := []option.RequestOption{option.WithBaseURL(baseURL), option.WithMaxRetries(0)}
	if apiKey != "" {
		opts = append(opts, option.WithAPIKey(apiKey))
	} else {
		opts = append(opts, option.WithAPIKey("none")) // local servers take any
	}
	return &OpenAI{client: openai.NewClient(opts...), model: model, Redact: append(append([]*regexp.Regexp{}, DefaultRedactions...), extra...), Now: now}
}

func (o *OpenAI) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ErrCircuitOpen and ErrBudgetSpent are the analyzer declining to ask.
var (
	ErrCircuitOpen = errors.New("the AI endpoint failed repeatedly; not asking it for a while")
	ErrBudgetSpent = errors.New("the day's AI token budget is spent")
)

// RedactText replaces every match of the patterns.
func RedactText(s string, patterns []*regexp.Regexp) string {
	for _, p := range patterns {
		s = p.ReplaceAllStringFunc(s, func(m string) string {
			// Keep the name of a credential, drop its value.
			if sub := p.FindStringSubmatch(m); len(sub) == 3 {
				return sub[1] + sub[2] + "[redacted]"
			}
			return "[redacted]"
		})
	}
	return s
}

// evidenceText is what the model is given: the incident, its alerts'
// labels and annotations, the sources' findings, similar incidents and log
// lines, each numbered for the answer to cite, all redacted.
func (o *OpenAI) evidenceText(d incident.Detail, rep Report) (string, []string) {
	var b strings.Builder
	var items []string
	item := func(format string, a ...any) {
		text := RedactText(fmt.Sprintf(format, a...), o.Redact)
		items = append(items, text)
		fmt.Fprintf(&b, "E%d: %s\n", len(items), text)
	}
	item("incident %q, severity %s, %d alerts (%d firing), opened %s", d.Title, d.Severity, d.AlertCount, d.FiringCount, d.CreatedAt.UTC().Format(time.RFC3339))
	for i, a := range d.Alerts {
		if i == 5 {
			break
		}
		item("alert %q labels %v annotations %v", a.Summary, a.Labels, a.Annotations)
	}
	item("summary so far: %s", rep.Summary)
	for _, s := range rep.Similar {
		item("similar past incident #%d %q on %s, took %.0fs, resolved by %s, notes %q, tag %q", s.ID, s.Title, s.At.Format(time.DateOnly), s.Seconds, s.ResolvedBy, s.Notes, s.Tag)
	}
	for _, k := range rep.Kubernetes {
		item("kubernetes: %s", k)
	}
	for _, l := range rep.Logs {
		item("log: %s", l)
	}
	// Each item was redacted alone, and the whole again: a secret split
	// across the items' joins cannot slip through.
	return RedactText(b.String(), o.Redact), items
}

// cite resolves the answer's citations ("E3") to the items they name,
// shortened for a card, and drops those that name nothing: a model may
// cite evidence it was never given.
func cite(ids []string, items []string) []string {
	var out []string
	for _, id := range ids {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(id), "E"))
		if err != nil || n < 1 || n > len(items) {
			continue
		}
		out = append(out, fmt.Sprintf("E%d %s", n, shorten(items[n-1], 100)))
	}
	return out
}

const systemPrompt = `You help an on-call engineer who was just paged. From the numbered evidence only, answer with one JSON object and nothing else:
{"probable_cause": "...", "impact": "...", "next_steps": ["..."], "evidence": ["E1", ...]}
Cite the evidence items you rely on. If the evidence does not tell, say so.`

// Analyze asks the model, unless the circuit is open or the budget spent.
func (o *OpenAI) Analyze(ctx context.Context, d incident.Detail, rep Report) (*AI, error) {
	now := o.now()
	o.mu.Lock()
	if now.Before(o.openUntil) {
		o.mu.Unlock()
		o.observe("circuit_open", 0)
		return nil, ErrCircuitOpen
	}
	day := now.UTC().Format(time.DateOnly)
	if day != o.day {
		o.day, o.used = day, 0
		if o.Spending != nil {
			spent, err := o.Spending.Spent(ctx, day)
			if err != nil {
				o.day = "" // ask again next time
				o.mu.Unlock()
				return nil, err
			}
			o.used = spent
		}
	}
	if o.Budget > 0 && o.used >= o.Budget {
		o.mu.Unlock()
		o.observe("budget_spent", 0)
		return nil, ErrBudgetSpent
	}
	o.mu.Unlock()

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	evidence, items := o.evidenceText(d, rep)
	out, tokens, err := o.ask(actx, evidence)
	if out != nil {
		out.Cited = cite(out.Evidence, items)
	}
	cancel()
	if o.Spending != nil && tokens > 0 {
		if o.Spending.Spend(ctx, day, tokens) != nil {
			// The answer stands; this process still counts the tokens,
			// and the metrics say the day's spending went unrecorded.
			o.observe("unrecorded", 0)
		}
	}
	o.mu.Lock()
	o.used += tokens
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller gave up (a shutdown): not the endpoint's failure.
	case err != nil:
		if o.failures++; o.failures >= breakerFailures {
			o.openUntil, o.failures = now.Add(breakerCooldown), 0
		}
	default:
		o.failures = 0
	}
	o.mu.Unlock()
	if err != nil {
		o.observe("error", tokens)
		return nil, err
	}
	o.observe("ok", tokens)
	return out, nil
}

func (o *OpenAI) observe(outcome string, tokens int64) {
	if o.Observe != nil {
		o.Observe(outcome, tokens)
	}
}

func (o *OpenAI) ask(ctx context.Context, evidence string) (*AI, int64, error) {
	resp, err := o.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: o.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(systemPrompt),
			openai.UserMessage(evidence),
		},
	})
	if err != nil {
		return nil, 0, fmt.Errorf("ask the AI: %w", err)
	}
	tokens := resp.Usage.TotalTokens
	if len(resp.Choices) == 0 {
		return nil, tokens, errors.New("the AI answered nothing")
	}
	content := strings.TrimSpace(resp.Choices[0].Message.Content)
	// Models like to fence their JSON.
	content = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(content, "```json"), "```"), "```")
	var a AI
	if err := json.Unmarshal([]byte(strings.TrimSpace(content)), &a); err != nil || a.Cause == "" {
		return nil, tokens, fmt.Errorf("the AI's answer is not the JSON asked for: %.80q", content)
	}
	return &a, tokens, nil
}
