// Command stormbench measures the bot on the night of an alert storm,
// through the real HTTP server of the real binary, as issue 8 asks. It
// builds bin/bot (or takes -bot), and for every run starts it as its own
// process on a fresh database with a generated configuration (one
// Alertmanager integration, one team, people paged by their own webhook
// at once, the web console on), with a page receiver and a reader of the
// console's live-update stream on loopback in this process.
//
//	A. Probe latency behind a storm: after N distinct new alerts (each its
//	   own incident), one new critical probe alert right after the storm is
//	   accepted and more while the backlog is delivered: the time from the
//	   probe's 202 to its page at the receiver and to its console room's
//	   first event; pages received against incidents, and duplicate pages.
//	   The same probes on an idle bot are the baseline. Peak RSS after the
//	   storm.
//	B. Escalation keeps time: 2000 new incidents whose policy pages pa at
//	   once and pb after a delay: how late each of pb's pages came.
//	C. Ingest of new alerts (never a repeat), Alertmanager webhook bodies
//	   grouped by (alertname, team), against Alertmanager's own
//	   /api/v2/alerts when Debian's prometheus-alertmanager is installed.
//
// Every figure is the median of -runs runs. Every wait has a deadline; what
// does not come within it is reported as not delivered, never waited for
// without end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

func main() {
	var (
		parts    = flag.String("part", "A,B,C", "parts to run, comma-separated: A (probes behind a storm), B (escalation in a storm), C (ingest vs Alertmanager)")
		storms   = flag.String("storms", "5000,50000", "part A: storm sizes (new incidents), comma-separated")
		runs     = flag.Int("runs", 3, "runs per case, each on a fresh process and database; figures are medians")
		quick    = flag.Bool("quick", false, "small and short: -runs=1 -storms=2000 -climb-incidents=500 -climb-delay=10s -duration=3s -warmup=1s -idle-probes=10, unless set")
		deadline = flag.Duration("deadline", 30*time.Second, "how long a page, a room or a storm's backlog is waited for before it is reported as not delivered")
		ingestTO = flag.Duration("ingest-timeout", 5*time.Minute, "how long a storm's requests may take before the rest are dropped")
		clients  = flag.Int("clients", 16, "concurrent HTTP clients of a storm and of part C")
		batch    = flag.Int("batch", 10, "parts A and B: alerts per storm request")
		probes   = flag.Int("probes", 20, "part A: probes per storm run (the first right after the storm's last 202)")
		every    = flag.Duration("probe-every", 250*time.Millisecond, "part A: time between probes while the storm is still being delivered (pages arriving, rooms' backlog not drained)")
		idle     = flag.Int("idle-probes", 20, "part A: probes per run on an idle bot (the baseline)")
		settle   = flag.Duration("settle", 2*time.Second, "wait after the last awaited page, to catch late duplicates")
		climbN   = flag.Int("climb-incidents", 2000, "part B: new incidents")
		climbD   = flag.Duration("climb-delay", 20*time.Second, "part B: delay between step 1 (pa) and step 2 (pb)")
		batches  = flag.String("batches", "10,1", "part C: alerts per request, comma-separated")
		duration = flag.Duration("duration", 8*time.Second, "part C: measured time of each run")
		warmup   = flag.Duration("warmup", 2*time.Second, "part C: unmeasured load before each run")
		amBin    = flag.String("alertmanager", "", "part C: Alertmanager binary (default: prometheus-alertmanager or alertmanager on PATH; none skips it)")
		botBin   = flag.String("bot", "", "bot binary (default: build ./cmd/bot into a temp dir)")
	)
	flag.Parse()
	if *quick {
		if err := benchutil.DefaultUnset(map[string]string{
			"runs":            "1",
			"storms":          "2000",
			"climb-incidents": "500",
			"climb-delay":     "10s",
			"duration":        "3s",
			"warmup":          "1s",
			"idle-probes":     "10",
		}); err != nil {
			fmt.Fprintln(os.Stderr, "stormbench:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, options{parts: strings.ToUpper(*parts), storms: *storms, batches: *batches, amBin: *amBin, botBin: *botBin,
		climbN: *climbN, climbDelay: *climbD, duration: *duration, warmup: *warmup,
		s: settings{runs: max(*runs, 1), deadline: *deadline, ingestTimeout: *ingestTO, clients: max(*clients, 1), batch: max(*batch, 1),
			probes: max(*probes, 1), probeEvery: *every, idleProbes: max(*idle, 1), settle: *settle}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stormbench:", err)
		os.Exit(1)
	}
}

type options struct {
	parts, storms, batches, amBin, botBin string
	climbN                                int
	climbDelay, duration, warmup          time.Duration
	s                                     settings
}

func sizes(list, what string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad %s %q", what, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	stormSizes, err := sizes(o.storms, "storm size")
	if err != nil {
		return err
	}
	batchSizes, err := sizes(o.batches, "batch size")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "stormbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.s.tmp = tmp
	if o.s.bin = o.botBin; o.s.bin == "" {
		if o.s.bin, err = benchutil.BuildBot(tmp); err != nil {
			return err
		}
	}
	started := time.Now()
	fmt.Printf("stormbench: %d CPUs, %d runs a case (figures are medians), every wait bounded by %s; the bot, this loader, the receiver and Alertmanager share the machine\n",
		runtime.NumCPU(), o.s.runs, o.s.deadline)
	if strings.Contains(o.parts, "A") {
		if err := partA(ctx, o.s, stormSizes); err != nil {
			return err
		}
	}
	if strings.Contains(o.parts, "B") {
		if err := partB(ctx, o.s, o.climbN, o.climbDelay); err != nil {
			return err
		}
	}
	if strings.Contains(o.parts, "C") {
		am := o.amBin
		switch am {
		case "none":
			am = ""
		case "":
			am = benchutil.LookAlertmanager()
		}
		if err := partC(ctx, o.s, am, batchSizes, o.warmup, o.duration); err != nil {
			return err
		}
	}
	fmt.Printf("stormbench: done in %s\n", time.Since(started).Round(time.Second))
	return nil
}

func mib(kib int64) string { return fmt.Sprintf("%d MiB", kib/1024) }

func partA(ctx context.Context, s settings, stormSizes []int) error {
	fmt.Printf("\nA. Probe latency behind a storm. One team, one person on call 24/7, paged by webhook at once; the web console on (a room per incident).\n"+
		"   A probe is one new critical alert in a group of its own: page = its 202 to its page at the receiver; room = its 202 to the first event\n"+
		"   naming its room on the console's live stream (the console platform's OpenRoom is what sends it).\n"+
		"   Storm: N distinct new alerts, each its own incident (group_by [alertname, instance]), %d alerts a request, %d clients.\n", s.batch, s.clients)

	fmt.Printf("  case: idle bot (nothing pending), %d probes a run, one at a time\n", s.idleProbes)
	var pages, rms []spread
	for i := range s.runs {
		r, err := runIdle(ctx, s, i)
		if err != nil {
			return fmt.Errorf("idle run %d: %w", i+1, err)
		}
		pages, rms = append(pages, spreadOf(r.page)), append(rms, spreadOf(r.room))
		fmt.Printf("    run %d: page %s | room %s%s\n", i+1, spreadOf(r.page).String(s.deadline), spreadOf(r.room).rooms(s.deadline), errNote(r.errs, r.note))
	}
	fmt.Printf("    idle, median of %d runs: page %s | room %s   (targets < 50 ms)\n", s.runs, medianSpread(pages).String(s.deadline), medianSpread(rms).rooms(s.deadline))

	biggest := 0
	for _, n := range stormSizes {
		biggest = max(biggest, n)
	}
	var rssBiggest []float64
	for _, n := range stormSizes {
		bodies, perBody := stormBodies("storm", n, s.batch)
		fmt.Printf("  case: storm of %d new incidents, then %d probes %s apart while it is still being delivered\n", n, s.probes, s.probeEvery)
		var (
			rs                                   []stormResult
			firstPage, firstRoom, lastP, lastR   []time.Duration
			drains                               []time.Duration
			pageAll, roomAll                     []spread
			rates                                []float64
			paged, roomed, dupKeys, dupSteps, rx []int
		)
		for i := range s.runs {
			r, err := runStorm(ctx, s, n, i, bodies, perBody)
			if err != nil {
				return fmt.Errorf("storm %d run %d: %w", n, i+1, err)
			}
			rs = append(rs, r)
			rate := float64(r.blast.Alerts) / r.blast.Took().Seconds()
			rates = append(rates, rate)
			firstPage, firstRoom = append(firstPage, at(r.page, 0)), append(firstRoom, at(r.room, 0))
			pageAll, roomAll = append(pageAll, spreadOf(r.page)), append(roomAll, spreadOf(r.room))
			lastP, lastR, drains = append(lastP, r.lastPage), append(lastR, r.lastRoom), append(drains, r.drained)
			paged, roomed = append(paged, r.paged), append(roomed, r.roomed)
			dupKeys, dupSteps, rx = append(dupKeys, r.stats.dupKeys), append(dupSteps, r.stats.dupSteps), append(rx, r.stats.total)
			if n == biggest {
				rssBiggest = append(rssBiggest, float64(r.rssKiB))
			}
			fmt.Printf("    run %d: storm of %d alerts accepted in %s (%.0f alerts/s, %d errors%s), %d incidents; probes: page [%s], room [%s]\n",
				i+1, r.blast.Alerts, dur(r.blast.Took(), 0), rate, r.blast.Errors, cutNote(r.blast), r.incidents,
				lateDurs(r.page, r.pageRaw, s.deadline), durs(r.room, s.deadline))
			fmt.Printf("           storm incidents paged %d/%d (%s), rooms seen on the console stream %d/%d (%s); console outbox drained %s\n",
				r.paged, r.incidents, byWhen(r.lastPage, s.deadline), r.roomed, r.incidents, seenWhen(r.lastRoom, s.deadline), drainedText(r.drained, s.deadline))
			if r.roomed < r.incidents && r.endPending != nil && r.endPending["chat:web"] == 0 {
				fmt.Printf("           (the console's outbox was empty when the wait ended: the %d rooms not seen are events the console's streams dropped, not rooms missing)\n",
					r.incidents-r.roomed)
			}
			fmt.Printf("           %s\n", received(r.stats))
			fmt.Printf("           outbox pending as the probes went in: %s; at the end of the wait: %s\n", probePending(r.probes), pendingText(r.endPending))
			fmt.Printf("           peak RSS %s; console streams: %d events, %d reconnects%s%s\n",
				mib(r.rssKiB), r.events, r.reconnects, streamErr(r), runNote(r.note, r.stats, r.logLines))
		}
		fmt.Printf("    storm %d, median of %d runs:\n", n, s.runs)
		fmt.Printf("      ingest %.0f alerts/s\n", medianF(rates))
		fmt.Printf("      first probe (right after the storm's last 202): page %s, room %s   (target p99 < 1 s)\n",
			dur(pct(firstPage, 0.5), s.deadline), roomDur(pct(firstRoom, 0.5), s.deadline))
		fmt.Printf("      all probes: page %s | room %s\n", medianSpread(pageAll).String(s.deadline), medianSpread(roomAll).rooms(s.deadline))
		fmt.Printf("      storm incidents paged %d of %d (%s); rooms seen %d (%s); console outbox drained (every room open) %s   (target: all rooms within 60 s)\n",
			medianI(paged), n, byWhen(pct(lastP, 0.5), s.deadline), medianI(roomed), seenWhen(pct(lastR, 0.5), s.deadline), drainedText(pct(drains, 0.5), s.deadline))
		fmt.Printf("      pages received %d, duplicate pages: %d by page key, %d by incident+step (runs: %s / %s)\n",
			medianI(rx), medianI(dupKeys), medianI(dupSteps), ints(dupKeys), ints(dupSteps))
	}
	if len(rssBiggest) > 0 {
		fmt.Printf("  peak RSS of the bot (VmHWM) after the %d storm: %s   (target after 100,000: < 150 MB)\n", biggest, mib(int64(medianF(rssBiggest))))
	}
	return nil
}

func seenWhen(d, within time.Duration) string {
	if d == missing {
		return "not all seen when the wait ended"
	}
	return "all by " + dur(d, within) + " after the storm's first request"
}

func drainedText(d, within time.Duration) string {
	if d == missing {
		return fmt.Sprintf("not within %s of the storm's last 202", within)
	}
	return fmt.Sprintf("by %s after the storm's first request (sampled every 1 s)", dur(d, within))
}

// lateDurs prints latencies, and for those past the deadline when they
// came after all.
func lateDurs(ds, raw []time.Duration, within time.Duration) string {
	var parts []string
	for i, d := range ds {
		switch {
		case d != missing:
			parts = append(parts, dur(d, within))
		case i < len(raw) && raw[i] != missing:
			parts = append(parts, fmt.Sprintf(">%s (came after %s)", within, dur(raw[i], within)))
		default:
			parts = append(parts, ">"+within.String()+" (never came)")
		}
	}
	return strings.Join(parts, ", ")
}

func received(st pageStats) string {
	return fmt.Sprintf("%d pages received in %d POSTs (%d of them bundles of several pages), duplicates: %d by page key (Idempotency-Key), %d by incident+step",
		st.total, st.posts, st.bundles, st.dupKeys, st.dupSteps)
}

func at(ds []time.Duration, i int) time.Duration {
	if i < len(ds) {
		return ds[i]
	}
	return missing
}

func byWhen(d, within time.Duration) string {
	if d == missing {
		return fmt.Sprintf("not all within %s of the storm's last 202", within)
	}
	return "all by " + dur(d, within) + " after the storm's first request"
}

func cutNote(b blastResult) string {
	note := ""
	if b.Cut {
		note = ", CUT at the ingest timeout"
	}
	if b.FirstErr != "" {
		note += "; last error: " + b.FirstErr
	}
	return note
}

func probePending(ps []*probe) string {
	var parts []string
	for i, p := range ps {
		p.mu.Lock()
		m := p.pending
		p.mu.Unlock()
		if p.err != nil {
			parts = append(parts, fmt.Sprintf("#%d failed: %v", i+1, p.err))
			continue
		}
		parts = append(parts, fmt.Sprintf("#%d %s", i+1, pendingText(m)))
	}
	return strings.Join(parts, "; ")
}

func streamErr(r stormResult) string {
	if r.reconnects > 0 && r.streamErr != nil {
		return " (" + r.streamErr.Error() + ")"
	}
	return ""
}

func runNote(note string, st pageStats, logLines int) string {
	var parts []string
	if note != "" {
		parts = append(parts, note)
	}
	if st.unparsed > 0 {
		parts = append(parts, fmt.Sprintf("%d pages named no incident", st.unparsed))
	}
	if logLines > 0 {
		parts = append(parts, fmt.Sprintf("%d warning/error lines in the bot's log", logLines))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

func errNote(errs []string, note string) string {
	out := ""
	if len(errs) > 0 {
		out = fmt.Sprintf("; %d probes failed (%s)", len(errs), errs[0])
	}
	if note != "" {
		out += "; " + note
	}
	return out
}

func partB(ctx context.Context, s settings, n int, delay time.Duration) error {
	fmt.Printf("\nB. Escalation keeps time in a storm: %d new incidents (%d alerts a request, %d clients); the policy pages pa at once (step 1) and pb %s later (step 2), both by webhook.\n"+
		"   Lateness = pb's page at the receiver - (incident's created_at as the page carries it + %s); wall clock, one machine.\n",
		n, s.batch, s.clients, delay, delay)
	bodies, perBody := stormBodies("climb", n, s.batch)
	var (
		firsts, lates             []spread
		pagedA, pagedB, dk, ds    []int
		within                    = delay + s.deadline
		lateWithin                = s.deadline
		incidentsSeen, fromPaylds []int
	)
	for i := range s.runs {
		r, err := runClimb(ctx, s, i, delay, bodies, perBody)
		if err != nil {
			return fmt.Errorf("escalation run %d: %w", i+1, err)
		}
		firsts, lates = append(firsts, spreadOf(r.first)), append(lates, spreadOf(r.late))
		pagedA, pagedB = append(pagedA, r.pagedA), append(pagedB, r.pagedB)
		dk, ds = append(dk, r.stats.dupKeys), append(ds, r.stats.dupSteps)
		incidentsSeen, fromPaylds = append(incidentsSeen, r.incidents), append(fromPaylds, r.fromPayload)
		fmt.Printf("    run %d: %d alerts accepted in %s (%d errors%s), %d incidents; step 1 pages %d, step 2 pages %d (waited %s after the last 202)\n",
			i+1, r.blast.Alerts, dur(r.blast.Took(), 0), r.blast.Errors, cutNote(r.blast), r.incidents, r.pagedA, r.pagedB, r.waitedTill.Round(100*time.Millisecond))
		fmt.Printf("           step 1 after creation: %s; step 2 lateness: %s\n", spreadOf(r.first).String(within), spreadOf(r.late).String(lateWithin))
		fmt.Printf("           %s; peak RSS %s%s\n", received(r.stats), mib(r.rssKiB), runNote(r.note, r.stats, 0))
		if r.fromPayload < r.incidents {
			fmt.Printf("           (%d incidents had no created_at in any page: their 202 time was used)\n", r.incidents-r.fromPayload)
		}
	}
	fmt.Printf("    escalation, median of %d runs: step 2 (pb) lateness %s   (target p99 < 1 s)\n", s.runs, medianSpread(lates).String(lateWithin))
	fmt.Printf("      step 1 (pa) after creation %s\n", medianSpread(firsts).String(within))
	fmt.Printf("      incidents %d, paged at step 1 %d, at step 2 %d; duplicate pages: %d by page key, %d by incident+step (runs: %s / %s)\n",
		medianI(incidentsSeen), medianI(pagedA), medianI(pagedB), medianI(dk), medianI(ds), ints(dk), ints(ds))
	return nil
}

func partC(ctx context.Context, s settings, amBin string, batchSizes []int, warmup, measure time.Duration) error {
	fmt.Printf("\nC. Ingest of new alerts: every alert distinct and never sent before, grouped per request by (alertname, team) as Alertmanager groups them\n"+
		"   (bot: Alertmanager webhook v4 bodies, route group_by [alertname, team]; Alertmanager: the same alerts on /api/v2/alerts), %d clients,\n"+
		"   %s measured after %s of warm-up, each run on a fresh process.\n", s.clients, measure, warmup)
	if amBin == "" {
		fmt.Println("   (no Alertmanager to compare with: apt-get install prometheus-alertmanager)")
	}
	for _, size := range batchSizes {
		var bot, am []rateResult
		for i := range s.runs {
			gen := newFreshGen(size)
			r, err := runIngestBot(ctx, s, i, gen, warmup, measure)
			if err != nil {
				return fmt.Errorf("ingest run %d: %w", i+1, err)
			}
			bot = append(bot, r)
			line := fmt.Sprintf("    run %d, %2d alerts/request: bot %.0f alerts/s (p50 %s, p99 %s, %d errors%s)",
				i+1, size, r.alertsPerSec, dur(r.p50, 0), dur(r.p99, 0), r.errors, lastErr(r))
			if amBin != "" {
				a, err := runIngestAlertmanager(ctx, s, amBin, i, gen, warmup, measure)
				if err != nil {
					return fmt.Errorf("alertmanager run %d: %w", i+1, err)
				}
				am = append(am, a)
				line += fmt.Sprintf(", alertmanager %.0f alerts/s (p50 %s, p99 %s, %d errors%s)", a.alertsPerSec, dur(a.p50, 0), dur(a.p99, 0), a.errors, lastErr(a))
			}
			fmt.Println(line)
		}
		b := medianF(rate(bot))
		fmt.Printf("    %2d alerts/request, median of %d runs: bot %.0f alerts/s", size, s.runs, b)
		if len(am) > 0 {
			a := medianF(rate(am))
			fmt.Printf(", alertmanager %.0f alerts/s, ratio bot/alertmanager %.2f   (target >= 1.0)", a, b/a)
		}
		fmt.Println()
	}
	return nil
}

func rate(rs []rateResult) []float64 {
	var out []float64
	for _, r := range rs {
		out = append(out, r.alertsPerSec)
	}
	return out
}

func lastErr(r rateResult) string {
	out := ""
	if r.firstErr != "" {
		out = "; last: " + r.firstErr
	}
	if r.note != "" {
		out += "; " + r.note
	}
	return out
}
