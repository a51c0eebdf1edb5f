package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// climbResult is one run of part B: n new incidents whose policy pages pa
// at once and pb after delay.
type climbResult struct {
	blast     blastResult
	incidents int
	// first is each incident's step-1 page to pa after the incident was
	// created; late is how late step 2's page to pb came, after created +
	// delay. Missing when none came.
	first, late        []time.Duration
	pagedA, pagedB     int
	fromPayload        int // incidents whose created_at came from a page (else the 202 was used)
	stats              pageStats
	rssKiB             int64
	note               string
	waitedTill         time.Duration // after the last 202
	deliveredAllInTime bool
}

func runClimb(ctx context.Context, s settings, run int, delay time.Duration, bodies [][]byte, perBody []int) (res climbResult, err error) {
	rec, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer rec.Close()
	bot, err := startBot(s.bin, filepath.Join(s.tmp, fmt.Sprintf("climb-%d", run)),
		botConfig{receiver: rec.URL(), groupBy: []string{"alertname", "instance"}, escalation: "climb", climbDelay: delay})
	if err != nil {
		return res, err
	}
	defer func() { res.note = joinNotes(res.note, bot.stop()) }()

	res.blast = blast(ctx, bot.base, bodies, perBody, s.clients, s.ingestTimeout)
	res.incidents = len(res.blast.Accepted)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	until := res.blast.End.Add(delay + s.deadline)
	res.deliveredAllInTime = benchutil.Poll(ctx, until, 20*time.Millisecond, func() bool {
		return rec.incidents("pb") >= res.incidents && rec.incidents("pa") >= res.incidents
	})
	res.waitedTill = time.Since(res.blast.End)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	time.Sleep(s.settle)
	for id, accepted := range res.blast.Accepted {
		a, okA := rec.firstOfStep("pa", id, 0)
		b, okB := rec.firstOfStep("pb", id, 1)
		created := accepted // an upper bound: the 202 came after the commit
		switch {
		case okB && !b.created.IsZero():
			created = b.created
			res.fromPayload++
		case okA && !a.created.IsZero():
			created = a.created
			res.fromPayload++
		}
		if okA {
			res.pagedA++
			res.first = append(res.first, a.at.Sub(created))
		} else {
			res.first = append(res.first, missing)
		}
		if okB {
			res.pagedB++
			res.late = append(res.late, b.at.Sub(created.Add(delay)))
		} else {
			res.late = append(res.late, missing)
		}
	}
	res.stats = rec.stats()
	res.rssKiB = benchutil.PeakRSS(bot.pid())
	return res, nil
}
