package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// options are the knobs of a benchmark.
type options struct {
	bin, tmp string
	runs     int
	// history is how many resolved incidents are seeded before every
	// round, burst how many new incidents a triage round opens at once.
	history, burst int
	// steady is how many new incidents the one-at-a-time rounds open,
	// steadyEvery apart.
	steady      int
	steadyEvery time.Duration
	// storm is how many new incidents the chat-call rounds open (batch
	// alerts a request from clients connections), then probes new
	// incidents one at a time, probeEvery apart.
	storm, batch, clients, probes int
	probeEvery                    time.Duration
	// deadline is how long anything is waited for, seedDrain how long
	// the seeding bot's outbox.
	deadline, seedDrain  time.Duration
	sourceDelay, aiDelay time.Duration
	// profileDir, when set, receives the bot's CPU profile of the first
	// profileSecs seconds of each triage round.
	profileDir  string
	profileSecs int
	out         io.Writer
}

// seed starts a bot without triage on a fresh database in tmp/seed and
// gives it its history through its own front doors: n new incidents by
// webhook, a third of them resolved through the REST API and the rest by
// their alerts resolving, its outbox then drained (rooms opened, pages
// sent) before it stops. Rounds start on copies of that database.
func seed(ctx context.Context, o options, n int) (dir string, took time.Duration, note string, err error) {
	start := time.Now()
	dir = filepath.Join(o.tmp, "seed")
	f, err := newFakes(0, 0)
	if err != nil {
		return "", 0, "", err
	}
	defer f.Close()
	bot, err := startBot(o.bin, dir, f.URL(), modeOff, false)
	if err != nil {
		return "", 0, "", fmt.Errorf("seed: %w", err)
	}
	defer func() {
		// A slow exit is reported with the figures; only a bot that had
		// to be killed fails the seed (its database may be cut short).
		stopNote := bot.stop()
		switch {
		case strings.Contains(stopNote, "killed") && err == nil:
			err = fmt.Errorf("seed: %s", stopNote)
		case stopNote != "":
			note = joinNotes(note, "seed: "+stopNote)
		}
	}()
	url, auth := bot.hook()
	alerts := newAlerts("hist", n)
	var byAPI, byAlert []amAlert
	for i, a := range alerts {
		if i%3 == 0 {
			byAPI = append(byAPI, a)
		} else {
			byAlert = append(byAlert, a)
		}
	}
	post := func(as []amAlert) (benchutil.BlastResult, error) {
		bs, per := bodies(as, 10)
		r := benchutil.Blast(ctx, url, auth, bs, per, 8, 5*time.Minute)
		if r.Errors > 0 || r.Cut {
			return r, fmt.Errorf("seed: %d requests failed (%s)", r.Errors, r.FirstErr)
		}
		return r, nil
	}
	apiSet, err := post(byAPI)
	if err != nil {
		return "", 0, "", err
	}
	if _, err := post(byAlert); err != nil {
		return "", 0, "", err
	}
	// A third resolved by a person through the API, eight at a time.
	ids := make(chan int64)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if err := bot.post(ctx, fmt.Sprintf("/api/v1/incidents/%d/resolve", id)); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for id := range apiSet.Accepted {
		ids <- id
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errs:
		return "", 0, "", fmt.Errorf("seed: %w", err)
	default:
	}
	// The rest by their alerts resolving.
	now := time.Now().UTC()
	for i := range byAlert {
		byAlert[i].Status, byAlert[i].EndsAt = "resolved", now
	}
	if _, err := post(byAlert); err != nil {
		return "", 0, "", err
	}
	// Then the rooms and pages go out. A bound, not an error: what is
	// left goes out at the start of the first round.
	var left int
	var last error
	benchutil.Poll(ctx, time.Now().Add(o.seedDrain), 200*time.Millisecond, func() bool {
		left, last = bot.pending(ctx)
		return last == nil && left == 0
	})
	if last != nil {
		return "", 0, "", fmt.Errorf("seed: %w", last)
	}
	if left > 0 {
		note = fmt.Sprintf("%d outbox rows of the seeding still pending after %s", left, o.seedDrain)
	}
	return dir, time.Since(start), note, nil
}

// triageResult is one round of a burst of new incidents, triage on.
type triageResult struct {
	incidents, arrived int
	// triage is each incident's 202 to its triage message in its room,
	// chat its 202 to its channel's creation; missing when it did not
	// come within the deadline.
	triage, chat []time.Duration
	blast        benchutil.BlastResult
	metrics      map[string]float64
	prom, logs   int64 // queries the fakes answered
	ai, slack    int64
	unknown      string
	logLines     int
	firstLog     string
	note         string
	// stages are where each triage spent its time.
	stages []stages
}

// Shapes of a triage round's arrivals.
const (
	shapeBurst  = "burst"  // o.burst at once
	shapeSteady = "steady" // o.steady, one at a time, o.steadyEvery apart
)

// triageRound opens new incidents on a copy of the seeded database,
// triage in mode, and waits for every incident's triage message in its
// room: in shapeBurst o.burst at once (one alert a request, every
// request at the same time, as Alertmanager sends one group each), in
// shapeSteady o.steady one at a time, o.steadyEvery apart (a busy night
// short of a storm).
func triageRound(ctx context.Context, o options, seedDir, mode, shape string, run int) (res triageResult, err error) {
	dir := filepath.Join(o.tmp, fmt.Sprintf("%s-%s-%d", mode, shape, run))
	if err := copyDB(seedDir, dir); err != nil {
		return res, err
	}
	f, err := newFakes(o.sourceDelay, o.aiDelay)
	if err != nil {
		return res, err
	}
	defer f.Close()
	if mode == modeAI {
		// The summary comes first and the AI's answer after it, in a
		// message of its own: with the AI, that answer is awaited.
		f.marker = "AI analysis"
	}
	bot, err := startBot(o.bin, dir, f.URL(), mode, o.profileDir != "")
	if err != nil {
		return res, err
	}
	var profiled <-chan error
	if o.profileDir != "" {
		profiled = bot.saveProfile(o.profileSecs, filepath.Join(o.profileDir, fmt.Sprintf("triage-%s-%s-%d.pprof", mode, shape, run+1)))
	}
	stopped := false
	defer func() {
		if !stopped {
			res.note = joinNotes(res.note, bot.stop())
		}
	}()
	url, auth := bot.hook()
	if shape == shapeSteady {
		res.blast = oneAtATime(ctx, url, auth, newAlerts(fmt.Sprintf("new-%s-%s-%d", mode, shape, run), o.steady), o.steadyEvery, o.deadline)
	} else {
		bs, per := bodies(newAlerts(fmt.Sprintf("new-%s-%s-%d", mode, shape, run), o.burst), 1)
		res.blast = benchutil.Blast(ctx, url, auth, bs, per, min(len(bs), 256), o.deadline)
	}
	res.incidents = len(res.blast.Accepted)
	if res.blast.Errors > 0 {
		res.note = joinNotes(res.note, fmt.Sprintf("%d requests failed (%s)", res.blast.Errors, res.blast.FirstErr))
	}
	benchutil.Poll(ctx, res.blast.End.Add(o.deadline), 5*time.Millisecond, func() bool {
		for id := range res.blast.Accepted {
			if _, ok := f.triagedAt(id); !ok {
				return false
			}
		}
		return true
	})
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for id, at := range res.blast.Accepted {
		res.triage = append(res.triage, since(f.triagedAt, id, at, o.deadline))
		res.chat = append(res.chat, since(f.openedAt, id, at, o.deadline))
		if _, ok := f.triagedAt(id); ok {
			res.arrived++
		}
	}
	res.metrics, err = bot.metrics(ctx, "bot_triage_")
	if err != nil {
		res.note = joinNotes(res.note, err.Error())
	}
	res.prom, res.logs, res.ai, res.slack = f.promCalls.Load(), f.logCalls.Load(), f.aiCalls.Load(), f.slackCalls.Load()
	res.unknown = f.unknownMethods()
	res.logLines, res.firstLog = bot.logLines()
	if profiled != nil {
		if err := <-profiled; err != nil {
			res.note = joinNotes(res.note, err.Error())
		}
	}
	stopped = true
	res.note = joinNotes(res.note, bot.stop())
	if res.stages, err = readStages(ctx, dir, res.blast.Accepted, f.triagedAt); err != nil {
		return res, err
	}
	return res, nil
}

// oneAtATime posts each alert in a request of its own, the k-th every
// apart from the first (or as soon as the one before it is answered, when
// that is later), and gathers the answers as Blast does.
func oneAtATime(ctx context.Context, url, auth string, alerts []amAlert, every, timeout time.Duration) benchutil.BlastResult {
	res := benchutil.BlastResult{Accepted: map[int64]time.Time{}, Start: time.Now()}
	for k, a := range alerts {
		select {
		case <-ctx.Done():
			res.Cut = true
			res.End = time.Now()
			return res
		case <-time.After(time.Until(res.Start.Add(time.Duration(k) * every))):
		}
		bs, per := bodies([]amAlert{a}, 1)
		r := benchutil.Blast(ctx, url, auth, bs, per, 1, timeout)
		for id, at := range r.Accepted {
			res.Accepted[id] = at
		}
		res.Alerts += r.Alerts
		res.Errors += r.Errors
		res.Cut = res.Cut || r.Cut
		if res.FirstErr == "" {
			res.FirstErr = r.FirstErr
		}
	}
	res.End = time.Now()
	return res
}

// since is the time from at to what seen recorded for id, 0 when it came
// before the 202 was read, missing when not within the deadline.
func since(seen func(int64) (time.Time, bool), id int64, at time.Time, within time.Duration) time.Duration {
	t, ok := seen(id)
	if !ok || t.Sub(at) > within {
		return benchutil.Missing
	}
	return max(t.Sub(at), 0)
}

// stormResult is one round of a storm with triage in some mode.
type stormResult struct {
	incidents, opened int
	// storm is each storm incident's 202 to its channel's creation (its
	// first chat call), probes the same of the probes after it.
	storm, probes []time.Duration
	blast         benchutil.BlastResult
	triaged       int // storm incidents whose triage reached the room in the wait
	logLines      int
	firstLog      string
	note          string
}

// stormRound opens o.storm new incidents as fast as the bot takes them
// (o.batch alerts a request, o.clients connections) on a copy of the
// seeded database, then o.probes more one at a time, the first right
// after the storm's last 202, and waits for every incident's channel.
func stormRound(ctx context.Context, o options, seedDir, mode string, run int) (res stormResult, err error) {
	dir := filepath.Join(o.tmp, fmt.Sprintf("storm-%s-%d", mode, run))
	if err := copyDB(seedDir, dir); err != nil {
		return res, err
	}
	f, err := newFakes(o.sourceDelay, o.aiDelay)
	if err != nil {
		return res, err
	}
	defer f.Close()
	bot, err := startBot(o.bin, dir, f.URL(), mode, o.profileDir != "")
	if err != nil {
		return res, err
	}
	defer func() { res.note = joinNotes(res.note, bot.stop()) }()
	if o.profileDir != "" {
		profiled := bot.saveProfile(o.profileSecs, filepath.Join(o.profileDir, fmt.Sprintf("storm-%s-%d.pprof", mode, run+1)))
		defer func() {
			if err := <-profiled; err != nil {
				res.note = joinNotes(res.note, err.Error())
			}
		}()
	}
	url, auth := bot.hook()
	prefix := fmt.Sprintf("storm-%s-%d", mode, run)
	bs, per := bodies(newAlerts(prefix, o.storm), o.batch)
	res.blast = benchutil.Blast(ctx, url, auth, bs, per, o.clients, 5*time.Minute)
	res.incidents = len(res.blast.Accepted)
	if res.blast.Errors > 0 || res.blast.Cut {
		res.note = joinNotes(res.note, fmt.Sprintf("%d storm requests failed (%s)", res.blast.Errors, res.blast.FirstErr))
	}
	probes := map[int64]time.Time{}
	for k := range o.probes {
		time.Sleep(time.Until(res.blast.End.Add(time.Duration(k) * o.probeEvery)))
		a := newAlert(prefix+"-probe", k, time.Now().UTC())
		a.Labels["alertname"] = "TriageProbe"
		pb, pp := bodies([]amAlert{a}, 1)
		r := benchutil.Blast(ctx, url, auth, pb, pp, 1, o.deadline)
		if r.Errors > 0 {
			res.note = joinNotes(res.note, "a probe failed: "+r.FirstErr)
		}
		for id, at := range r.Accepted {
			probes[id] = at
		}
	}
	all := func(m map[int64]time.Time) bool {
		for id := range m {
			if _, ok := f.openedAt(id); !ok {
				return false
			}
		}
		return true
	}
	benchutil.Poll(ctx, time.Now().Add(o.deadline), 5*time.Millisecond, func() bool { return all(probes) && all(res.blast.Accepted) })
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for id, at := range res.blast.Accepted {
		res.storm = append(res.storm, since(f.openedAt, id, at, o.deadline))
		if _, ok := f.openedAt(id); ok {
			res.opened++
		}
		if _, ok := f.triagedAt(id); ok {
			res.triaged++
		}
	}
	for id, at := range probes {
		res.probes = append(res.probes, since(f.openedAt, id, at, o.deadline))
	}
	if len(probes) < o.probes {
		res.note = joinNotes(res.note, fmt.Sprintf("%d of %d probes answered", len(probes), o.probes))
	}
	res.logLines, res.firstLog = bot.logLines()
	return res, nil
}

func joinNotes(notes ...string) string {
	out := ""
	for _, n := range notes {
		if n == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += n
	}
	return out
}
