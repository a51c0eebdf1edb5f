package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the bot binary: the kill test
// re-executes itself with BOT_TEST_MAIN=1 to get a real process to SIGKILL,
// without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("BOT_TEST_MAIN") == "1" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bot:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const killConfig = `
listen: 127.0.0.1:0
api_tokens: [{name: t, token: api}]
integrations: [{name: am, format: alertmanager, token: hook}]
default_route: {team: ops, group_by: [group]}
`

var servingAddr = regexp.MustCompile(`msg="bot serving" addr=(\S+)`)

// startBot runs the bot as a child process and returns it with its address
// once it logs that it is serving. env adds NAME=value pairs to its
// environment.
func startBot(t *testing.T, cfgPath, dbPath string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, addr, _ := startBotLogged(t, cfgPath, dbPath, env...)
	return cmd, addr
}

// startBotLogged is startBot that also returns the bot's log after the
// "bot serving" line. The log is complete once its done channel is closed,
// which happens when the bot exits; call cmd.Wait only after that.
func startBotLogged(t *testing.T, cfgPath, dbPath string, env ...string) (*exec.Cmd, string, *botLog) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", cfgPath)
	cmd.Env = append(append(os.Environ(), "BOT_TEST_MAIN=1", "BOT_DB="+dbPath), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := servingAddr.FindStringSubmatch(lines.Text()); m != nil {
			log := &botLog{done: make(chan struct{})}
			go func() { // keep the pipe drained
				defer close(log.done)
				io.Copy(log, stderr)
			}()
			return cmd, m[1], log
		}
		t.Log("bot:", lines.Text())
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("bot exited before serving")
	return nil, "", nil
}

// botLog collects a child bot's log.
type botLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{} // closed when the bot's stderr is at its end
}

func (l *botLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *botLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// acked is an alert the bot answered 202 for, with the incidents that
// answer named.
type acked struct {
	fingerprint string
	incidents   []int64
}

// TestSIGKILLLosesNoAcceptedAlert kills the bot with SIGKILL in the middle
// of a load and checks, after a restart, that every alert that got a 202 is
// stored, in the incident the 202 named.
func TestSIGKILLLosesNoAcceptedAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfg, []byte(killConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bot.db")
	cmd, addr := startBot(t, cfg, db)

	var (
		mu       sync.Mutex
		accepted []acked
		next     atomic.Int64
		wg       sync.WaitGroup
		okCount  atomic.Int64
	)
	killAt := int64(400)
	killed := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				// Three alerts a request, spread over 20 groups.
				var alerts []map[string]any
				var fps []string
				for k := range 3 {
					fp := fmt.Sprintf("%016x", n*3+int64(k))
					fps = append(fps, fp)
					alerts = append(alerts, map[string]any{
						"status": "firing", "fingerprint": fp, "startsAt": "2026-01-01T00:00:00Z",
						"labels": map[string]string{"alertname": "Load", "group": fmt.Sprint((n + int64(k)) % 20), "n": fp},
					})
				}
				body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "alerts": alerts})
				req, _ := http.NewRequest("POST", "http://"+addr+"/hooks/am", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer hook")
				resp, err := client.Do(req)
				if err != nil {
					return // the process is gone
				}
				var res struct{ Incidents []int64 }
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					continue
				}
				if err := json.Unmarshal(data, &res); err != nil {
					t.Errorf("202 with an unreadable body %q", data)
					return
				}
				mu.Lock()
				for _, fp := range fps {
					accepted = append(accepted, acked{fingerprint: fp, incidents: res.Incidents})
				}
				mu.Unlock()
				if okCount.Add(1) == killAt {
					close(killed)
				}
			}
		}()
	}
	<-killed
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wg.Wait()
	mu.Lock()
	n := len(accepted)
	mu.Unlock()
	if n < int(killAt)*3 {
		t.Fatalf("only %d alerts accepted before the kill", n)
	}

	// Restart on the same database and look for every accepted alert.
	cmd2, addr2 := startBot(t, cfg, db)
	defer func() { cmd2.Process.Signal(syscall.SIGTERM); cmd2.Wait() }()
	stored := map[string]int64{} // fingerprint -> incident
	cursor := ""
	for {
		var page struct {
			Incidents []struct {
				ID         int64 `json:"id"`
				AlertCount int   `json:"alert_count"`
			} `json:"incidents"`
			NextCursor *string `json:"next_cursor"`
		}
		getJSON(t, client, "http://"+addr2+"/api/v1/incidents?limit=500&cursor="+cursor, &page)
		for _, inc := range page.Incidents {
			var d struct {
				AlertCount int `json:"alert_count"`
				Alerts     []struct {
					Fingerprint string            `json:"fingerprint"`
					Labels      map[string]string `json:"labels"`
				} `json:"alerts"`
			}
			getJSON(t, client, fmt.Sprintf("http://%s/api/v1/incidents/%d", addr2, inc.ID), &d)
			if d.AlertCount != len(d.Alerts) {
				t.Errorf("incident %d: alert_count %d but %d alerts stored", inc.ID, d.AlertCount, len(d.Alerts))
			}
			for _, a := range d.Alerts {
				stored[a.Fingerprint] = inc.ID
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	missing, moved := 0, 0
	for _, a := range accepted {
		inc, ok := stored[a.fingerprint]
		switch {
		case !ok:
			missing++
		case !slices.Contains(a.incidents, inc):
			moved++
		}
	}
	if missing > 0 || moved > 0 {
		t.Fatalf("of %d alerts answered 202, %d are missing after SIGKILL and restart and %d sit in an incident their 202 did not name",
			len(accepted), missing, moved)
	}
	t.Logf("%d accepted alerts all present after SIGKILL; %d stored in all", len(accepted), len(stored))
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer api")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
