package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
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

var debugAddr = regexp.MustCompile(`msg="debug server \(pprof\) listening" addr=(\S+)`)

// TestServeLeavesNothingRunning runs serve in this process with the debug
// server on and ends it as a signal would: when serve returns, neither the
// public nor the debug server may still be listening.
func TestServeLeavesNothingRunning(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfg, []byte(killConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOT_DB", filepath.Join(dir, "bot.db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	returned := make(chan error, 1)
	go func() {
		err := serve(ctx, []string{"--config", cfg, "--debug-listen", "127.0.0.1:0"}, pw)
		pw.CloseWithError(io.EOF)
		returned <- err
	}()
	var public, debug string
	lines := bufio.NewScanner(pr)
	for (public == "" || debug == "") && lines.Scan() {
		if m := debugAddr.FindStringSubmatch(lines.Text()); m != nil {
			debug = m[1]
		}
		if m := servingAddr.FindStringSubmatch(lines.Text()); m != nil {
			public = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if public == "" || debug == "" {
		t.Fatalf("serve did not log both addresses: public %q, debug %q", public, debug)
	}
	// Both answer while serving; an idle keep-alive connection to each
	// must not hold the shutdown up.
	client := &http.Client{Timeout: 10 * time.Second}
	for _, u := range []string{"http://" + public + "/healthz", "http://" + debug + "/debug/pprof/"} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	cancel() // as SIGTERM does
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second): // a guard against a hang, not a wait
		t.Fatal("serve did not return")
	}
	for name, addr := range map[string]string{"public": public, "debug": debug} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("the %s server still accepts connections on %s after serve returned", name, addr)
		}
	}
}
