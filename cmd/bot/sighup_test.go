package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const hupConfig = `
listen: 127.0.0.1:0
api_tokens: [{name: t, token: api}]
integrations: [{name: am, format: alertmanager, token: hook}]
people: [{name: alice, webhook: "%LEADHOOK%", notify: [{method: webhook, after: 0m}]}, {name: bob}]
teams: [{name: ops, members: [alice], leads: [alice], schedule: ops}]
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: w, rotation: weekly, start: "2026-01-05 09:00", participants: [alice]}]
default_route: {team: ops, group_by: [group]}
`

// Issue 10: SIGHUP applies the start file again, live, in the middle of an
// alert storm: the change is in force, no alert that got a 202 is lost,
// and a file that does not validate changes nothing and leaves the bot
// running.
func TestSIGHUPReloadsDuringAStormAndLosesNoAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bot.yaml")
	// alice, the lead, takes her pages by webhook: here.
	var leadMu sync.Mutex
	var leadGot []string
	lead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		leadMu.Lock()
		leadGot = append(leadGot, b.String())
		leadMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer lead.Close()
	hupConfig := strings.ReplaceAll(hupConfig, "%LEADHOOK%", lead.URL)
	if err := os.WriteFile(cfgPath, []byte(hupConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, addr, log := startBotLogged(t, cfgPath, filepath.Join(dir, "bot.db"))
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-log.done
		cmd.Wait()
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer api")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}

	// The storm: new alerts, each its own incident, until told to stop.
	var accepted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Storm","group":"w%d-%d"},"startsAt":"2026-12-01T03:00:00Z"}]}`, w, i)
				req, _ := http.NewRequest("POST", base+"/hooks/am", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer hook")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				if resp.StatusCode == http.StatusAccepted {
					accepted.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	for accepted.Load() < 50 {
		time.Sleep(10 * time.Millisecond) // waiting for the storm to be under way, not for a timer
	}

	// bob joins the rotation; SIGHUP.
	changed := strings.Replace(hupConfig, "participants: [alice]", "participants: [bob]", 1)
	if err := os.WriteFile(cfgPath, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), "SIGHUP: configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := accepted.Load()
	for accepted.Load() < before+50 {
		time.Sleep(10 * time.Millisecond) // the storm goes on after the reload
	}
	close(stop)
	wg.Wait()

	if code, body := get("/api/v1/teams/ops/oncall"); code != 200 || !strings.Contains(body, `"on_call":["bob"]`) {
		t.Fatalf("after SIGHUP, ops on call = %d %s", code, body)
	}
	var list struct {
		Incidents []json.RawMessage `json:"incidents"`
		Next      *string           `json:"next_cursor"`
	}
	stored := 0
	cursor := ""
	for {
		_, body := get("/api/v1/incidents?limit=500" + cursor)
		list.Next = nil
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("list: %v %s", err, body)
		}
		stored += len(list.Incidents)
		if list.Next == nil {
			break
		}
		cursor = "&cursor=" + *list.Next
	}
	if int64(stored) != accepted.Load() {
		t.Fatalf("%d alerts got a 202, %d incidents are stored", accepted.Load(), stored)
	}

	// A file that does not validate: logged, nothing changed, still serving.
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(changed, "participants: [bob]", "participants: [bbo]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), "SIGHUP: configuration not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log.String(), `did you mean \"bob\"`) {
		t.Errorf("the refusal does not say what is wrong:\n%s", log.String())
	}
	if code, body := get("/api/v1/teams/ops/oncall"); code != 200 || !strings.Contains(body, `"on_call":["bob"]`) {
		t.Fatalf("after a bad SIGHUP, ops on call = %d %s", code, body)
	}
	// The lead of the team the file names is told, and the metric counts.
	deadline = time.Now().Add(20 * time.Second)
	for {
		leadMu.Lock()
		told := strings.Contains(strings.Join(leadGot, "\n"), "was not reloaded")
		leadMu.Unlock()
		if told {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lead was not told; she got %q", leadGot)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, m := get("/metrics"); !strings.Contains(m, `bot_config_reloads_total{result="invalid"} 1`) || !strings.Contains(m, `bot_config_reloads_total{result="applied"} 1`) {
		t.Errorf("reload metrics:\n%s", grep(m, "bot_config_reloads_total"))
	}
	// No secret reaches the log.
	if strings.Contains(log.String(), "Bearer") || strings.Contains(log.String(), "token: hook") {
		t.Error("the log holds a token")
	}
	t.Logf("%d alerts accepted across the reload, all stored", accepted.Load())
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
