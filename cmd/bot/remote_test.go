package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const remoteConfig = `
listen: 127.0.0.1:0
api_tokens:
  - {name: ci, token: ci-admin-token-0123456789, scopes: [admin]}
  - {name: reader, token: reader-token-0123456789, scopes: [read]}
integrations: [{name: am, format: alertmanager, token: hook}]
people: [{name: alice}, {name: bob}]
teams: [{name: ops, members: [alice], schedule: ops}]
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: w, rotation: weekly, start: "2026-01-05 09:00", participants: [alice]}]
default_route: {team: ops}
`

// bot plan/apply/export --server talk to a running bot's API: the apply is
// live, and a token without the admin scope is refused.
func TestPlanAndApplyAgainstARunningBot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfgPath, []byte(remoteConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, addr, log := startBotLogged(t, cfgPath, filepath.Join(dir, "bot.db"))
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-log.done
		cmd.Wait()
	}()
	server := "http://" + addr
	objects := filepath.Join(dir, "objects")
	os.MkdirAll(objects, 0o755)
	// The objects alone (the server settings stay in bot.yaml), bob on call.
	body := strings.Replace(strings.Replace(remoteConfig, "listen: 127.0.0.1:0\n", "", 1), "participants: [alice]", "participants: [bob]", 1)
	os.WriteFile(filepath.Join(objects, "ops.yaml"), []byte(body), 0o600)

	t.Setenv("BOT_TOKEN", "ci-admin-token-0123456789")
	out, errOut, code := runCmd(t, "plan", "-f", objects, "--server", server)
	if code != 2 || !strings.Contains(out, "~ schedule ops") || !strings.Contains(out, "layers[w].participants: [alice] -> [bob]") {
		t.Fatalf("remote plan: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = runCmd(t, "apply", "-f", objects, "--server", server, "--yes"); code != 0 || !strings.Contains(out, "Applied, live.") {
		t.Fatalf("remote apply: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = runCmd(t, "plan", "-f", objects, "--server", server); code != 0 || out != "No changes.\n" {
		t.Fatalf("plan after the apply: exit %d\n%s", code, out)
	}
	exported := filepath.Join(dir, "exported")
	if out, _, code = runCmd(t, "export", "--server", server, "-o", exported); code != 0 {
		t.Fatalf("remote export: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(exported, "schedules.yaml")); err != nil || !strings.Contains(string(b), "- bob") {
		t.Fatalf("exported schedules: %v\n%s", err, b)
	}
	if strings.Contains(strings.Join(readDir(t, exported), "\n"), "ci-admin-token") {
		t.Fatal("the export holds a token")
	}

	// Files that do not validate: exit 1 with the place.
	os.WriteFile(filepath.Join(objects, "ops.yaml"), []byte(strings.Replace(body, "members: [alice]", "members: [alcie]", 1)), 0o600)
	if _, errOut, code = runCmd(t, "apply", "-f", objects, "--server", server, "--yes"); code != 1 || !strings.Contains(errOut, `did you mean "alice"`) {
		t.Fatalf("bad files: exit %d\n%s", code, errOut)
	}
	// A token without the admin scope.
	t.Setenv("BOT_TOKEN", "reader-token-0123456789")
	if _, _, err := runCmdErr("plan", "-f", objects, "--server", server); err == nil || !strings.Contains(err.Error(), `lacks the scope "admin"`) {
		t.Fatalf("a read-only token: %v", err)
	}
	// No token reaches the bot's log, whatever was applied or refused.
	for _, secret := range []string{"ci-admin-token-0123456789", "reader-token-0123456789"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the bot's log holds %s", secret)
		}
	}
}

// runCmdErr is runCmd for a command expected to fail other than by an
// exit code.
func runCmdErr(args ...string) (stdout, stderr string, err error) {
	var out, errOut strings.Builder
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out = append(out, string(b))
	}
	return out
}
