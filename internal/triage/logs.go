package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

// Logs reads the last lines of a log store with a query URL filled from
// the alert's labels: a Loki query_range URL, an Elasticsearch-style
// search, or anything that answers lines.
type Logs struct {
	// URL is a text/template over {{.Labels.name}}, {{.Start}} and
	// {{.End}} (RFC 3339 and Unix nanoseconds as .StartNS, .EndNS); label
	// values are URL-escaped as they go in.
	URL    *template.Template
	Client *http.Client
	// Lines is how many to keep (default 10).
	Lines int
	Now   func() time.Time
}

// NewLogs parses the URL template.
func NewLogs(urlTemplate string, now func() time.Time) (*Logs, error) {
	t, err := template.New("logs").Option("missingkey=zero").Parse(urlTemplate)
	if err != nil {
		return nil, fmt.Errorf("triage.logs.url_template: %w", err)
	}
	return &Logs{URL: t, Client: &http.Client{Timeout: 30 * time.Second}, Now: now}, nil
}

// Name names the source.
func (*Logs) Name() string { return "logs" }

// Gather asks the log store for the lines around the alert.
func (l *Logs) Gather(ctx context.Context, d incident.Detail) (Evidence, error) {
	if len(d.Alerts) == 0 {
		return Evidence{}, nil
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	a := d.Alerts[0]
	start := a.StartsAt.Add(-15 * time.Minute)
	escaped := map[string]string{}
	for k, v := range a.Labels {
		escaped[k] = url.QueryEscape(v)
	}
	var u bytes.Buffer
	if err := l.URL.Execute(&u, map[string]any{"Labels": escaped, "Start": start.UTC().Format(time.RFC3339), "End": now.UTC().Format(time.RFC3339),
		"StartNS": start.UnixNano(), "EndNS": now.UnixNano()}); err != nil {
		return Evidence{}, fmt.Errorf("fill the query: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return Evidence{}, err
	}
	resp, err := l.Client.Do(req)
	if err != nil {
		return Evidence{}, fmt.Errorf("log store: %w", redact(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Evidence{}, fmt.Errorf("log store: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Evidence{}, fmt.Errorf("log store answered %s", resp.Status)
	}
	n := l.Lines
	if n <= 0 {
		n = 10
	}
	lines := parseLines(body)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return Evidence{Facts: []string{"No log lines around it."}}, nil
	}
	return Evidence{Logs: lines, Facts: []string{fmt.Sprintf("%d log lines around it; the last: %q.", len(lines), lines[len(lines)-1])}}, nil
}

// parseLines reads a Loki answer (streams of [ns, line], oldest first by
// time), an Elasticsearch-style one (hits of _source.message or .log), or
// plain text.
func parseLines(body []byte) []string {
	var loki struct {
		Data struct {
			Result []struct {
				Values [][2]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &loki) == nil && len(loki.Data.Result) > 0 {
		var entries [][2]string
		for _, r := range loki.Data.Result {
			entries = append(entries, r.Values...)
		}
		// Streams come one after another; the lines go by their time.
		ns := func(e [2]string) int64 { n, _ := strconv.ParseInt(e[0], 10, 64); return n }
		sort.SliceStable(entries, func(i, j int) bool { return ns(entries[i]) < ns(entries[j]) })
		out := make([]string, len(entries))
		for i, e := range entries {
			out[i] = e[1]
		}
		return out
	}
	var es struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if json.Unmarshal(body, &es) == nil && len(es.Hits.Hits) > 0 {
		var out []string
		for _, h := range es.Hits.Hits {
			for _, k := range []string{"message", "log", "msg"} {
				if s, ok := h.Source[k].(string); ok {
					out = append(out, s)
					break
				}
			}
		}
		return out
	}
	if json.Valid(body) {
		return nil
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// redact keeps a URL's query (which may carry a token) out of an error.
func redact(err error) error {
	var ue *url.Error
	if e, ok := err.(*url.Error); ok {
		ue = e
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return fmt.Errorf("%s %s: %w", ue.Op, u.String(), ue.Err)
		}
	}
	return err
}
