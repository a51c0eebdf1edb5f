package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/triage"
)

// fakeTriages answers the triage reports it holds, and err for any.
type fakeTriages struct {
	reports map[int64]*triage.Report
	err     error
}

func (f fakeTriages) TriageOf(_ context.Context, id int64) (*triage.Report, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.reports[id], nil
}

// diskSeries is a metric with a few samples, for the chart.
func diskSeries(name string) []triage.Series {
	var pts []triage.Point
	for i := range 6 {
		pts = append(pts, triage.Point{T: start.Add(time.Duration(i-5) * 10 * time.Minute), V: 40 + float64(i)*11})
	}
	return []triage.Series{{Name: name, Points: pts}}
}

// fullReport has every part a triage can have.
func fullReport() *triage.Report {
	return &triage.Report{
		Status:  "ready",
		Summary: "disk full on db-03: 1 alert (1 firing). Seen 1 time before.",
		Sources: []triage.SourceResult{{Name: "history", OK: true, DurationMS: 3}, {Name: "prometheus", OK: true, DurationMS: 41},
			{Name: "ai", OK: true, DurationMS: 900}},
		Similar: []triage.Similar{{ID: 1, Title: "Disk full", At: start.Add(-48 * time.Hour), Seconds: 1500, ResolvedBy: "web:alice",
			Notes: []string{"cleaned /var/log, rotated the journal"}, Tag: "needs-tuning"}},
		Links:      []triage.Link{{Label: "Runbook", URL: "https://runbooks.example/disk-full"}},
		Logs:       []string{"level=error msg=\"no space left on device\"", "level=warn msg=\"retrying write\""},
		Series:     diskSeries("disk_used_percent > 90"),
		Value:      "disk_used_percent > 90: 96.5",
		Kubernetes: []string{"pod db-03-0: CrashLoopBackOff, 4 restarts"},
		AI: &triage.AI{Cause: "the journal filled /var", Impact: "db-03 refuses writes",
			Next: []string{"vacuum the journal"}, Evidence: []string{"E1: no space left on device"}},
		At: start.Add(time.Minute),
	}
}

// Issue 12: an incident's Triage page shows the whole report, says when
// a part is missing and why, links only to web URLs and escapes what the
// alert's sender wrote.
func TestTriagePage(t *testing.T) {
	partial := &triage.Report{
		Status:  "partial",
		Summary: "disk full on db-03: 1 alert (1 firing). (The AI analysis is not available: overloaded.)",
		Sources: []triage.SourceResult{{Name: "history", OK: true, DurationMS: 2},
			{Name: "prometheus", OK: false, Error: "no answer within the time allowed", DurationMS: 2000},
			{Name: "ai", OK: false, Error: "overloaded"}},
		Similar: []triage.Similar{},
		At:      start,
	}
	aiOff := &triage.Report{Status: "ready", Summary: "disk full on db-03. Not seen before.",
		Sources: []triage.SourceResult{{Name: "history", OK: true, DurationMS: 1}}, At: start}
	hostile := &triage.Report{Status: "ready", Summary: `<script>alert("summary")</script>`, At: start,
		Sources: []triage.SourceResult{{Name: "history", OK: true}},
		Links: []triage.Link{{Label: "Runbook", URL: "javascript:alert(document.cookie)"}, {Label: "Dashboard", URL: " JaVaScRiPt:alert(2)"},
			{Label: "Source", URL: "data:text/html,<b>x</b>"}, {Label: "Wiki", URL: "//evil.example/x"}, {Label: "Graph", URL: "http://grafana.example/d/1?a=1&b=2"}},
		Logs:    []string{`</pre><img src=x onerror=alert(1)>`},
		Similar: []triage.Similar{{ID: 1, Title: `<b>bold</b>`, Notes: []string{`<i>note</i>`}}},
	}
	for _, c := range []struct {
		name    string
		report  *triage.Report
		want    []string
		notWant []string
	}{
		{"full report", fullReport(), []string{
			`id="triage-status"><strong>ready</strong> <span class="muted">ran Mon 2 Mar 03:01 UTC</span>`,
			"disk full on db-03: 1 alert (1 firing). Seen 1 time before.",
			"Now: <code>disk_used_percent &gt; 90: 96.5</code>",
			`<img id="chart" src="/incidents/2/triage/chart.svg" alt="`,
			"<dt>Probable cause</dt><dd>the journal filled /var</dd>", "<dt>Impact</dt><dd>db-03 refuses writes</dd>",
			"<li>vacuum the journal</li>", "<li>E1: no space left on device</li>",
			"<tr><td>history</td><td>ok</td><td></td><td>3 ms</td></tr>", "<tr><td>prometheus</td><td>ok</td><td></td><td>41 ms</td></tr>",
			"<li>pod db-03-0: CrashLoopBackOff, 4 restarts</li>",
			"<pre class=\"logs\">level=error msg=&#34;no space left on device&#34;\nlevel=warn msg=&#34;retrying write&#34;\n</pre>",
			`Runbook: <a href="https://runbooks.example/disk-full" rel="noopener noreferrer">https://runbooks.example/disk-full</a>`,
			`<td><a href="/incidents/1">#1 Disk full</a></td><td>Sat 28 Feb 03:00 UTC</td><td>25m0s</td><td>web:alice</td><td><p>cleaned /var/log, rotated the journal</p></td><td>needs-tuning</td>`,
			`href="/incidents/2">#2 Disk full on db-03</a>`, `data-room="incident-2"`, "<title>Triage · #2 Disk full on db-03 · oncall bot</title>",
		}, []string{"ai-note", "no-triage"}},
		{"partial, the AI failing", partial, []string{
			"<strong>partial</strong>", "The AI analysis is not available: overloaded.",
			`<tr class="failed"><td>prometheus</td><td>failed</td><td>no answer within the time allowed</td><td>2000 ms</td></tr>`,
			`<tr class="failed"><td>ai</td><td>failed</td><td>overloaded</td>`, "None seen before.",
		}, []string{"<img", "Probable cause", "<h2>Logs", "<h2>Kubernetes", "<h2>Runbooks"}},
		{"the AI off", aiOff, []string{"The AI analysis is off: no AI is configured for triage."}, []string{"<img", "Probable cause", "not available"}},
		{"no triage yet", nil, []string{`id="no-triage"`, "This incident has no triage yet."},
			[]string{"<h2>Sources", "<img", "triage-status"}},
		{"hostile text and links", hostile, []string{
			`&lt;script&gt;alert(&#34;summary&#34;)&lt;/script&gt;`,
			"Runbook: <code>javascript:alert(document.cookie)</code> <span class=\"muted\">(not a web link)</span>",
			"Dashboard: <code> JaVaScRiPt:alert(2)</code>", "Source: <code>data:text/html,&lt;b&gt;x&lt;/b&gt;</code>",
			"Wiki: <code>//evil.example/x</code>",
			`Graph: <a href="http://grafana.example/d/1?a=1&amp;b=2"`,
			`&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;`, `#1 &lt;b&gt;bold&lt;/b&gt;`, `<p>&lt;i&gt;note&lt;/i&gt;</p>`,
		}, []string{`href="javascript:`, `href=" JaVaScRiPt`, `href="data:`, `href="//evil`, "<script>alert", "<img src=x", "<b>bold", "#ZgotmplZ"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.open("Disk full")
			id := f.open("Disk full on db-03")
			f.console.SetTriages(fakeTriages{reports: map[int64]*triage.Report{id: c.report}})
			rec := f.do(request{method: "GET", path: "/incidents/" + strconv.FormatInt(id, 10) + "/triage", cookie: f.signIn("alice-token")})
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET triage = %d %s", rec.Code, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(body, w) {
					t.Errorf("the page has %q", w)
				}
			}
			// The page works under the console's Content-Security-Policy.
			for _, bad := range []string{"<style", " style=", "<script>", " onclick=", " onload="} {
				if strings.Contains(body, bad) {
					t.Errorf("the page has %q, which the Content-Security-Policy blocks", bad)
				}
			}
			if t.Failed() {
				t.Logf("page:\n%s", body)
			}
		})
	}
}

// The room links to its Triage page when the console has them; without
// (no triage configured) neither the link nor the pages are there.
func TestTriagePageIsOffWithoutTriages(t *testing.T) {
	for _, on := range []bool{false, true} {
		f := newFixture(t)
		id := f.open("Disk full")
		if on {
			f.console.SetTriages(fakeTriages{reports: map[int64]*triage.Report{id: fullReport()}})
		}
		ck := f.signIn("alice-token")
		room := f.do(request{method: "GET", path: "/incidents/1", cookie: ck})
		if got := strings.Contains(room.Body.String(), `<a href="/incidents/1/triage">Triage</a>`); got != on {
			t.Errorf("triages %v: the room links to the Triage page: %v", on, got)
		}
		want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]
		for _, path := range []string{"/incidents/1/triage", "/incidents/1/triage/chart.svg"} {
			if code := f.do(request{method: "GET", path: path, cookie: ck}).Code; code != want {
				t.Errorf("triages %v: GET %s = %d, want %d", on, path, code, want)
			}
		}
		// No session: sign in first, as for every page.
		if rec := f.do(request{method: "GET", path: "/incidents/1/triage"}); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Errorf("triages %v: without a session = %d %s", on, rec.Code, rec.Header().Get("Location"))
		}
	}
}

// A store that fails is a 500, logged, not a page that says there is no
// triage; an unknown incident or a bad id is a 404.
func TestTriagePageErrors(t *testing.T) {
	f := newFixture(t)
	f.open("Disk full")
	ck := f.signIn("alice-token")
	f.console.SetTriages(fakeTriages{err: errors.New("database is locked")})
	for _, c := range []struct {
		path string
		code int
	}{
		{"/incidents/1/triage", http.StatusInternalServerError},
		{"/incidents/1/triage/chart.svg", http.StatusInternalServerError},
		{"/incidents/99/triage", http.StatusNotFound},
		{"/incidents/x/triage", http.StatusNotFound},
		{"/incidents/99/triage/chart.svg", http.StatusNotFound},
	} {
		rec := f.do(request{method: "GET", path: c.path, cookie: ck})
		if rec.Code != c.code || strings.Contains(rec.Body.String(), "database is locked") {
			t.Errorf("GET %s = %d %q, want %d without the error", c.path, rec.Code, rec.Body, c.code)
		}
	}
}

// The chart is the report's series as SVG; a report without series, or
// no report, has none (404), and the page shows no image for it. A series
// name is the alert's text: it is escaped in the SVG.
func TestTriageChart(t *testing.T) {
	withSeries := fullReport()
	withSeries.Series = diskSeries(`disk_used_percent{mount="</text><script>alert(1)</script>"} > 90`)
	noSeries := fullReport()
	noSeries.Series = nil
	emptySeries := fullReport()
	emptySeries.Series = []triage.Series{{Name: "up == 0"}}
	for _, c := range []struct {
		name   string
		report *triage.Report
		code   int
	}{
		{"series", withSeries, http.StatusOK},
		{"no series", noSeries, http.StatusNotFound},
		{"a series without points", emptySeries, http.StatusNotFound},
		{"no triage", nil, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.open("Disk full")
			f.console.SetTriages(fakeTriages{reports: map[int64]*triage.Report{id: c.report}})
			ck := f.signIn("alice-token")
			rec := f.do(request{method: "GET", path: "/incidents/1/triage/chart.svg", cookie: ck})
			if rec.Code != c.code {
				t.Fatalf("GET chart.svg = %d %s, want %d", rec.Code, rec.Body, c.code)
			}
			page := f.do(request{method: "GET", path: "/incidents/1/triage", cookie: ck}).Body.String()
			if got := strings.Contains(page, `src="/incidents/1/triage/chart.svg"`); got != (c.code == http.StatusOK) {
				t.Errorf("the page shows the chart: %v", got)
			}
			if c.code != http.StatusOK {
				return
			}
			body := rec.Body.String()
			if ct := rec.Header().Get("Content-Type"); ct != "image/svg+xml" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.HasPrefix(body, "<svg") || !strings.Contains(body, "</svg>") {
				t.Errorf("not an SVG: %.200s", body)
			}
			if strings.Contains(body, "<script") {
				t.Errorf("the series name reached the SVG unescaped: %s", body)
			}
			if rec.Header().Get("Content-Security-Policy") == "" {
				t.Error("the chart has no Content-Security-Policy")
			}
		})
	}
}

// Issue 12 under console_visibility: teams: another team's incident's
// Triage page and chart answer as its room does, 404 naming nothing, and
// a similar incident of another team is left out of a report alice sees;
// with the default visibility she sees both.
func TestTriagePageVisibility(t *testing.T) {
	for _, c := range []struct {
		name, setting string
		sees          bool
	}{{"default", "", true}, {"teams", "console_visibility: teams\n", false}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureConfig(t, c.setting+twoTeams)
			other := f.openFor("ReplicationLagHigh", "db")
			own := f.openFor("ApiLatencyHigh", "api")
			secret := fullReport()
			secret.Summary = "replication lag on db-primary"
			mine := fullReport()
			mine.Similar = []triage.Similar{{ID: other, Title: "ReplicationLagHigh"}, {ID: own, Title: "ApiLatencyHigh before"}}
			f.console.SetTriages(fakeTriages{reports: map[int64]*triage.Report{other: secret, own: mine}})
			alice := f.signIn("alice-token")
			want := map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[c.sees]
			for _, path := range []string{"/incidents/" + strconv.FormatInt(other, 10), "/incidents/" + strconv.FormatInt(other, 10) + "/triage",
				"/incidents/" + strconv.FormatInt(other, 10) + "/triage/chart.svg"} {
				rec := f.do(request{method: "GET", path: path, cookie: alice})
				if rec.Code != want {
					t.Errorf("GET %s for alice = %d, want %d", path, rec.Code, want)
				}
				if !c.sees && (strings.Contains(rec.Body.String(), "ReplicationLagHigh") || strings.Contains(rec.Body.String(), "db-primary")) {
					t.Errorf("the 404 of %s names the incident: %s", path, rec.Body)
				}
			}
			page := f.do(request{method: "GET", path: "/incidents/" + strconv.FormatInt(own, 10) + "/triage", cookie: alice})
			if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "ApiLatencyHigh before") {
				t.Fatalf("alice's own triage = %d %s", page.Code, page.Body)
			}
			if got := strings.Contains(page.Body.String(), "ReplicationLagHigh"); got != c.sees {
				t.Errorf("db's incident among the similar ones of alice's: %v, want %v", got, c.sees)
			}
			// bob, of db, sees his own team's.
			if code := f.do(request{method: "GET", path: "/incidents/" + strconv.FormatInt(other, 10) + "/triage", cookie: f.signIn("bob-token")}).Code; code != http.StatusOK {
				t.Errorf("bob's own team's triage = %d", code)
			}
		})
	}
}
