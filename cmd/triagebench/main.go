// Command triagebench measures issue 12's triage speed through the real
// binary: the bot runs as its own process (a real SQLite file in a temp
// directory, real HTTP on loopback) with Slack pointed at a fake Web API,
// and triage's sources at a fake Prometheus HTTP API and a fake log store
// (Loki) that answer after -source-delay (50 ms), and at a fake
// OpenAI-compatible endpoint that answers after -ai-delay (2 s), all in
// this process on loopback. Before the rounds, a bot without triage is
// given a history of -history resolved incidents through its webhook and
// REST API (the same alert names as the new ones, so the similar-incident
// lookup has real work and finds some); every round starts on a copy of
// that database.
//
//	A. Triage message in the room: per incident, the time from its
//	   webhook's 202 to the first message carrying "Triage" in its channel
//	   on the fake Slack (with the AI, the first carrying "AI analysis":
//	   its answer follows the summary). Two shapes of arrival: A1, the
//	   worst, a burst of -burst new distinct alerts at once (each its own
//	   incident, one request each, all in flight together); A2, -steady
//	   new distinct alerts one at a time, -steady-every apart (a busy
//	   night short of a storm). Each in two modes: rule-based only
//	   (history, Prometheus, logs) and with the AI. Targets: p95 < 300 ms
//	   rule-based, p95 < 3 s with the AI.
//	B. The new incident's 202 -> first chat call (its channel's creation)
//	   in a storm of -storm new incidents (-batch alerts a request,
//	   -clients connections), and of -probes probes after it, triage off
//	   and on (with the AI): p99 of both and their ratio. Target:
//	   unchanged.
//
// -profile DIR keeps the bot's CPU profile of the start of each round (go tool pprof -top bot DIR/triage-rules-burst-1.pprof).
//
// Every figure is the median over -runs runs, each round on a fresh
// process; every wait is bounded by -deadline, and what does not come
// within it is reported as not delivered.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

func main() {
	var (
		runs     = flag.Int("runs", 3, "runs, each round on a fresh process and a fresh copy of the history; figures are medians")
		quick    = flag.Bool("quick", false, "small and short, for a smoke run: -runs=1 -history=500 -burst=50 -storm=500 -probes=5, unless set")
		history  = flag.Int("history", 3000, "resolved incidents in the database before every round")
		burst    = flag.Int("burst", 200, "part A: new incidents opened at once")
		steady   = flag.Int("steady", 40, "part A: new incidents opened one at a time")
		stEvery  = flag.Duration("steady-every", 250*time.Millisecond, "part A: time between the one-at-a-time incidents")
		storm    = flag.Int("storm", 2000, "part B: new incidents of the storm")
		batch    = flag.Int("batch", 10, "part B: alerts a storm request")
		clients  = flag.Int("clients", 16, "part B: the storm's connections")
		probes   = flag.Int("probes", 10, "part B: probes after the storm, one at a time")
		every    = flag.Duration("probe-every", 250*time.Millisecond, "part B: time between probes")
		deadline = flag.Duration("deadline", 60*time.Second, "how long a triage message or a channel is waited for")
		drain    = flag.Duration("seed-drain", 2*time.Minute, "how long the seeding bot's outbox is given to drain before it stops")
		srcDelay = flag.Duration("source-delay", 50*time.Millisecond, "how long the fake Prometheus and log store take to answer")
		aiDelay  = flag.Duration("ai-delay", 2*time.Second, "how long the fake AI endpoint takes to answer")
		botBin   = flag.String("bot", "", "bot binary (default: build ./cmd/bot into a temp dir)")
		profile  = flag.String("profile", "", "if set, a directory for the bot's CPU profile of the first -profile-seconds of each round (go tool pprof)")
		profSecs = flag.Int("profile-seconds", 5, "length of each profile")
	)
	flag.Parse()
	if *quick {
		if err := benchutil.DefaultUnset(map[string]string{
			"runs":    "1",
			"history": "500",
			"burst":   "50",
			"steady":  "10",
			"storm":   "500",
			"probes":  "5",
		}); err != nil {
			fmt.Fprintln(os.Stderr, "triagebench:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := options{bin: *botBin, runs: max(*runs, 1), history: max(*history, 0), burst: max(*burst, 1), steady: max(*steady, 1), steadyEvery: *stEvery, storm: max(*storm, 1),
		batch: max(*batch, 1), clients: max(*clients, 1), probes: max(*probes, 0), probeEvery: *every, deadline: *deadline, seedDrain: *drain,
		sourceDelay: *srcDelay, aiDelay: *aiDelay, profileDir: *profile, profileSecs: max(*profSecs, 1), out: os.Stdout}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "triagebench:", err)
			os.Exit(1)
		}
	}
	if _, err := bench(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "triagebench:", err)
		os.Exit(1)
	}
}

// summary is what a benchmark measured, for the report and the smoke
// test.
type summary struct {
	triage map[string][]triageResult // by shape/mode: burst/rules, steady/ai...
	storm  map[string][]stormResult  // by mode: off, ai
}

// bench builds the bot unless o.bin names one, seeds the history and
// runs the rounds, printing as it goes.
func bench(ctx context.Context, o options) (summary, error) {
	sum := summary{triage: map[string][]triageResult{}, storm: map[string][]stormResult{}}
	tmp, err := os.MkdirTemp("", "triagebench")
	if err != nil {
		return sum, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp
	if o.bin == "" {
		if o.bin, err = benchutil.BuildBot(tmp); err != nil {
			return sum, err
		}
	}
	w := o.out
	started := time.Now()
	fmt.Fprintf(w, "triagebench: %d CPUs, %d runs (figures are medians), every wait bounded by %s; fakes: Prometheus and logs answer after %s, the AI after %s;\n"+
		"  the bot, this loader and the fakes share the machine\n", runtime.NumCPU(), o.runs, o.deadline, o.sourceDelay, o.aiDelay)
	seedDir, took, note, err := seed(ctx, o, o.history)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(w, "history: %d resolved incidents seeded through the webhook and the REST API in %s%s\n", o.history, took.Round(100*time.Millisecond), paren(note))
	for run := range o.runs {
		for _, shape := range []string{shapeBurst, shapeSteady} {
			for _, mode := range []string{modeRules, modeAI} {
				r, err := triageRound(ctx, o, seedDir, mode, shape, run)
				if err != nil {
					return sum, fmt.Errorf("%s %s run %d: %w", shape, mode, run+1, err)
				}
				sum.triage[shape+"/"+mode] = append(sum.triage[shape+"/"+mode], r)
			}
		}
		for _, mode := range []string{modeOff, modeAI} {
			r, err := stormRound(ctx, o, seedDir, mode, run)
			if err != nil {
				return sum, fmt.Errorf("storm %s run %d: %w", mode, run+1, err)
			}
			sum.storm[mode] = append(sum.storm[mode], r)
		}
	}
	report(w, o, sum)
	fmt.Fprintf(w, "triagebench: done in %s\n", time.Since(started).Round(time.Second))
	return sum, nil
}

// spread is one set of latencies' percentiles.
type spread struct{ p50, p95, p99, max time.Duration }

func spreadOf(ds []time.Duration) spread {
	return spread{benchutil.Pct(ds, .50), benchutil.Pct(ds, .95), benchutil.Pct(ds, .99), benchutil.Pct(ds, 1)}
}

// medianSpread takes each figure's median across runs separately.
func medianSpread(ss []spread) spread {
	var a, b, c, d []time.Duration
	for _, s := range ss {
		a, b, c, d = append(a, s.p50), append(b, s.p95), append(c, s.p99), append(d, s.max)
	}
	return spread{benchutil.Pct(a, .5), benchutil.Pct(b, .5), benchutil.Pct(c, .5), benchutil.Pct(d, .5)}
}

func (s spread) String(within time.Duration) string {
	return fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s", dur(s.p50, within), dur(s.p95, within), dur(s.p99, within), dur(s.max, within))
}

func dur(d, within time.Duration) string {
	return benchutil.Show(d, "not within "+within.String())
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// report prints every run and the medians against the targets.
func report(w io.Writer, o options, sum summary) {
	fmt.Fprintf(w, "\nA. Triage message in the room, on %d resolved incidents of history; per incident, its 202 to the first message carrying \"Triage\"\n"+
		"   (with the AI: \"AI analysis\") in its channel on the fake Slack. Two shapes of arrival:\n"+
		"   A1, the worst: %d new distinct alerts at once (each its own incident, one request each, all in flight together);\n"+
		"   A2, a busy night short of a storm: %d new distinct alerts one at a time, %s apart.\n", o.history, o.burst, o.steady, o.steadyEvery)
	targets := map[string]time.Duration{modeRules: 300 * time.Millisecond, modeAI: 3 * time.Second}
	names := map[string]string{modeRules: "rule-based only (history + prometheus + logs)", modeAI: "with AI (history + prometheus + logs + AI)"}
	shapes := map[string]string{shapeBurst: "A1, at once", shapeSteady: "A2, one at a time"}
	for _, key := range []string{shapeBurst + "/" + modeRules, shapeBurst + "/" + modeAI, shapeSteady + "/" + modeRules, shapeSteady + "/" + modeAI} {
		shape, mode, _ := strings.Cut(key, "/")
		rs := sum.triage[key]
		fmt.Fprintf(w, "  %s, %s:\n", shapes[shape], names[mode])
		var tri, chat []spread
		for i, r := range rs {
			tri, chat = append(tri, spreadOf(r.triage)), append(chat, spreadOf(r.chat))
			fmt.Fprintf(w, "    run %d: triage in the room %s; arrived %d/%d\n", i+1, spreadOf(r.triage).String(o.deadline), r.arrived, r.incidents)
			fmt.Fprintf(w, "           202 -> channel created %s; all accepted in %s\n", spreadOf(r.chat).String(o.deadline), dur(r.blast.Took(), 0))
			fmt.Fprintf(w, "           %s\n", triageMetrics(r))
			if n := runNote(r.note, r.unknown, r.logLines, r.firstLog); n != "" {
				fmt.Fprintf(w, "           %s\n", n)
			}
		}
		fmt.Fprintf(w, "    where the time goes, per incident (median of runs of p50 / p95), from the bot's record:\n      %s\n", stagesText(rs))
		m := medianSpread(tri)
		fmt.Fprintf(w, "    %s %s, median of %d runs: triage in the room %s   (target p95 < %s: %s)\n",
			shape, mode, len(rs), m.String(o.deadline), targets[mode], verdict(m.p95 < targets[mode]))
		fmt.Fprintf(w, "      202 -> channel created %s\n", medianSpread(chat).String(o.deadline))
	}

	fmt.Fprintf(w, "\nB. The new incident's 202 -> first chat call (its channel's creation on the fake Slack), triage off and on (with the AI):\n"+
		"   a storm of %d new incidents (%d alerts a request, %d connections), then %d probes %s apart, the first right after the storm's last 202.\n",
		o.storm, o.batch, o.clients, o.probes, o.probeEvery)
	p99 := map[string][]time.Duration{}
	probeP99 := map[string][]time.Duration{}
	for _, mode := range []string{modeOff, modeAI} {
		label := map[string]string{modeOff: "triage off", modeAI: "triage on"}[mode]
		var st, pr []spread
		for i, r := range sum.storm[mode] {
			st, pr = append(st, spreadOf(r.storm)), append(pr, spreadOf(r.probes))
			p99[mode] = append(p99[mode], spreadOf(r.storm).p99)
			probeP99[mode] = append(probeP99[mode], spreadOf(r.probes).p99)
			fmt.Fprintf(w, "    %s run %d: storm accepted in %s (%.0f alerts/s), channels %d/%d: %s; probes: %s",
				label, i+1, dur(r.blast.Took(), 0), float64(r.blast.Alerts)/r.blast.Took().Seconds(), r.opened, r.incidents,
				spreadOf(r.storm).String(o.deadline), spreadOf(r.probes).String(o.deadline))
			if mode == modeAI {
				fmt.Fprintf(w, "; storm triages in their rooms by then %d", r.triaged)
			}
			fmt.Fprintln(w)
			if n := runNote(r.note, "", r.logLines, r.firstLog); n != "" {
				fmt.Fprintf(w, "           %s\n", n)
			}
		}
		fmt.Fprintf(w, "    %s, median of %d runs: storm incidents %s; probes %s\n", label, len(st), medianSpread(st).String(o.deadline), medianSpread(pr).String(o.deadline))
	}
	off, on := benchutil.Pct(p99[modeOff], .5), benchutil.Pct(p99[modeAI], .5)
	poff, pon := benchutil.Pct(probeP99[modeOff], .5), benchutil.Pct(probeP99[modeAI], .5)
	fmt.Fprintf(w, "    202 -> first chat call p99, storm incidents: off %s, on %s, ratio on/off %s   (target unchanged, within 10%% or 10 ms: %s)\n",
		dur(off, o.deadline), dur(on, o.deadline), ratio(on, off), verdict(unchanged(off, on)))
	if o.probes > 0 {
		fmt.Fprintf(w, "    202 -> first chat call p99, probes: off %s, on %s, ratio on/off %s   (%s)\n",
			dur(poff, o.deadline), dur(pon, o.deadline), ratio(pon, poff), verdict(unchanged(poff, pon)))
	}
}

// unchanged says whether on is off within 10% or 10 ms.
func unchanged(off, on time.Duration) bool {
	if off == benchutil.Missing || on == benchutil.Missing {
		return false
	}
	return on <= off+max(off/10, 10*time.Millisecond)
}

func ratio(a, b time.Duration) string {
	if a == benchutil.Missing || b == benchutil.Missing || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// triageMetrics prints the bot's own triage metrics and the fakes'
// counts of one round.
func triageMetrics(r triageResult) string {
	m := r.metrics
	n := m["bot_triage_duration_seconds_count"]
	mean := "n/a"
	if n > 0 {
		mean = dur(time.Duration(m["bot_triage_duration_seconds_sum"]/n*float64(time.Second)), 0)
	}
	errs := 0.0
	for k, v := range m {
		if len(k) > len("bot_triage_source_errors_total") && k[:len("bot_triage_source_errors_total")] == "bot_triage_source_errors_total" {
			errs += v
		}
	}
	wait := "n/a"
	if w := m["bot_triage_wait_seconds_count"]; w > 0 {
		wait = dur(time.Duration(m["bot_triage_wait_seconds_sum"]/w*float64(time.Second)), 0)
	}
	return fmt.Sprintf("bot metrics: %.0f triages, mean wait %s, mean duration %s, source errors %.0f, AI calls ok %.0f (error %.0f), AI tokens %.0f; fakes answered: prometheus %d, logs %d, AI %d, slack %d",
		n, wait, mean, errs, m[`bot_triage_ai_calls_total{outcome="ok"}`], m[`bot_triage_ai_calls_total{outcome="error"}`], m["bot_triage_ai_tokens_total"],
		r.prom, r.logs, r.ai, r.slack)
}

// stagesText prints the medians over runs of each stage's p50 and p95.
func stagesText(rs []triageResult) string {
	pick := []struct {
		name string
		get  func(stages) time.Duration
	}{
		{"202 -> triage starts (outbox dispatch, incident read)", func(s stages) time.Duration { return s.toStart }},
		{"slowest source", func(s stages) time.Duration { return s.slowest }},
		{"history lookup", func(s stages) time.Duration { return s.history }},
		{"start -> summary on the timeline (sources, AI, summary, writer)", func(s stages) time.Duration { return s.toRecord }},
		{"timeline -> message in the room (chat outbox, Slack call)", func(s stages) time.Duration { return s.toRoom }},
	}
	var parts []string
	for _, p := range pick {
		var p50, p95 []time.Duration
		for _, r := range rs {
			var ds []time.Duration
			for _, s := range r.stages {
				ds = append(ds, p.get(s))
			}
			p50, p95 = append(p50, benchutil.Pct(ds, .5)), append(p95, benchutil.Pct(ds, .95))
		}
		parts = append(parts, fmt.Sprintf("%s %s / %s", p.name, dur(benchutil.Pct(p50, .5), 0), dur(benchutil.Pct(p95, .5), 0)))
	}
	return strings.Join(parts, ";\n      ")
}

// paren is " (s)", or "" for "".
func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func runNote(note, unknown string, logLines int, firstLog string) string {
	out := note
	if unknown != "" {
		out = joinNotes(out, "Slack methods the fake does not know: "+unknown)
	}
	if logLines > 0 {
		out = joinNotes(out, fmt.Sprintf("%d warning/error lines in the bot's log, the first: %s", logLines, firstLog))
	}
	return out
}
