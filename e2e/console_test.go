//go:build e2e

// Package e2e drives the web console in a real browser: Debian's
// chromium, headless, through chromedp. Run with `make e2e`.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oncallbot/bot/internal/chat/web"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/scenario"
	"github.com/oncallbot/bot/internal/triage"
)

var consoleConfig = strings.Replace(scenario.BaseConfig, "api_tokens:",
	"console_tokens: [{token: alice-console, person: alice}]\napi_tokens:", 1)

func browserPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("no chromium: `make e2e` installs Debian's package")
	return ""
}

// newBrowser starts a headless chromium for the test and returns its
// context, bounded to a minute.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConsoleAcknowledgeInABrowser(t *testing.T) {
	h := scenario.New(t, scenario.WithConfig(consoleConfig))
	inc := h.OnlyIncident(h.PostAlerts(scenario.Firing("alertname=DiskFull", "instance=db1").Summary("disk full on db1")))
	ctx := newBrowser(t)

	base := h.Server.URL
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "alice-console"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/incidents/1"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/incidents/1"]`)),
		chromedp.WaitVisible(chromedp.ID("status")),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Acknowledge"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[normalize-space()="Unacknowledge"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash")))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 means a lossless PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !strings.EqualFold(strings.TrimSpace(status), "acknowledged") || !strings.Contains(flash, "acknowledged by alice") {
		t.Fatalf("after pressing Acknowledge the page shows status %q, message %q", status, flash)
	}
	d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
	if d.AcknowledgedBy != "web:alice" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "console-acknowledged.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// A page whose live-update stream is refused (alice already has the most
// streams open, in other sessions) says that live updates are off, rather
// than looking live. Issue 9, item 10.
func TestConsoleSaysWhenLiveUpdatesAreRefused(t *testing.T) {
	h := scenario.New(t, scenario.WithConfig(consoleConfig))
	h.PostAlerts(scenario.Firing("alertname=DiskFull").Summary("disk full on db1"))
	base := h.Server.URL

	// Another device of alice's holds every stream she may have.
	jar, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar}
	resp, err := other.PostForm(base+"/login", url.Values{"token": {"alice-console"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	streams, cancelStreams := context.WithCancel(context.Background())
	defer cancelStreams()
	for range web.MaxStreamsPerPerson {
		req, _ := http.NewRequestWithContext(streams, "GET", base+"/events", nil)
		resp, err := other.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream for the other device: %v %v", resp, err)
		}
		defer resp.Body.Close()
	}

	ctx := newBrowser(t)
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "alice-console"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/incidents/1"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/incidents/1"]`)),
		chromedp.WaitVisible(chromedp.ID("live-off")),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("live-off")))
	if err != nil {
		t.Fatalf("read the notice: %v", err)
	}
	if !strings.Contains(notice, "Live updates are off") {
		t.Fatalf("notice = %q", notice)
	}
}

// The Reports page in a real browser: the figures, and the chart (an SVG
// the page loads under its CSP) drawn.
func TestConsoleReportsPageInABrowser(t *testing.T) {
	h := scenario.New(t, scenario.WithConfig(consoleConfig))
	h.PostAlerts(scenario.Firing("alertname=DiskFull", "instance=db1").Summary("disk full on db1"))
	h.Advance(3 * time.Minute)
	h.API("POST", "/api/v1/incidents/1/ack")
	ctx := newBrowser(t)
	base := h.Server.URL
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "alice-console"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/reports"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The incident list reloads itself on a live update; a navigation
	// away that such a reload cuts short is begun again.
	for try := 0; ; try++ {
		err = chromedp.Do(ctx, chromedp.Navigate(base+"/reports/ops?from=2026-03-02&to=2026-03-09"))
		if err == nil || try == 2 || !strings.Contains(err.Error(), "ERR_ABORTED") {
			break
		}
	}
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`table.figures`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("figure img").complete && document.querySelector("figure img").naturalWidth > 0`),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	chartWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector("figure img").naturalWidth`))
	if err != nil || chartWidth == 0 {
		t.Fatalf("the chart did not load: width %d, %v", chartWidth, err)
	}
	figures, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.figures")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(figures, "Incidents") || !strings.Contains(figures, "3m0s") {
		t.Fatalf("figures = %q", figures)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "console-report.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// The Schedule page in a real browser: the weeks ahead in the viewer's
// zone, an override marked.
func TestConsoleSchedulePageInABrowser(t *testing.T) {
	h := scenario.New(t, scenario.WithConfig(consoleConfig))
	// carol covers for bob (on call this week) tomorrow, 10:00 to 14:00 UTC.
	start := h.Clock.Now().Add(24 * time.Hour).Truncate(time.Hour).Add(7 * time.Hour)
	body := `{"user": "carol", "replaces": "bob", "start": "` + start.Format(time.RFC3339) + `", "end": "` + start.Add(4*time.Hour).Format(time.RFC3339) + `"}`
	req, _ := http.NewRequest("POST", h.Server.URL+"/api/v1/schedules/ops/overrides", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+scenario.APIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("override: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx := newBrowser(t)
	err = chromedp.Do(ctx,
		chromedp.Navigate(h.Server.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "alice-console"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/oncall"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/oncall"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/schedules/ops"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.schedule`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	override, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr.override`)))
	if err != nil || !strings.Contains(override, "carol") || !strings.Contains(override, "override: carol for bob") {
		t.Fatalf("override row = %q %v", override, err)
	}
	zone, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.muted`)))
	if err != nil || !strings.Contains(zone, "Europe/London") { // alice's zone in the scenario config
		t.Fatalf("zone line = %q %v", zone, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "e2e-artifacts")
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "console-schedule.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// fakePrometheus answers the Prometheus HTTP API's range queries as
// Prometheus does: a matrix of one series, a point a step from start to
// end, climbing to the alert's threshold and past it.
func fakePrometheus(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unexpected request"}`, http.StatusBadRequest)
			return
		}
		from, err1 := strconv.ParseFloat(r.Form.Get("start"), 64)
		to, err2 := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
		if err1 != nil || err2 != nil || err3 != nil || step <= 0 || to < from {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"bad range"}`, http.StatusBadRequest)
			return
		}
		var values []string
		n := int((to-from)/step) + 1
		for i := range n {
			v := 40 + 57*float64(i)/float64(max(n-1, 1))
			values = append(values, fmt.Sprintf(`[%.0f,"%.1f"]`, from+float64(i)*step, v))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance":"db-03"},"values":[%s]}]}}`,
			strings.Join(values, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Issue 12: the triage as a page of the console, in a real browser. With
// a triage section and a (fake) Prometheus on loopback, a new incident is
// triaged; its room links to the Triage page, which shows the summary,
// the sources and the chart of the alert's expression (an SVG the page
// loads under its CSP).
func TestConsoleTriagePageInABrowser(t *testing.T) {
	prom := fakePrometheus(t)
	cfg := strings.Replace(consoleConfig, "reopen_window: 5m",
		"reopen_window: 5m\ntriage: {timeout: 2s, prometheus: {url: \""+prom.URL+"\"}}", 1)
	h := scenario.New(t, scenario.WithConfig(cfg))
	alert := scenario.Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")
	alert.Annotations["expr"] = "disk_used_percent > 90"
	alert.Annotations["runbook_url"] = "https://runbooks.example/disk-full"
	inc := h.OnlyIncident(h.PostAlerts(alert))
	id := strconv.FormatInt(inc.ID, 10)

	// The triage runs through the outbox, after the page: poll the API
	// until it is there.
	var rep *triage.Report
	for try := 0; rep == nil; try++ {
		if try == 100 {
			t.Fatal("no triage after 100 polls")
		}
		if try > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		h.Tick()
		var d struct {
			Triage *triage.Report `json:"triage"`
		}
		if r := h.API("GET", "/api/v1/incidents/"+id); r.Code == http.StatusOK {
			if err := json.Unmarshal(r.Body, &d); err != nil {
				t.Fatalf("API incident: %v %s", err, r.Body)
			}
			rep = d.Triage
		}
	}
	if rep.Status != "ready" || len(rep.Series) == 0 {
		t.Fatalf("triage = %+v", rep)
	}

	ctx := newBrowser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.Server.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "alice-console"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/incidents/`+id+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/incidents/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("status")),
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Triage"]`)),
		chromedp.WaitVisible(chromedp.ID("summary")),
		chromedp.Poll[chromedp.Void](`document.getElementById("chart").complete && document.getElementById("chart").naturalWidth > 0`),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	at, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(at, "/incidents/"+id+"/triage") {
		t.Fatalf("the Triage link went to %q %v", at, err)
	}
	summary, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("summary")))
	if err != nil || !strings.Contains(summary, "disk full on db-03") || !strings.Contains(summary, "disk_used_percent > 90 is 97 now") {
		t.Fatalf("summary = %q %v", summary, err)
	}
	sources, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("sources")))
	if err != nil || !strings.Contains(sources, "history") || !strings.Contains(sources, "prometheus") || strings.Contains(sources, "failed") {
		t.Fatalf("sources table = %q %v", sources, err)
	}
	chartWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("chart").naturalWidth`))
	if err != nil || chartWidth == 0 {
		t.Fatalf("the chart did not load: width %d, %v", chartWidth, err)
	}
	runbook, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("ul.links a").href`))
	if err != nil || runbook != "https://runbooks.example/disk-full" {
		t.Fatalf("runbook link = %q %v", runbook, err)
	}
	note, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("ai-note")))
	if err != nil || !strings.Contains(note, "The AI analysis is off") {
		t.Fatalf("AI note = %q %v", note, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "console-triage.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
