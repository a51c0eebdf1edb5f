package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	t.Setenv("BOT_DB", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	body := "database: " + filepath.Join(dir, "bot.db") + "\n" + hupConfig
	body = strings.ReplaceAll(body, "%LEADHOOK%", "http://127.0.0.1:1/none")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCmd(t, "report", "--config", cfg, "--team", "ops", "--week", "2026-W48")
	if code != 0 || !strings.Contains(out, "# Handoff: ops, Mon 23 Nov 2026 00:00 to Mon 30 Nov 2026 00:00 UTC") || !strings.Contains(out, "## Action items") {
		t.Fatalf("markdown report: exit %d\n%s", code, out)
	}
	out, _, code = runCmd(t, "report", "--config", cfg, "--team", "ops", "--from", "2026-11-01", "--to", "2026-11-08", "--format", "json")
	var h struct {
		Team  string `json:"team"`
		Trend []any  `json:"trend"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil || code != 0 || h.Team != "ops" || len(h.Trend) != 4 {
		t.Fatalf("json report: exit %d %v\n%s", code, err, out)
	}
	out, _, code = runCmd(t, "report", "--config", cfg, "--team", "ops", "--week", "2026-W48", "--format", "html")
	if code != 0 || !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "<svg") || !strings.Contains(out, "<h2>Action items</h2>") {
		t.Fatalf("html report: exit %d\n%.300s", code, out)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--team", "nope"}, `there is no team "nope"`},
		{[]string{"--team", "ops", "--week", "2025-W53"}, "2025-W53 does not exist"},
		{[]string{"--team", "ops", "--from", "2026-11-08", "--to", "2026-11-01"}, "is not after"},
		{[]string{"--team", "ops", "--format", "pdf"}, `--format "pdf"`},
		{nil, "name the team"},
	} {
		_, _, err := runCmdErr(append([]string{"report", "--config", cfg}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("report %v: %v, want it to say %q", c.args, err, c.says)
		}
	}
}

func TestImportCommandRefusals(t *testing.T) {
	t.Setenv("BOT_DB", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	body := strings.ReplaceAll("database: "+filepath.Join(dir, "bot.db")+"\n"+hupConfig, "%LEADHOOK%", "http://127.0.0.1:1/none")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"import"}, "say what to import"},
		{[]string{"import", "pagerduty-history", "--config", cfg}, "map at least one PagerDuty team"},
		{[]string{"import", "pagerduty-history", "--config", cfg, "--team", "Engineering"}, "is not NAME=name-in-the-bot"},
		{[]string{"import", "pagerduty-history", "--config", cfg, "--team", "Engineering=nope"}, `the bot has no team "nope"`},
		{[]string{"import", "pagerduty-history", "--config", cfg, "--team", "Engineering=ops", "--since", "last year"}, "is not a date"},
		{[]string{"import", "pagerduty-history", "--config", cfg, "--team", "Engineering=ops", "--base-url", "http://127.0.0.1:1"}, "token is required"},
	} {
		t.Setenv("PAGERDUTY_TOKEN", "")
		if _, _, err := runCmdErr(c.args...); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("bot %v: %v, want %q", c.args, err, c.says)
		}
	}
}
