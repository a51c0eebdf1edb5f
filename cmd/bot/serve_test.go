package main

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// baseURLConfig listens, in the file, on an address the bot will not use:
// BOT_LISTEN moves it elsewhere.
const baseURLConfig = `
listen: 127.0.0.1:1
api_tokens: [{name: t, token: api}]
people: [{name: alice}]
teams: [{name: ops, members: [alice], schedule: ops}]
schedules:
  - name: ops
    time_zone: UTC
    layers: [{rotation: weekly, start: "2026-01-05 09:00", participants: [alice]}]
default_route: {team: ops}
`

// TestLinksNameTheAddressServedOn: with no base_url, the calendar feed URL
// the API hands out points at the address the bot serves on (BOT_LISTEN,
// port 0 resolved), not at the config file's listen.
func TestLinksNameTheAddressServedOn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfg, []byte(baseURLConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, addr := startBot(t, cfg, filepath.Join(dir, "bot.db"), "BOT_LISTEN=127.0.0.1:0")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	var page struct {
		Schedules []struct {
			Name    string `json:"name"`
			ICalURL string `json:"ical_url"`
		} `json:"schedules"`
	}
	getJSON(t, &http.Client{Timeout: 10 * time.Second}, "http://"+addr+"/api/v1/schedules", &page)
	if len(page.Schedules) != 1 {
		t.Fatalf("schedules = %+v, want one", page.Schedules)
	}
	if u := page.Schedules[0].ICalURL; !strings.HasPrefix(u, "http://"+addr+"/") {
		t.Fatalf("ical_url = %q, want it under http://%s/, where the bot serves", u, addr)
	}
}

const consoleConfig = `
listen: 127.0.0.1:0
console_tokens: [{token: demo, person: alice}]
people: [{name: alice}]
teams: [{name: ops, members: [alice]}]
default_route: {team: ops}
`

// TestSIGTERMWithOpenConsoleStreamsExitsCleanly: open web console tabs
// hold a live-update stream each, which http.Server.Shutdown would wait for
// until its deadline (32 s, then "shutdown: context deadline exceeded", and
// a Kubernetes rollout's SIGKILL). The bot must end them and exit cleanly
// at once.
func TestSIGTERMWithOpenConsoleStreamsExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfg, []byte(consoleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// A bot built with -race sleeps a second at exit (GORACE
	// atexit_sleep_ms), which is not the bot's time to shut down.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd, addr, log := startBotLogged(t, cfg, filepath.Join(dir, "bot.db"), "GORACE="+gorace)
	exited := make(chan error, 1)
	go func() {
		<-log.done // the pipe is read to its end before Wait closes it
		exited <- cmd.Wait()
	}()
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Sign in as the console does, with the demo token.
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.PostForm("http://"+addr+"/login", url.Values{"token": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "oncall_console" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in = %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	// Two tabs, each with its stream open.
	streams := &http.Client{} // no timeout: a stream is meant to last
	var ended sync.WaitGroup
	for range 2 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/events", nil)
		req.AddCookie(session)
		resp, err := streams.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewReader(resp.Body)
		if l, _ := lines.ReadString('\n'); resp.StatusCode != http.StatusOK || l != ": connected\n" {
			t.Fatalf("events = %d, first line %q", resp.StatusCode, l)
		}
		ended.Add(1)
		go func() { defer ended.Done(); io.Copy(io.Discard, lines) }()
	}

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		killed = true
		took := time.Since(sent)
		if err != nil {
			t.Fatalf("bot exited with %v after SIGTERM (in %v); log:\n%s", err, took, log)
		}
		if took > 2*time.Second {
			t.Fatalf("SIGTERM took %v, want under 2s", took)
		}
		t.Logf("clean exit %v after SIGTERM", took)
	case <-time.After(2 * time.Second): // the bound under test, on a real process
		t.Fatalf("bot still running 2s after SIGTERM with console streams open; log:\n%s", log)
	}
	if l := log.String(); strings.Contains(l, "deadline exceeded") || !strings.Contains(l, `msg=stopped`) {
		t.Fatalf("log after SIGTERM does not show a clean stop:\n%s", l)
	}
	ended.Wait() // the streams saw their end
}
