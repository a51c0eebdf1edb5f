package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// rateResult is one side of one run of part C.
type rateResult struct {
	alertsPerSec float64
	p50, p99     time.Duration
	errors       int
	firstErr     string
	rssKiB       int64
	note         string
}

// freshLoad posts never-seen alerts from clients kept-alive connections:
// for warmup, unmeasured, then for measure. Each client makes its own
// bodies from gen (request numbers from one counter, so bot and
// Alertmanager get the same alerts in the same order). It is bounded in
// time and in requests.
func freshLoad(ctx context.Context, url, auth string, gen *freshGen, webhook bool, clients int, warmup, measure time.Duration, wantCode int) rateResult {
	host, path := benchutil.SplitURL(url)
	const maxRequests = 50_000_000
	var (
		next      atomic.Int64
		measuring atomic.Bool
		stop      atomic.Bool
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		firstErr  string
		wg        sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				conn      *benchutil.RawConn
				body, req []byte
				local     = make([]time.Duration, 0, 1<<14)
				lerrs     int
				lfirst    string
			)
			for !stop.Load() && ctx.Err() == nil {
				if conn == nil {
					c, err := benchutil.DialRaw(host)
					if err != nil {
						lerrs++
						lfirst = err.Error()
						time.Sleep(10 * time.Millisecond)
						continue
					}
					c.Timeout = 30 * time.Second
					conn = c
				}
				r := next.Add(1) - 1
				if r >= maxRequests {
					break
				}
				if webhook {
					body = gen.webhook(body[:0], r)
				} else {
					body = gen.postable(body[:0], r)
				}
				req = benchutil.AppendRequest(req[:0], host, path, auth, body)
				counted := measuring.Load()
				t0 := time.Now()
				code, err := conn.RoundTrip(req)
				if err != nil {
					conn.Close()
					conn = nil
					if counted {
						lerrs++
						lfirst = err.Error()
					}
					continue
				}
				if !counted || !measuring.Load() {
					continue
				}
				if code != wantCode {
					lerrs++
					lfirst = fmt.Sprintf("HTTP %d", code)
					continue
				}
				local = append(local, time.Since(t0))
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += lerrs
			if lfirst != "" {
				firstErr = lfirst
			}
			mu.Unlock()
		}()
	}
	sleep(ctx, warmup)
	measuring.Store(true)
	t0 := time.Now()
	sleep(ctx, measure)
	measuring.Store(false)
	elapsed := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	slices.Sort(latencies)
	r := rateResult{errors: errs, firstErr: firstErr}
	if n := len(latencies); n > 0 {
		r.alertsPerSec = float64(n*gen.batch) / elapsed.Seconds()
		r.p50, r.p99 = pct(latencies, 0.5), pct(latencies, 0.99)
	}
	return r
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func runIngestBot(ctx context.Context, s settings, run int, gen *freshGen, warmup, measure time.Duration) (res rateResult, err error) {
	rec, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer rec.Close()
	bot, err := startBot(s.bin, filepath.Join(s.tmp, fmt.Sprintf("ingest-%d-%d", gen.batch, run)),
		botConfig{receiver: rec.URL(), groupBy: []string{"alertname", "team"}, escalation: "oncall"})
	if err != nil {
		return res, err
	}
	defer func() { res.note = joinNotes(res.note, bot.stop()) }()
	res = freshLoad(ctx, bot.base+"/hooks/alertmanager", "Bearer "+hookToken, gen, true, s.clients, warmup, measure, 202)
	res.rssKiB = benchutil.PeakRSS(bot.pid())
	return res, nil
}

func runIngestAlertmanager(ctx context.Context, s settings, amBin string, run int, gen *freshGen, warmup, measure time.Duration) (rateResult, error) {
	addr, err := benchutil.FreePort()
	if err != nil {
		return rateResult{}, err
	}
	dir := filepath.Join(s.tmp, fmt.Sprintf("am-%d-%d", gen.batch, run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rateResult{}, err
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	conf := "route:\n  receiver: 'null'\n  group_by: [alertname, team]\nreceivers:\n  - name: 'null'\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return rateResult{}, err
	}
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		return rateResult{}, err
	}
	defer logf.Close()
	cmd := exec.Command(amBin, "--config.file="+cfg, "--storage.path="+dir, "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := benchutil.Start(cmd); err != nil {
		return rateResult{}, fmt.Errorf("start alertmanager: %w", err)
	}
	if err := benchutil.WaitReady("http://"+addr+"/-/ready", cmd.Process, 30*time.Second); err != nil {
		cmd.Wait()
		return rateResult{}, err
	}
	res := freshLoad(ctx, "http://"+addr+"/api/v2/alerts", "", gen, false, s.clients, warmup, measure, 200)
	res.rssKiB = benchutil.PeakRSS(cmd.Process.Pid)
	if _, killed := benchutil.Stop(cmd, 10*time.Second); killed {
		res.note = "alertmanager did not exit within 10s of SIGTERM: killed"
	}
	return res, nil
}
