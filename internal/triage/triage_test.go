package triage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
)

type fakeSource struct {
	name  string
	ev    Evidence
	err   error
	delay time.Duration
	panic bool
}

func (f fakeSource) Name() string { return f.name }
func (f fakeSource) Gather(ctx context.Context, _ incident.Detail) (Evidence, error) {
	if f.panic {
		panic("boom")
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay): // a slow source, not a timer under test
		case <-ctx.Done():
			return Evidence{}, ctx.Err()
		}
	}
	return f.ev, f.err
}

var opened = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func detail() incident.Detail {
	return incident.Detail{
		Incident: incident.Incident{ID: 7, Title: "disk full on db-03", Team: "ops", Severity: ingest.SeverityError, AlertCount: 2, FiringCount: 2, CreatedAt: opened},
		Alerts: []incident.Alert{
			{Labels: map[string]string{"instance": "db-03", "job": "node", "mount": "/"}, Annotations: map[string]string{"runbook_url": "https://wiki.example.com/disk"},
				SourceURL: "http://prom:9090/graph?g0.expr=x", StartsAt: opened.Add(-2 * time.Minute)},
			{Labels: map[string]string{"instance": "db-03", "job": "node", "mount": "/var"}, StartsAt: opened.Add(-time.Minute)},
		},
	}
}

func TestRun(t *testing.T) {
	past := Similar{ID: 3, Title: "disk full on db-01", At: opened.Add(-48 * time.Hour), Seconds: 720, ResolvedBy: "slack:alice", Notes: []string{"cleaned /var/log"}, Tag: "needs-tuning"}
	cases := []struct {
		name    string
		sources []Source
		status  string
		says    []string
		failed  map[string]string
	}{
		{"history found one", []Source{fakeSource{name: "history", ev: Evidence{Similar: []Similar{past}}}}, "ready",
			[]string{"disk full on db-03: 2 alerts (2 firing), error, since Tue 02:58 UTC (7m0s ago).", "Where: job=node, instance=db-03.",
				`Seen 1 time before; last #3 on Sun 29 Nov, resolved in 12m0s by slack:alice (note: "cleaned /var/log"), tagged needs-tuning.`,
				"Runbook: https://wiki.example.com/disk"}, nil},
		{"nothing before", []Source{fakeSource{name: "history"}}, "ready", []string{"Not seen before."}, nil},
		{"a slow source and a failing one", []Source{fakeSource{name: "history"}, fakeSource{name: "prometheus", delay: time.Hour},
			fakeSource{name: "logs", err: errors.New("loki answered 502")}}, "partial",
			[]string{"Not seen before.", "(Not answering: prometheus, logs.)"},
			map[string]string{"prometheus": "no answer within the time allowed", "logs": "loki answered 502"}},
		{"a source that panics", []Source{fakeSource{name: "kubernetes", panic: true}}, "partial", []string{"(Not answering: kubernetes.)"},
			map[string]string{"kubernetes": "source kubernetes failed: boom"}},
		{"facts", []Source{fakeSource{name: "kubernetes", ev: Evidence{Facts: []string{"db-03 restarted 3 times (OOMKilled)."}}}}, "ready",
			[]string{"db-03 restarted 3 times (OOMKilled)."}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Runner{Sources: c.sources, Timeout: 50 * time.Millisecond, Now: func() time.Time { return opened.Add(5 * time.Minute) }}
			rep := r.Run(context.Background(), detail())
			if rep.Status != c.status {
				t.Errorf("status = %s, want %s", rep.Status, c.status)
			}
			for _, want := range c.says {
				if !strings.Contains(rep.Summary, want) {
					t.Errorf("summary %q lacks %q", rep.Summary, want)
				}
			}
			for _, s := range rep.Sources {
				if want, ok := c.failed[s.Name]; ok != !s.OK || ok && !strings.Contains(s.Error, want) {
					t.Errorf("source %+v, want failed %v with %q", s, ok, want)
				}
			}
			if len(rep.Links) != 2 || rep.Links[0] != (Link{"Runbook", "https://wiki.example.com/disk"}) || rep.Links[1].Label != "Source" {
				t.Errorf("links = %+v", rep.Links)
			}
		})
	}
}

func TestCulprit(t *testing.T) {
	cases := []struct {
		name      string
		rep       Report
		why, from string
	}{
		{"nothing telling", Report{Logs: []string{"GET /healthz 200"}}, "", ""},
		{"an OOMKill outranks what it causes", Report{Kubernetes: []string{"pod api-1: restarts 5, last terminated OOMKilled (exit 137)"},
			Logs: []string{"dial tcp 10.0.0.1:5432: connection refused"}}, "a container ran out of memory", "pod api-1: restarts 5, last terminated OOMKilled (exit 137)"},
		{"logs alone", Report{Logs: []string{"write /var/lib/db: no space left on device"}}, "a full disk", "write /var/lib/db: no space left on device"},
		{"a dependency", Report{Logs: []string{"context deadline exceeded calling payments"}}, "a dependency not answering", "context deadline exceeded calling payments"},
		{"the node", Report{Kubernetes: []string{"node n1: Ready False (KubeletNotReady), MemoryPressure True"}}, "the node is unhealthy", "node n1: Ready False (KubeletNotReady), MemoryPressure True"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why, from := culprit(c.rep)
			if why != c.why || from != c.from {
				t.Errorf("culprit = %q from %q, want %q from %q", why, from, c.why, c.from)
			}
		})
	}
}

// The summary names the likely culprit and the line that says so.
func TestSummaryNamesTheLikelyCulprit(t *testing.T) {
	r := Runner{Sources: []Source{fakeSource{name: "logs", ev: Evidence{Logs: []string{"level=error msg=\"write failed: no space left on device\""}}}},
		Timeout: time.Second, Now: func() time.Time { return opened.Add(2 * time.Minute) }}
	rep := r.Run(context.Background(), detail())
	if want := `Likely culprit: a full disk ("level=error msg=\"write failed: no space left on device\"").`; !strings.Contains(rep.Summary, want) {
		t.Errorf("summary %q lacks %q", rep.Summary, want)
	}
}

func TestRunnerOnly(t *testing.T) {
	all := Runner{Sources: []Source{fakeSource{name: "history"}, fakeSource{name: "logs"}, fakeSource{name: "prometheus"}}, AI: &OpenAI{}}
	cases := []struct {
		names   []string
		sources []string
		ai      bool
	}{
		{[]string{"history", "logs", "prometheus", "ai"}, []string{"history", "logs", "prometheus"}, true},
		{[]string{"logs"}, []string{"logs"}, false},
		{[]string{"ai"}, nil, true},
		{[]string{"kubernetes"}, nil, false}, // named but not configured: nothing
	}
	for _, c := range cases {
		r := all.Only(c.names)
		var got []string
		for _, s := range r.Sources {
			got = append(got, s.Name())
		}
		if !slices.Equal(got, c.sources) || (r.AI != nil) != c.ai {
			t.Errorf("Only(%q) = %q, AI %v; want %q, AI %v", c.names, got, r.AI != nil, c.sources, c.ai)
		}
	}
	if len(all.Sources) != 3 || all.AI == nil {
		t.Error("Only changed the runner it was called on")
	}
}
