// Package triage does the digging before the responder arrives: it
// gathers evidence about a new incident from sources (the bot's own
// history of similar incidents, Prometheus, Kubernetes and logs), each
// optional and each bounded in time, writes a rule-based summary of what
// fired, since when, what is known of it, the likely culprit and what
// fixed it last time, and optionally asks an AI for probable cause,
// impact and next steps. It runs off the paging path:
// nothing here can hold back a page or a card.
package triage

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

// Report is one incident's triage.
type Report struct {
	// Status is "ready" when every source answered, "partial" when some
	// did not (Sources says which and why).
	Status  string         `json:"status"`
	Summary string         `json:"summary"`
	Sources []SourceResult `json:"sources"`
	Similar []Similar      `json:"similar"`
	Links   []Link         `json:"links"`
	// Logs are the last log lines around the alert.
	Logs []string `json:"logs,omitempty"`
	// Series are the metrics behind the alert (its expression, from an
	// hour before it fired), for the chart in the room and the console.
	Series []Series `json:"series,omitempty"`
	// Value is the alert's expression now ("disk_used_percent > 90: 96.5"),
	// for the card; "" without Prometheus.
	Value string `json:"value,omitempty"`
	// Kubernetes is what the cluster says of the alert's workload.
	Kubernetes []string `json:"kubernetes,omitempty"`
	// AI is the AI analysis, nil when none is configured or it failed.
	AI *AI `json:"ai"`
	// At is when the triage ran.
	At time.Time `json:"at"`
}

// SourceResult says how one source went.
type SourceResult struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Similar is a past incident like this one.
type Similar struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	At         time.Time `json:"at"`
	Seconds    float64   `json:"duration_seconds"`
	ResolvedBy string    `json:"resolved_by"`
	Notes      []string  `json:"notes,omitempty"`
	Tag        string    `json:"tag,omitempty"`
	// SameGroup says it was the very same group of alerts (the route's
	// grouping labels equal), not only the same category.
	SameGroup bool `json:"same_group,omitempty"`
}

// Link is a runbook or a dashboard named by the alert.
type Link struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// AI is an AI analysis (a source to come).
type AI struct {
	Cause    string   `json:"probable_cause"`
	Impact   string   `json:"impact"`
	Next     []string `json:"next_steps"`
	Evidence []string `json:"evidence"`
	// Cited are the evidence items the answer cites, in words ("E4 log:
	// ..."); citations of items it was never given are dropped.
	Cited []string `json:"cited,omitempty"`
}

// Series is one metric over time.
type Series struct {
	// Name is the expression, with the series' labels when it has several.
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one sample of a series.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Evidence is what a source found.
type Evidence struct {
	Similar []Similar
	// Facts are lines for the summary ("db1 restarted 3 times").
	Facts []string
	// Logs are log lines.
	Logs []string
	// Series are metrics over time; Value the expression's value now.
	Series []Series
	Value  string
	// Kubernetes are lines on the workload's state (status, restarts,
	// events); the failing container's log lines go in Logs.
	Kubernetes []string
}

// Source gathers evidence about an incident.
type Source interface {
	Name() string
	Gather(ctx context.Context, d incident.Detail) (Evidence, error)
}

// Runner runs the sources of a triage.
type Runner struct {
	Sources []Source
	// AI, when set, analyzes the evidence once the sources have answered;
	// when it is off or fails, the rule-based summary stands and says so.
	AI Analyzer
	// Timeout bounds each source (default 10 s): a slow or dead source
	// is reported as failed and the rest stand.
	Timeout time.Duration
	Now     func() time.Time
}

// Run triages d: every source at once, each within Timeout, then the
// summary of what they found.
func (r Runner) Run(ctx context.Context, d incident.Detail) Report {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	rep := Report{Status: "ready", At: now(), Sources: make([]SourceResult, len(r.Sources)), Similar: []Similar{}, Links: links(d)}
	found := make([]Evidence, len(r.Sources))
	var wg sync.WaitGroup
	for i, s := range r.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			ev, err := gather(sctx, s, d)
			res := SourceResult{Name: s.Name(), OK: err == nil, DurationMS: time.Since(start).Milliseconds()}
			if err != nil {
				res.Error = err.Error()
			}
			rep.Sources[i], found[i] = res, ev
		}()
	}
	wg.Wait()
	var facts []string
	for i, ev := range found {
		if !rep.Sources[i].OK {
			rep.Status = "partial"
			continue
		}
		rep.Similar = append(rep.Similar, ev.Similar...)
		rep.Logs = append(rep.Logs, ev.Logs...)
		rep.Series = append(rep.Series, ev.Series...)
		rep.Kubernetes = append(rep.Kubernetes, ev.Kubernetes...)
		if ev.Value != "" {
			rep.Value = ev.Value
		}
		facts = append(facts, ev.Facts...)
	}
	rep.Summary = summarize(d, rep, facts, now())
	if r.AI != nil {
		ai, err := r.AI.Analyze(ctx, d, rep)
		res := SourceResult{Name: "ai", OK: err == nil}
		if err != nil {
			res.Error = err.Error()
			rep.Status = "partial"
			rep.Summary += " (The AI analysis is not available: " + err.Error() + ".)"
		}
		rep.Sources = append(rep.Sources, res)
		rep.AI = ai
	}
	return rep
}

// gather runs one source, turning a panic or an overrun into an error so
// one broken source cannot take the triage down.
func gather(ctx context.Context, s Source, d incident.Detail) (Evidence, error) {
	type result struct {
		ev  Evidence
		err error
	}
	// Buffered: a source that answers after its time is up still has
	// somewhere to put its answer, and ends (its context is cancelled).
	out := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("source %s failed: %v", s.Name(), p)}
			}
			out <- r
		}()
		r.ev, r.err = s.Gather(ctx, d)
	}()
	select {
	case r := <-out:
		return r.ev, r.err
	case <-ctx.Done():
		return Evidence{}, fmt.Errorf("no answer within the time allowed: %w", ctx.Err())
	}
}

// linkAnnotations are the annotations that name a runbook or a
// dashboard, in the order the card shows them.
var linkAnnotations = []struct{ key, label string }{
	{"runbook_url", "Runbook"}, {"runbook", "Runbook"}, {"dashboard_url", "Dashboard"}, {"dashboard", "Dashboard"},
	{"grafana_url", "Dashboard"}, {"playbook", "Playbook"},
}

func links(d incident.Detail) []Link {
	out := []Link{}
	seen := map[string]bool{}
	for _, a := range d.Alerts {
		for _, la := range linkAnnotations {
			if u := a.Annotations[la.key]; strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				if !seen[u] {
					seen[u] = true
					out = append(out, Link{Label: la.label, URL: u})
				}
			}
		}
		if u := a.SourceURL; u != "" && !seen[u] {
			seen[u] = true
			out = append(out, Link{Label: "Source", URL: u})
		}
	}
	return out
}

// summarize is the rule-based summary: what fired, since when, how many,
// what changed, and what fixed it last time.
func summarize(d incident.Detail, rep Report, facts []string, now time.Time) string {
	var b strings.Builder
	first := d.CreatedAt
	for _, a := range d.Alerts {
		if a.StartsAt.Before(first) && !a.StartsAt.IsZero() {
			first = a.StartsAt
		}
	}
	fmt.Fprintf(&b, "%s: %d alert%s (%d firing), %s, since %s (%s ago).", d.Title, d.AlertCount, plural(d.AlertCount),
		d.FiringCount, d.Severity, first.UTC().Format("Mon 15:04 MST"), now.Sub(first).Round(time.Minute))
	if common := commonLabels(d.Alerts); common != "" {
		fmt.Fprintf(&b, " Where: %s.", common)
	}
	for _, f := range facts {
		b.WriteString(" " + f)
	}
	if why, from := culprit(rep); why != "" {
		fmt.Fprintf(&b, " Likely culprit: %s (%q).", why, shorten(from, 120))
	}
	if n := len(rep.Similar); n > 0 {
		last := rep.Similar[0]
		fmt.Fprintf(&b, " Seen %d time%s before; last #%d on %s, resolved in %s by %s", n, plural(n), last.ID,
			last.At.UTC().Format("Mon 2 Jan"), (time.Duration(last.Seconds) * time.Second).String(), last.ResolvedBy)
		if len(last.Notes) > 0 {
			fmt.Fprintf(&b, " (note: %q)", last.Notes[len(last.Notes)-1])
		}
		if last.Tag != "" {
			fmt.Fprintf(&b, ", tagged %s", last.Tag)
		}
		b.WriteString(".")
	} else {
		b.WriteString(" Not seen before.")
	}
	for _, l := range rep.Links {
		if l.Label == "Runbook" {
			fmt.Fprintf(&b, " Runbook: %s", l.URL)
			break
		}
	}
	if rep.Status == "partial" {
		var failed []string
		for _, s := range rep.Sources {
			if !s.OK {
				failed = append(failed, s.Name)
			}
		}
		fmt.Fprintf(&b, " (Not answering: %s.)", strings.Join(failed, ", "))
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// commonLabels lists the labels all the alerts share that say where
// (instance, namespace, pod, service...), as "instance=db1, job=node".
func commonLabels(alerts []incident.Alert) string {
	if len(alerts) == 0 {
		return ""
	}
	where := []string{"cluster", "namespace", "service", "job", "instance", "pod", "deployment", "statefulset", "node", "host"}
	var out []string
	for _, k := range where {
		v, ok := alerts[0].Labels[k]
		if !ok {
			continue
		}
		same := true
		for _, a := range alerts[1:] {
			same = same && a.Labels[k] == v
		}
		if same {
			out = append(out, k+"="+v)
		}
	}
	return strings.Join(out, ", ")
}

// Line is the report as the timeline and the rooms say it: the summary,
// then, when the AI answered, its probable cause, impact, next steps and
// the evidence it cites, a line each.
func (r Report) Line() string {
	if r.AI == nil {
		return r.Summary
	}
	return r.Summary + "\nAI: " + r.AI.Text()
}

// Text is the analysis as a room reads it: the probable cause, then its
// impact, up to three next steps and the evidence cited, a line each.
func (a AI) Text() string {
	var b strings.Builder
	b.WriteString(a.Cause)
	if a.Impact != "" {
		b.WriteString("\nImpact: " + a.Impact)
	}
	for i, step := range a.Next {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "\nNext %d: %s", i+1, step)
	}
	if len(a.Cited) > 0 {
		b.WriteString("\nEvidence: " + strings.Join(a.Cited, "; "))
	}
	return b.String()
}

// culpritRules name a likely culprit from what the evidence says, most
// telling first: the cluster's own verdicts, then what logs commonly say
// before an outage.
var culpritRules = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`OOMKilled`), "a container ran out of memory"},
	{regexp.MustCompile(`CrashLoopBackOff`), "a container is crash-looping"},
	{regexp.MustCompile(`ImagePullBackOff|ErrImagePull`), "an image cannot be pulled (a bad deploy?)"},
	{regexp.MustCompile(`\bEvicted\b`), "pods were evicted"},
	{regexp.MustCompile(`NotReady|MemoryPressure|DiskPressure|PIDPressure`), "the node is unhealthy"},
	{regexp.MustCompile(`rolled out revision \d+ .*before the alert fired`), "a rollout just before it fired"},
	{regexp.MustCompile(`(?i)no space left on device`), "a full disk"},
	{regexp.MustCompile(`(?i)out of memory|cannot allocate memory`), "memory exhaustion"},
	{regexp.MustCompile(`(?i)too many open files`), "file descriptors exhausted"},
	{regexp.MustCompile(`(?i)x509|certificate (has )?expired`), "a certificate problem"},
	{regexp.MustCompile(`(?i)\bpanic:|segmentation fault|fatal error`), "the process crashing"},
	{regexp.MustCompile(`(?i)\bdeadlock`), "a deadlock"},
	{regexp.MustCompile(`(?i)connection refused|no route to host|i/o timeout|deadline exceeded`), "a dependency not answering"},
}

// culprit is the likely culprit the Kubernetes findings and log lines
// point to, and the line that says so; "" when none does. The first rule
// that any line matches wins, so an OOMKill outranks the connection
// errors it causes downstream.
func culprit(rep Report) (why, from string) {
	lines := append(slices.Clone(rep.Kubernetes), rep.Logs...)
	for _, r := range culpritRules {
		for _, l := range lines {
			if r.re.MatchString(l) {
				return r.why, l
			}
		}
	}
	return "", ""
}

// Only returns the runner with only the named sources, and the AI only
// when "ai" is named.
func (r Runner) Only(names []string) Runner {
	var kept []Source
	for _, s := range r.Sources {
		if slices.Contains(names, s.Name()) {
			kept = append(kept, s)
		}
	}
	r.Sources = kept
	if !slices.Contains(names, "ai") {
		r.AI = nil
	}
	return r
}
