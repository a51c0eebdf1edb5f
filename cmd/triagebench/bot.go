package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// apiClient reaches the bot on loopback, never through a proxy.
var apiClient = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}

// botProc is the bot running as its own process.
type botProc struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	debug   string // its pprof address, "" without
	logPath string
	log     *os.File
}

// startBot writes the configuration of mode into dir and starts bin on a
// free loopback port with dir/bot.db as its database (a copy of the
// seeded history, or none), its log in dir/bot.log.
func startBot(bin, dir, fakesURL, mode string, profile bool) (*botProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start bot: %w", err)
	}
	addr, err := benchutil.FreePort()
	if err != nil {
		return nil, fmt.Errorf("start bot: %w", err)
	}
	path := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(path, []byte(configYAML(addr, filepath.Join(dir, "bot.db"), fakesURL, mode)), 0o600); err != nil {
		return nil, fmt.Errorf("start bot: %w", err)
	}
	b := &botProc{base: "http://" + addr, logPath: filepath.Join(dir, "bot.log")}
	if b.log, err = os.Create(b.logPath); err != nil {
		return nil, fmt.Errorf("start bot: %w", err)
	}
	args := []string{"serve", "--config", path, "--log-level", "warn"}
	if profile {
		if b.debug, err = benchutil.FreePort(); err != nil {
			return nil, fmt.Errorf("start bot: %w", err)
		}
		args = append(args, "--debug-listen", b.debug)
	}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := benchutil.StartReady(b.cmd, b.log, b.logPath, b.base+"/readyz"); err != nil {
		return nil, err
	}
	return b, nil
}

// stop ends the bot (SIGTERM, SIGKILL after 10 s) and returns a note when
// that did not go cleanly.
func (b *botProc) stop() string {
	note := benchutil.StopNote(b.cmd, 10*time.Second)
	b.log.Close()
	return note
}

// logTail is the last n lines of the bot's log.
func (b *botProc) logTail(n int) string { return benchutil.LogTail(b.logPath, n) }

// logLines counts the bot's log lines (warnings and errors only, at
// --log-level warn) and returns the first, cut to 300 bytes.
func (b *botProc) logLines() (int, string) {
	raw, _ := os.ReadFile(b.logPath)
	first, _, _ := strings.Cut(string(raw), "\n")
	if len(first) > 300 {
		first = first[:300] + "..."
	}
	return strings.Count(string(raw), "\n"), first
}

// hook is the bot's Alertmanager webhook and its Authorization.
func (b *botProc) hook() (url, auth string) {
	return b.base + "/hooks/alertmanager", "Bearer " + hookToken
}

// metrics reads the bot's /metrics as name{labels} -> value, for the
// names starting with one of prefixes.
func (b *botProc) metrics(ctx context.Context, prefixes ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/metrics", nil)
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, p := range prefixes {
			if !strings.HasPrefix(line, p) {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// pending is the outbox's pending rows, all consumers together.
func (b *botProc) pending(ctx context.Context) (int, error) {
	m, err := b.metrics(ctx, "bot_outbox_pending{")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range m {
		n += int(v)
	}
	return n, nil
}

// post sends one API request and fails unless it answers 2xx.
func (b *botProc) post(ctx context.Context, path string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// saveProfile writes the bot's CPU profile of the next secs seconds to
// path, in the background; wait for the returned channel.
func (b *botProc) saveProfile(secs int, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		client := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.debug, secs))
		if err != nil {
			done <- fmt.Errorf("profile: %w", err)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.WriteFile(path, raw, 0o644)
		}
		if err != nil {
			err = fmt.Errorf("profile: %w", err)
		}
		done <- err
	}()
	return done
}

// copyDB copies a stopped bot's database (and its WAL, if one is left)
// from dir src into dir dst.
func copyDB(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copy the database: %w", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		raw, err := os.ReadFile(filepath.Join(src, "bot.db"+suffix))
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy the database: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, "bot.db"+suffix), raw, 0o600); err != nil {
			return fmt.Errorf("copy the database: %w", err)
		}
	}
	return nil
}
