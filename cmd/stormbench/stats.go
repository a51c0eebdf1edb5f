package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/benchutil"
)

// missing stands for a latency that was never observed (a page not
// delivered within the deadline); it sorts after every real one.
const missing = benchutil.Missing

// pct is the nearest-rank percentile p (0..1] of ds; missing when ds is
// empty.
func pct(ds []time.Duration, p float64) time.Duration { return benchutil.Pct(ds, p) }

// spread is a set's p50, p99 and max.
type spread struct{ p50, p99, max time.Duration }

func spreadOf(ds []time.Duration) spread {
	return spread{pct(ds, 0.50), pct(ds, 0.99), pct(ds, 1)}
}

// medianSpread takes each figure's median across runs separately.
func medianSpread(ss []spread) spread {
	var a, b, c []time.Duration
	for _, s := range ss {
		a, b, c = append(a, s.p50), append(b, s.p99), append(c, s.max)
	}
	return spread{pct(a, 0.5), pct(b, 0.5), pct(c, 0.5)}
}

func medianF(vs []float64) float64 { return benchutil.MedianF(vs) }

func medianI(vs []int) int { return benchutil.MedianI(vs) }

// dur prints a latency, or what its absence means.
func dur(d, within time.Duration) string {
	return show(d, fmt.Sprintf("not delivered within %s", within))
}

// roomDur prints a room latency, or that no room event came.
func roomDur(d, within time.Duration) string {
	return show(d, fmt.Sprintf("no room event within %s", within))
}

func show(d time.Duration, absent string) string { return benchutil.Show(d, absent) }

func (s spread) String(within time.Duration) string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", dur(s.p50, within), dur(s.p99, within), dur(s.max, within))
}

func (s spread) rooms(within time.Duration) string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", roomDur(s.p50, within), roomDur(s.p99, within), roomDur(s.max, within))
}

func ints(vs []int) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}

func durs(ds []time.Duration, within time.Duration) string {
	var parts []string
	for _, d := range ds {
		if d == missing {
			parts = append(parts, ">"+within.String())
			continue
		}
		parts = append(parts, dur(d, within))
	}
	return strings.Join(parts, ", ")
}
