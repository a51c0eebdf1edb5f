// Command ingestbench measures alert ingest through the bot's real HTTP
// server: it builds and starts bin/bot on a fresh database, drives it with
// Alertmanager webhook bodies from concurrent clients, and prints alerts per
// second, request latency percentiles and the bot's peak RSS. When Debian's
// prometheus-alertmanager is installed it runs Alertmanager on loopback too,
// posts the same alerts to its /api/v2/alerts, and prints the ratio.
//
// Each figure is the median of several runs, each on a fresh process and
// database.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var (
		clients  = flag.Int("clients", 16, "concurrent HTTP clients")
		duration = flag.Duration("duration", 8*time.Second, "measured time of each run")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured load before each run")
		runs     = flag.Int("runs", 3, "runs per configuration; figures are medians")
		batches  = flag.String("batches", "10,1", "alerts per request, comma-separated")
		distinct = flag.Int("alerts", 5000, "distinct alerts in the workload")
		amBin    = flag.String("alertmanager", "", "Alertmanager binary (default: prometheus-alertmanager or alertmanager on PATH; none skips the comparison)")
		botBin   = flag.String("bot", "", "bot binary (default: build ./cmd/bot into a temp dir)")
	)
	flag.StringVar(&profileDir, "cpuprofile-dir", "", "if set, save a CPU profile of the bot during each measured run here")
	flag.Parse()
	if err := run(*clients, *duration, *warmup, *runs, *batches, *distinct, *amBin, *botBin); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

var profileDir string

// result is one run's figures.
type result struct {
	alertsPerSec float64
	p50, p99     time.Duration
	peakRSSKiB   int64
	errors       int64
}

func run(clients int, duration, warmup time.Duration, runs int, batchList string, distinct int, amBin, botBin string) error {
	tmp, err := os.MkdirTemp("", "ingestbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if botBin == "" {
		botBin = filepath.Join(tmp, "bot")
		build := exec.Command("go", "build", "-o", botBin, "./cmd/bot")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build bot: %w", err)
		}
	}
	if amBin == "none" {
		amBin = ""
	} else if amBin == "" {
		for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
			if p, err := exec.LookPath(name); err == nil {
				amBin = p
				break
			}
		}
	}
	var sizes []int
	for _, s := range strings.Split(batchList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad batch size %q", s)
		}
		sizes = append(sizes, n)
	}
	fmt.Printf("ingest benchmark: %d clients, %s per run after %s warm-up, %d runs, %d distinct alerts, medians shown\n",
		clients, duration, warmup, runs, distinct)
	if amBin == "" {
		fmt.Println("(no Alertmanager to compare with ; apt-get install prometheus-alertmanager)")
	}
	for _, size := range sizes {
		w := newWorkload(distinct, size)
		var bot, am []result
		for i := range runs {
			r, err := benchBot(tmp, botBin, i, w, clients, warmup, duration)
			if err != nil {
				return err
			}
			bot = append(bot, r)
			if amBin != "" {
				r, err := benchAlertmanager(tmp, amBin, i, w, clients, warmup, duration)
				if err != nil {
					return err
				}
				am = append(am, r)
			}
		}
		b := median(bot)
		fmt.Printf("bot          %2d alerts/request: %8.0f alerts/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %4d MiB  errors %d  (runs: %s)\n",
			size, b.alertsPerSec, ms(b.p50), ms(b.p99), b.peakRSSKiB/1024, b.errors, rates(bot))
		if len(am) > 0 {
			a := median(am)
			fmt.Printf("alertmanager %2d alerts/request: %8.0f alerts/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %4d MiB  errors %d  (runs: %s)\n",
				size, a.alertsPerSec, ms(a.p50), ms(a.p99), a.peakRSSKiB/1024, a.errors, rates(am))
			fmt.Printf("ratio bot/alertmanager at %d alerts/request: %.2f (target >= 1.5)\n", size, b.alertsPerSec/a.alertsPerSec)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func rates(rs []result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.0f", r.alertsPerSec))
	}
	return strings.Join(parts, ", ")
}

// median takes each figure's median across runs separately.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		alertsPerSec: pick(func(r result) float64 { return r.alertsPerSec }),
		p50:          time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99:          time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
		peakRSSKiB:   int64(pick(func(r result) float64 { return float64(r.peakRSSKiB) })),
		errors:       int64(pick(func(r result) float64 { return float64(r.errors) })),
	}
}

// workload is a fixed pool of alerts, cut into request bodies ahead of
// time so the client spends its CPU on HTTP, not on encoding.
type workload struct {
	size int
	// botBodies and amBodies carry the same alerts in the two APIs'
	// shapes: an Alertmanager webhook for the bot, /api/v2/alerts for
	// Alertmanager.
	botBodies [][]byte
	amBodies  [][]byte
}

// Alert names and services loosely follow the kubernetes-mixin and
// node-exporter rule sets, so label sets look like a real cluster's.
var (
	alertNames = []string{"KubePodCrashLooping", "KubeDeploymentReplicasMismatch", "NodeFilesystemSpaceFillingUp",
		"NodeHighNumberConntrackEntriesUsed", "KubePersistentVolumeFillingUp", "TargetDown", "CPUThrottlingHigh",
		"KubeContainerWaiting", "NodeClockNotSynchronising", "PrometheusRuleFailures", "KubeAPIErrorBudgetBurn",
		"AlertmanagerFailedToSendAlerts", "NodeMemoryHighUtilization", "KubeJobFailed", "KubeHpaMaxedOut"}
	namespaces = []string{"default", "kube-system", "monitoring", "billing", "checkout", "search", "auth", "ingest"}
	severities = []string{"critical", "warning", "warning", "info"}
)

type amAlert struct {
	Status       string            `json:"status,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL"`
}

func newWorkload(distinct, size int) *workload {
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	alerts := make([]amAlert, distinct)
	for i := range alerts {
		name := alertNames[i%len(alertNames)]
		ns := namespaces[(i/len(alertNames))%len(namespaces)]
		alerts[i] = amAlert{
			Labels: map[string]string{
				"alertname": name, "namespace": ns, "severity": severities[i%len(severities)],
				"pod": fmt.Sprintf("%s-%d-%x", ns, i%97, i*2654435761%0xfffff), "cluster": fmt.Sprintf("prod-%d", i%3),
				"job": "kube-state-metrics", "prometheus": "monitoring/k8s",
			},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s in %s", name, ns),
				"description": fmt.Sprintf("Pod %s/%d has been in a bad state for more than 15 minutes.", ns, i),
				"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/" + strings.ToLower(name),
			},
			StartsAt:     start,
			GeneratorURL: "http://prometheus.monitoring:9090/graph?g0.expr=up&g0.tab=1",
		}
	}
	w := &workload{size: size}
	// Cycle through the pool several times; in each cycle one alert in ten
	// is resolved, so incidents open, resolve and reopen as in real life.
	const cycles = 10
	endsAt := start.Add(30 * time.Minute)
	for c := range cycles {
		for i := 0; i+size <= distinct; i += size {
			chunk := make([]amAlert, size)
			for k := range chunk {
				a := alerts[i+k]
				a.Status = "firing"
				a.EndsAt = time.Time{}
				if (c+i+k)%10 == 9 {
					a.Status = "resolved"
					a.EndsAt = endsAt
				}
				chunk[k] = a
			}
			wb, _ := json.Marshal(map[string]any{
				"version": "4", "groupKey": `{}:{alertname="x"}`, "truncatedAlerts": 0, "status": "firing",
				"receiver": "oncall-bot", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
				"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093", "alerts": chunk,
			})
			w.botBodies = append(w.botBodies, wb)
			for k := range chunk {
				chunk[k].Status = "" // not part of the v2 API's postable alert
			}
			ab, _ := json.Marshal(chunk)
			w.amBodies = append(w.amBodies, ab)
		}
	}
	return w
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(url string, proc *os.Process) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling another process, not a timer of ours
	}
	proc.Kill()
	return fmt.Errorf("%s not ready after 30s", url)
}

func peakRSS(pid int) int64 {
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

func benchBot(tmp, bin string, i int, w *workload, clients int, warmup, duration time.Duration) (result, error) {
	addr, err := freePort()
	if err != nil {
		return result{}, err
	}
	dir := filepath.Join(tmp, fmt.Sprintf("bot-%d-%d", w.size, i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	cfg := filepath.Join(dir, "bot.yaml")
	conf := fmt.Sprintf(`listen: %s
database: %s
integrations: [{name: alertmanager, format: alertmanager, token: bench}]
default_route: {team: ops, group_by: [alertname, namespace]}
`, addr, filepath.Join(dir, "bot.db"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return result{}, err
	}
	args := []string{"serve", "--config", cfg, "--log-level", "warn"}
	var debugAddr string
	if profileDir != "" {
		if debugAddr, err = freePort(); err != nil {
			return result{}, err
		}
		args = append(args, "--debug-listen", debugAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start bot: %w", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitReady("http://"+addr+"/readyz", cmd.Process); err != nil {
		return result{}, err
	}
	if debugAddr != "" {
		go saveProfile(debugAddr, warmup, duration, filepath.Join(profileDir, fmt.Sprintf("bot-%d-%d.pprof", w.size, i)))
	}
	r := load("http://"+addr+"/hooks/alertmanager", "Bearer bench", w.botBodies, w.size, clients, warmup, duration, http.StatusAccepted)
	r.peakRSSKiB = peakRSS(cmd.Process.Pid)
	return r, nil
}

// saveProfile records a CPU profile of the measured part of a run.
func saveProfile(addr string, warmup, duration time.Duration, path string) {
	time.Sleep(warmup)
	secs := max(int(duration.Seconds())-1, 1)
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
}

func benchAlertmanager(tmp, bin string, i int, w *workload, clients int, warmup, duration time.Duration) (result, error) {
	addr, err := freePort()
	if err != nil {
		return result{}, err
	}
	dir := filepath.Join(tmp, fmt.Sprintf("am-%d-%d", w.size, i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	conf := "route:\n  receiver: 'null'\n  group_by: [alertname, namespace]\nreceivers:\n  - name: 'null'\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+dir, "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start alertmanager: %w", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitReady("http://"+addr+"/-/ready", cmd.Process); err != nil {
		return result{}, err
	}
	r := load("http://"+addr+"/api/v2/alerts", "", w.amBodies, w.size, clients, warmup, duration, http.StatusOK)
	r.peakRSSKiB = peakRSS(cmd.Process.Pid)
	return r, nil
}

// load posts bodies round-robin from clients goroutines: first for warmup,
// unmeasured, then for duration, measured.
func load(url, auth string, bodies [][]byte, perRequest, clients int, warmup, duration time.Duration, wantCode int) result {
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	var (
		next      atomic.Int64
		measuring atomic.Bool
		errs      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			for ctx.Err() == nil {
				body := bodies[int(next.Add(1))%len(bodies)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if !errors.Is(err, context.Canceled) && measuring.Load() {
						errs.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if !measuring.Load() {
					continue
				}
				if resp.StatusCode != wantCode {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	time.Sleep(warmup)
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(t0)
	cancel()
	wg.Wait()
	slices.Sort(latencies)
	r := result{errors: errs.Load()}
	if n := len(latencies); n > 0 {
		r.alertsPerSec = float64(n*perRequest) / elapsed.Seconds()
		r.p50 = latencies[n/2]
		r.p99 = latencies[n*99/100]
	}
	return r
}
