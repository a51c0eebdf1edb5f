//go:build e2e

// Package e2e drives the web console in a real browser: Debian's
// chromium, headless, through chromedp. Run with `make e2e`.
package e2e

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oncallbot/bot/internal/chat/web"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/scenario"
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
