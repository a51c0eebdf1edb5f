package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const teamFile = `
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: Europe/London}
teams:
  - {name: ops, members: [alice, bob], leads: [alice], schedule: ops}
schedules:
  - name: ops
    time_zone: Europe/London
    layers: [{name: weekly, rotation: weekly, start: "2026-01-05 09:00", participants: [alice, bob]}]
default_route: {team: ops}
integrations: [{name: am, format: alertmanager, token: "${CLI_TEST_AM_TOKEN}"}]
`

// runCmd runs the bot's command line in-process and returns its output
// and exit code.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.code
	default:
		t.Fatalf("bot %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), code
}

func TestPlanApplyExportFromTheCommandLine(t *testing.T) {
	t.Setenv("CLI_TEST_AM_TOKEN", "am-token-from-env-0123456789")
	t.Setenv("BOT_DB", "")
	dir := t.TempDir()
	write := func(path, body string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	botYAML := filepath.Join(dir, "bot.yaml")
	write(botYAML, "listen: 127.0.0.1:0\ndatabase: "+filepath.Join(dir, "bot.db")+"\n")
	teams := filepath.Join(dir, "teams")
	write(filepath.Join(teams, "ops.yaml"), teamFile)

	out, _, code := runCmd(t, "plan", "-f", teams, "--config", botYAML)
	if code != 2 || !strings.Contains(out, "+ team ops (") || !strings.Contains(out, "Plan: 6 to create, 0 to update, 0 to delete.") {
		t.Fatalf("first plan: exit %d\n%s", code, out)
	}
	if out, _, code = runCmd(t, "apply", "-f", teams, "--config", botYAML, "--yes"); code != 0 || !strings.Contains(out, "Applied.") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if out, _, code = runCmd(t, "plan", "-f", teams, "--config", botYAML); code != 0 || out != "No changes.\n" {
		t.Fatalf("plan after apply: exit %d\n%s", code, out)
	}

	// A change, as JSON for machines.
	write(filepath.Join(teams, "ops.yaml"), strings.Replace(teamFile, "leads: [alice]", "leads: [bob]", 1))
	out, _, code = runCmd(t, "plan", "-f", teams, "--config", botYAML, "--format", "json")
	var p struct {
		Changes []struct {
			Kind, Name, Action string
			Fields             []struct{ Path, Old, New string }
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 2 || len(p.Changes) != 1 ||
		p.Changes[0].Action != "update" || p.Changes[0].Fields[0].Path != "leads" || p.Changes[0].Fields[0].New != "[bob]" {
		t.Fatalf("json plan: exit %d %v\n%s", code, err, out)
	}

	// A file that does not validate: exit 1, the place named, nothing
	// applied.
	write(filepath.Join(teams, "broken.yaml"), "teams:\n  - {name: dba, members: [bbo]}\n")
	_, errOut, code := runCmd(t, "apply", "-f", teams, "--config", botYAML, "--yes")
	if code != 1 || !strings.Contains(errOut, "broken.yaml:2:") || !strings.Contains(errOut, `did you mean "bob"`) {
		t.Fatalf("bad file: exit %d\n%s", code, errOut)
	}
	os.Remove(filepath.Join(teams, "broken.yaml"))
	write(filepath.Join(teams, "ops.yaml"), teamFile)
	if _, _, code = runCmd(t, "plan", "-f", teams, "--config", botYAML); code != 0 {
		t.Fatal("the refused apply changed something")
	}

	// Export, then plan the export: no change; the secret is its reference.
	exported := filepath.Join(dir, "exported")
	if out, _, code = runCmd(t, "export", "--config", botYAML, "-o", exported); code != 0 || !strings.Contains(out, "exported 6 objects") {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	if out, _, code = runCmd(t, "plan", "-f", exported, "--config", botYAML, "--prune"); code != 0 {
		t.Fatalf("plan of the export: exit %d\n%s", code, out)
	}
	b, _ := os.ReadFile(filepath.Join(exported, "integrations.yaml"))
	if strings.Contains(string(b), "am-token-from-env") || !strings.Contains(string(b), "${CLI_TEST_AM_TOKEN}") {
		t.Fatalf("exported integrations:\n%s", b)
	}

	// Without a database named: a clear error.
	var o, e bytes.Buffer
	if err := run(context.Background(), []string{"plan", "-f", teams}, &o, &e); err == nil || !strings.Contains(err.Error(), "--config FILE") {
		t.Fatalf("no database: %v", err)
	}
}
