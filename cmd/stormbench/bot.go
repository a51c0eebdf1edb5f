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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// Every request the bench makes goes to loopback, never through a proxy.
var (
	loopback     = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
	streamClient = &http.Client{Transport: loopback}
	apiClient    = &http.Client{Transport: loopback, Timeout: 30 * time.Second}
)

// botProc is the bot running as its own process on a fresh database.
type botProc struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logPath string
	log     *os.File
}

// startBot writes cfg into dir (a fresh directory, so a fresh database)
// and starts bin on a free loopback port, its log in dir/bot.log.
func startBot(bin, dir string, cfg botConfig) (*botProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	cfg.listen, cfg.database = addr, filepath.Join(dir, "bot.db")
	path := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(path, []byte(cfg.yaml()), 0o600); err != nil {
		return nil, err
	}
	b := &botProc{base: "http://" + addr, logPath: filepath.Join(dir, "bot.log")}
	if b.log, err = os.Create(b.logPath); err != nil {
		return nil, err
	}
	b.cmd = exec.Command(bin, "serve", "--config", path, "--log-level", "warn")
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := benchutil.StartReady(b.cmd, b.log, b.logPath, b.base+"/readyz"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *botProc) pid() int { return b.cmd.Process.Pid }

// stop ends the bot (SIGTERM, SIGKILL after 10 s) and returns a note when
// that did not go cleanly.
func (b *botProc) stop() string {
	note := benchutil.StopNote(b.cmd, 10*time.Second)
	b.log.Close()
	return note
}

// logTail is the last n lines of the bot's log.
func (b *botProc) logTail(n int) string { return benchutil.LogTail(b.logPath, n) }

// logLines counts the bot's log lines (warnings and errors only).
func (b *botProc) logLines() int {
	raw, _ := os.ReadFile(b.logPath)
	return bytes.Count(raw, []byte("\n"))
}

// postAlert posts one Alertmanager webhook body and returns the incidents
// the answer names and when the 202 was read.
func postAlert(ctx context.Context, base string, body []byte) ([]int64, time.Time, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+hookToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, time.Time{}, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	at := time.Now()
	if err != nil {
		return nil, at, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, at, fmt.Errorf("hook answered %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var ans struct {
		Incidents []int64 `json:"incidents"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Incidents) == 0 {
		return nil, at, fmt.Errorf("hook's answer names no incident: %s", bytes.TrimSpace(raw))
	}
	return ans.Incidents, at, nil
}

// outboxPending reads bot_outbox_pending by consumer from /metrics.
func outboxPending(ctx context.Context, base string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `bot_outbox_pending{consumer="`)
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
		out[name] = int(v)
	}
	return out, sc.Err()
}

// pendingText prints a pending-by-consumer map, biggest first.
func pendingText(m map[string]int) string {
	if m == nil {
		return "unknown"
	}
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range m {
		if v > 0 {
			list = append(list, kv{k, v})
		}
	}
	if len(list) == 0 {
		return "none"
	}
	slices.SortFunc(list, func(a, b kv) int { return b.v - a.v })
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
