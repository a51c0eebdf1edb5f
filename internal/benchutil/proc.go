// Package benchutil holds what the benchmark commands (cmd/ingestbench,
// cmd/stormbench, cmd/triagebench) share: building and running the bot as
// a real process, reading its CPU time and peak memory from /proc, a lean
// HTTP/1.1 client that sends prebuilt requests on kept-alive connections,
// so the load generator spends its CPU on the wire and not on encoding, a
// storm of webhook requests sent through it (Blast), and percentiles and
// medians of latencies.
package benchutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BuildBot builds the bot (cmd/bot, by its import path, so from any
// directory of the module: `go run ./cmd/...` in its root, `go test` in a
// command's own) into dir and returns the binary's path.
func BuildBot(dir string) (string, error) {
	bin := dir + "/bot"
	build := exec.Command("go", "build", "-o", bin, "github.com/oncallbot/bot/cmd/bot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build bot: %w", err)
	}
	return bin, nil
}

// LookAlertmanager finds Debian's prometheus-alertmanager (or an
// alertmanager) on PATH; "" when there is none.
func LookAlertmanager() string {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// FreePort returns a loopback address nobody listens on right now.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitReady polls url until it answers 200, for at most timeout; then it
// kills proc and fails.
func WaitReady(url string, proc *os.Process, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling another process, not a timer of ours
	}
	proc.Kill()
	return fmt.Errorf("%s not ready after %s", url, timeout)
}

// Start starts cmd so that, on Linux, it dies with the benchmark (the
// kernel sends it SIGKILL when the parent thread exits), even if the
// benchmark is killed.
func Start(cmd *exec.Cmd) error {
	dieWithParent(cmd)
	return cmd.Start()
}

// Stop ends a started process: SIGTERM, then SIGKILL if it has not exited
// within grace. It reports how long the exit took and whether it had to be
// killed; it always reaps the process.
func Stop(cmd *exec.Cmd, grace time.Duration) (took time.Duration, killed bool) {
	t0 := time.Now()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		cmd.Process.Kill()
		<-done
		return time.Since(t0), false
	}
	select {
	case <-done:
		return time.Since(t0), false
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
		return time.Since(t0), true
	}
}

// CPUTime returns a process's user plus system CPU time so far.
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th of them, in ticks.
	rest := b[bytes.LastIndexByte(b, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticksPerSecond
}

// MachineTicks returns the machine's busy and total CPU ticks so far.
func MachineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)[1:] // user nice system idle iowait irq softirq steal ...
	for i, v := range f {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

// PeakRSS returns a process's peak resident set size (VmHWM) in KiB, 0
// when it cannot be read.
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// StopNote ends cmd as Stop does and says, for a benchmark's report, how
// that went when not cleanly: killed, or slower than 3 s to exit; ""
// otherwise.
func StopNote(cmd *exec.Cmd, grace time.Duration) string {
	took, killed := Stop(cmd, grace)
	switch {
	case killed:
		return fmt.Sprintf("bot did not exit within %s of SIGTERM: killed", took.Round(time.Second))
	case took > 3*time.Second:
		return fmt.Sprintf("bot took %s to exit after SIGTERM", took.Round(100*time.Millisecond))
	}
	return ""
}

// LogTail is the last n lines of the file at path ("" when it cannot be
// read).
func LogTail(path string, n int) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Poll checks cond every `every` until it holds, until passes or ctx
// ends, and says whether it held. It only decides when a benchmark moves
// on: latencies come from the times the fakes recorded, not from this
// loop.
func Poll(ctx context.Context, until time.Time, every time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		left := time.Until(until)
		if left <= 0 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(every, left)):
		}
	}
}

// StartReady starts cmd (its output already pointed at log) and waits for
// readyURL to answer, as Start and WaitReady do; when either fails, the
// process is reaped, log closed, and the error carries the last 20 lines
// of the log at logPath.
func StartReady(cmd *exec.Cmd, log *os.File, logPath, readyURL string) error {
	if err := Start(cmd); err != nil {
		log.Close()
		return fmt.Errorf("start bot: %w", err)
	}
	if err := WaitReady(readyURL, cmd.Process, 30*time.Second); err != nil {
		cmd.Wait()
		log.Close()
		return fmt.Errorf("%w; its log ends:\n%s", err, LogTail(logPath, 20))
	}
	return nil
}
