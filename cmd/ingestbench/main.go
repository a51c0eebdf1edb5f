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
	"encoding/json"
	"flag"
	"fmt"
	"io"
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

	"github.com/oncallbot/bot/internal/benchutil"
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
	flag.BoolVar(&traceInstead, "trace", false, "with -cpuprofile-dir, save a 1s execution trace instead of a CPU profile")
	flag.Parse()
	if err := run(*clients, *duration, *warmup, *runs, *batches, *distinct, *amBin, *botBin); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

var (
	profileDir   string
	traceInstead bool
)

// result is one run's figures.
type result struct {
	alertsPerSec float64
	p50, p99     time.Duration
	peakRSSKiB   int64
	errors       int64
	// cpuPerKAlert is the server's CPU time (user+system) per 1000 alerts
	// during the measured window: its efficiency whatever the client costs.
	cpuPerKAlert time.Duration
	// idle is the share of the machine's CPU left idle in the window.
	idle float64
}

func run(clients int, duration, warmup time.Duration, runs int, batchList string, distinct int, amBin, botBin string) error {
	tmp, err := os.MkdirTemp("", "ingestbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if botBin == "" {
		if botBin, err = benchutil.BuildBot(tmp); err != nil {
			return err
		}
	}
	if amBin == "none" {
		amBin = ""
	} else if amBin == "" {
		amBin = benchutil.LookAlertmanager()
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
		fmt.Printf("bot          %2d alerts/request: %8.0f alerts/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %4d MiB  CPU %5.1f ms/1000 alerts  machine idle %2.0f%%  errors %d  (runs: %s)\n",
			size, b.alertsPerSec, ms(b.p50), ms(b.p99), b.peakRSSKiB/1024, ms(b.cpuPerKAlert), 100*b.idle, b.errors, rates(bot))
		if len(am) > 0 {
			a := median(am)
			fmt.Printf("alertmanager %2d alerts/request: %8.0f alerts/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %4d MiB  CPU %5.1f ms/1000 alerts  machine idle %2.0f%%  errors %d  (runs: %s)\n",
				size, a.alertsPerSec, ms(a.p50), ms(a.p99), a.peakRSSKiB/1024, ms(a.cpuPerKAlert), 100*a.idle, a.errors, rates(am))
			fmt.Printf("ratio bot/alertmanager at %d alerts/request: throughput %.2f (target >= 1.5), CPU per alert %.2f\n",
				size, b.alertsPerSec/a.alertsPerSec, float64(b.cpuPerKAlert)/float64(a.cpuPerKAlert))
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
		cpuPerKAlert: time.Duration(pick(func(r result) float64 { return float64(r.cpuPerKAlert) })),
		idle:         pick(func(r result) float64 { return r.idle }),
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
	// Fingerprint is what Alertmanager's webhook carries; the v2 API that
	// Alertmanager itself takes has none.
	Fingerprint string `json:"fingerprint,omitempty"`
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
			Fingerprint:  fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15),
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
				chunk[k].Fingerprint = ""
			}
			ab, _ := json.Marshal(chunk)
			w.amBodies = append(w.amBodies, ab)
		}
	}
	return w
}

func benchBot(tmp, bin string, i int, w *workload, clients int, warmup, duration time.Duration) (result, error) {
	addr, err := benchutil.FreePort()
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
		if debugAddr, err = benchutil.FreePort(); err != nil {
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
	if err := benchutil.WaitReady("http://"+addr+"/readyz", cmd.Process, 30*time.Second); err != nil {
		return result{}, err
	}
	if debugAddr != "" {
		go saveProfile(debugAddr, warmup, duration, filepath.Join(profileDir, fmt.Sprintf("bot-%d-%d.pprof", w.size, i)))
	}
	r := load(cmd.Process.Pid, "http://"+addr+"/hooks/alertmanager", "Bearer bench", w.botBodies, w.size, clients, warmup, duration, http.StatusAccepted)
	r.peakRSSKiB = benchutil.PeakRSS(cmd.Process.Pid)
	return r, nil
}

// saveProfile records a CPU profile of the measured part of a run.
func saveProfile(addr string, warmup, duration time.Duration, path string) {
	time.Sleep(warmup)
	secs := max(int(duration.Seconds())-1, 1)
	kind := "profile"
	if traceInstead {
		kind = "trace"
		secs = 1
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, kind, secs))
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
	addr, err := benchutil.FreePort()
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
	if err := benchutil.WaitReady("http://"+addr+"/-/ready", cmd.Process, 30*time.Second); err != nil {
		return result{}, err
	}
	r := load(cmd.Process.Pid, "http://"+addr+"/api/v2/alerts", "", w.amBodies, w.size, clients, warmup, duration, http.StatusOK)
	r.peakRSSKiB = benchutil.PeakRSS(cmd.Process.Pid)
	return r, nil
}

// load posts bodies round-robin from clients connections: first for
// warmup, unmeasured, then for duration, measured. Requests are written as
// prebuilt HTTP/1.1 bytes on kept-alive connections and answers are parsed
// only as far as the status and the body's length, so the load generator,
// which shares the machine's cores with the server, spends little CPU: the
// figures measure the server, not the client.
func load(pid int, url, auth string, bodies [][]byte, perRequest, clients int, warmup, duration time.Duration, wantCode int) result {
	host, path := benchutil.SplitURL(url)
	reqs := make([][]byte, len(bodies))
	for i, b := range bodies {
		reqs[i] = benchutil.AppendRequest(nil, host, path, auth, b)
	}
	var (
		next      atomic.Int64
		measuring atomic.Bool
		stop      atomic.Bool
		errs      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			var conn *benchutil.RawConn
			for !stop.Load() {
				if conn == nil {
					c, err := benchutil.DialRaw(host)
					if err != nil {
						errs.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn = c
				}
				req := reqs[int(next.Add(1))%len(reqs)]
				t0 := time.Now()
				code, err := conn.RoundTrip(req)
				if err != nil {
					conn.Close()
					conn = nil
					if measuring.Load() {
						errs.Add(1)
					}
					continue
				}
				if !measuring.Load() {
					continue
				}
				if code != wantCode {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	time.Sleep(warmup)
	measuring.Store(true)
	t0, cpu0 := time.Now(), benchutil.CPUTime(pid)
	busy0, total0 := benchutil.MachineTicks()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed, cpu := time.Since(t0), benchutil.CPUTime(pid)-cpu0
	busy1, total1 := benchutil.MachineTicks()
	stop.Store(true)
	wg.Wait()
	slices.Sort(latencies)
	r := result{errors: errs.Load()}
	if total1 > total0 {
		r.idle = 1 - float64(busy1-busy0)/float64(total1-total0)
	}
	if n := len(latencies); n > 0 {
		r.alertsPerSec = float64(n*perRequest) / elapsed.Seconds()
		r.cpuPerKAlert = cpu * 1000 / time.Duration(n*perRequest)
		r.p50 = latencies[n/2]
		r.p99 = latencies[n*99/100]
	}
	return r
}
