package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
