package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// settings are the knobs every part shares.
type settings struct {
	bin, tmp      string
	runs          int
	deadline      time.Duration // how long any one thing is waited for
	ingestTimeout time.Duration // how long a storm's requests may take
	clients       int
	batch         int
	probes        int
	probeEvery    time.Duration
	idleProbes    int
	settle        time.Duration
}

// blastResult is what a storm's requests got.
type blastResult = benchutil.BlastResult

// blast posts every body once from clients kept-alive connections and
// reads each answer's incidents. It stops at timeout.
func blast(ctx context.Context, base string, bodies [][]byte, perBody []int, clients int, timeout time.Duration) blastResult {
	return benchutil.Blast(ctx, base+"/hooks/alertmanager", "Bearer "+hookToken, bodies, perBody, clients, timeout)
}

// probe is one new critical alert posted to measure how long its page
// and its room take.
type probe struct {
	id       int64
	accepted time.Time
	err      error
	mu       sync.Mutex
	pending  map[string]int // the outbox backlog as the probe went in
}

func postProbe(ctx context.Context, base, name string) *probe {
	p := &probe{}
	ids, at, err := postAlert(ctx, base, probeBody(name))
	p.accepted, p.err = at, err
	if err == nil {
		p.id = ids[0]
	}
	return p
}

// pageRaw is the time from the probe's 202 to its first page, however
// late; missing when none came at all.
func (p *probe) pageRaw(rec *receiver, person string) time.Duration {
	if p.err != nil {
		return missing
	}
	a, ok := rec.first(person, p.id)
	if !ok {
		return missing
	}
	return max(a.at.Sub(p.accepted), 0)
}

// pageAfter is the time from the probe's 202 to its first page, missing
// when none arrived within the deadline.
func (p *probe) pageAfter(rec *receiver, person string, within time.Duration) time.Duration {
	if p.err != nil {
		return missing
	}
	a, ok := rec.first(person, p.id)
	if !ok || a.at.Sub(p.accepted) > within {
		return missing
	}
	return max(a.at.Sub(p.accepted), 0)
}

// roomAfter is the time from the probe's 202 to its room's first event
// on the console stream (0 when the event came before the answer was
// read), missing when none came within the deadline.
func (p *probe) roomAfter(rooms *roomWatch, within time.Duration) time.Duration {
	if p.err != nil {
		return missing
	}
	t, ok := rooms.seen(p.id)
	if !ok || t.Sub(p.accepted) > within {
		return missing
	}
	return max(t.Sub(p.accepted), 0)
}

func (p *probe) settled(rec *receiver, rooms *roomWatch, person string) bool {
	if p.err != nil {
		return true
	}
	_, paged := rec.first(person, p.id)
	_, roomed := rooms.seen(p.id)
	return paged && roomed
}

// idleResult is one run of probes on a bot with nothing pending.
type idleResult struct {
	page, room []time.Duration
	errs       []string
	note       string
}

func runIdle(ctx context.Context, s settings, run int) (res idleResult, err error) {
	rec, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer rec.Close()
	bot, err := startBot(s.bin, filepath.Join(s.tmp, fmt.Sprintf("idle-%d", run)),
		botConfig{receiver: rec.URL(), groupBy: []string{"alertname", "instance"}, escalation: "oncall"})
	if err != nil {
		return res, err
	}
	defer func() { res.note = joinNotes(res.note, bot.stop()) }()
	rooms, err := watchRooms(ctx, bot.base)
	if err != nil {
		return res, err
	}
	defer rooms.Close()
	for k := range s.idleProbes {
		p := postProbe(ctx, bot.base, fmt.Sprintf("idle-%d", k))
		if p.err != nil {
			res.errs = append(res.errs, p.err.Error())
		}
		benchutil.Poll(ctx, p.accepted.Add(s.deadline), 2*time.Millisecond, func() bool { return p.settled(rec, rooms, "oncall") })
		res.page = append(res.page, p.pageAfter(rec, "oncall", s.deadline))
		res.room = append(res.room, p.roomAfter(rooms, s.deadline))
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

// stormResult is one run of one storm.
type stormResult struct {
	n         int
	blast     blastResult
	incidents int
	probes    []*probe
	// page and room are each probe's latencies, in the order posted;
	// pageRaw are the pages' however late (up to the end of the wait).
	page, room, pageRaw []time.Duration
	// drained is when the console's outbox (chat:web) was first seen
	// empty after the storm's last 202, from the storm's first request,
	// sampled every second: by then every storm incident's room was open.
	drained time.Duration
	// paged and roomed count the storm's incidents with a page and with a
	// room event; lastPage and lastRoom are from the storm's first request
	// to the last of them, missing unless every incident got one.
	paged, roomed      int
	lastPage, lastRoom time.Duration
	stats              pageStats
	endPending         map[string]int // the outbox backlog when the wait ended
	rssKiB             int64
	events, reconnects int
	streamErr          error
	logLines           int
	note               string
}

func runStorm(ctx context.Context, s settings, n, run int, bodies [][]byte, perBody []int) (res stormResult, err error) {
	res.n = n
	rec, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer rec.Close()
	bot, err := startBot(s.bin, filepath.Join(s.tmp, fmt.Sprintf("storm-%d-%d", n, run)),
		botConfig{receiver: rec.URL(), groupBy: []string{"alertname", "instance"}, escalation: "oncall"})
	if err != nil {
		return res, err
	}
	defer func() { res.note = joinNotes(res.note, bot.stop()) }()
	rooms, err := watchRooms(ctx, bot.base)
	if err != nil {
		return res, err
	}
	defer rooms.Close()

	res.blast = blast(ctx, bot.base, bodies, perBody, s.clients, s.ingestTimeout)
	res.incidents = len(res.blast.Accepted)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	drained := sampleDrain(ctx, bot.base, "chat:web")
	defer drained.stop()
	// Probes: one right after the storm's last 202, then one every
	// probeEvery while the storm is still being delivered: its pages
	// still arriving, or its rooms' backlog not yet drained.
	var (
		scrapes sync.WaitGroup
		next    = res.blast.End
		until   = res.blast.End.Add(s.deadline)
	)
	defer scrapes.Wait()
	all := func() int { return res.incidents + len(res.probes) }
	more := func() bool {
		return len(res.probes) < s.probes && time.Now().Before(until) &&
			(len(res.probes) == 0 || rec.incidents("oncall") < all() || drained.at().IsZero())
	}
	last := res.blast.End.Add(time.Duration(max(s.probes-1, 0))*s.probeEvery + s.deadline + time.Second)
	benchutil.Poll(ctx, last, 10*time.Millisecond, func() bool {
		if more() && !time.Now().Before(next) {
			p := postProbe(ctx, bot.base, fmt.Sprintf("probe-%d", len(res.probes)))
			res.probes = append(res.probes, p)
			next = next.Add(s.probeEvery)
			scrapes.Add(1)
			go func() {
				defer scrapes.Done()
				m, err := outboxPending(ctx, bot.base)
				if err == nil {
					p.mu.Lock()
					p.pending = m
					p.mu.Unlock()
				}
			}()
		}
		if more() {
			return false
		}
		for _, p := range res.probes {
			if !p.settled(rec, rooms, "oncall") && time.Since(p.accepted) < s.deadline {
				return false
			}
		}
		// Every room is open once the console's outbox has been empty
		// after the storm, even if the stream dropped some of their events.
		done := rec.incidents("oncall") >= all() && (rooms.rooms() >= all() || !drained.at().IsZero())
		return done || time.Now().After(until)
	})
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.endPending, _ = outboxPending(ctx, bot.base)
	drained.stop()
	res.drained = missing
	if t := drained.at(); !t.IsZero() {
		res.drained = t.Sub(res.blast.Start)
	}
	// Late duplicates come tens of milliseconds after the first page.
	time.Sleep(s.settle)

	for _, p := range res.probes {
		res.page = append(res.page, p.pageAfter(rec, "oncall", s.deadline))
		res.pageRaw = append(res.pageRaw, p.pageRaw(rec, "oncall"))
		res.room = append(res.room, p.roomAfter(rooms, s.deadline))
	}
	var lastPage, lastRoom time.Time
	for id := range res.blast.Accepted {
		if a, ok := rec.first("oncall", id); ok {
			res.paged++
			if a.at.After(lastPage) {
				lastPage = a.at
			}
		}
		if t, ok := rooms.seen(id); ok {
			res.roomed++
			if t.After(lastRoom) {
				lastRoom = t
			}
		}
	}
	res.lastPage, res.lastRoom = missing, missing
	if res.paged == res.incidents && res.incidents > 0 {
		res.lastPage = lastPage.Sub(res.blast.Start)
	}
	if res.roomed == res.incidents && res.incidents > 0 {
		res.lastRoom = lastRoom.Sub(res.blast.Start)
	}
	res.stats = rec.stats()
	res.events, res.reconnects, res.streamErr = rooms.state()
	res.rssKiB = benchutil.PeakRSS(bot.pid())
	res.logLines = bot.logLines()
	return res, nil
}

// drainWatch reads /metrics every second until stopped, and keeps when
// consumer's outbox was first seen empty.
type drainWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	first  time.Time
}

func sampleDrain(ctx context.Context, base, consumer string) *drainWatch {
	ctx, cancel := context.WithCancel(ctx)
	d := &drainWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			t := time.Now()
			if m, err := outboxPending(ctx, base); err == nil && m[consumer] == 0 {
				d.mu.Lock()
				d.first = t
				d.mu.Unlock()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return d
}

// at is when the outbox was first seen empty, zero while it has not been.
func (d *drainWatch) at() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}

// stop ends the sampling and waits for it.
func (d *drainWatch) stop() {
	d.cancel()
	<-d.done
}

func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
