package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// logWriter sends the benchmark's report to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// One round of each mode at tiny sizes, so the benchmark does not rot:
// every incident's triage message reaches its room, rule-based and with
// the AI, and every storm incident's channel is opened, triage off and
// on. No timing is asserted.
func TestOneRoundOfEachMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := options{runs: 1, history: 20, burst: 5, steady: 3, steadyEvery: 5 * time.Millisecond, storm: 20, batch: 5, clients: 4, probes: 2, probeEvery: 20 * time.Millisecond,
		deadline: 30 * time.Second, seedDrain: 3 * time.Second, sourceDelay: 10 * time.Millisecond, aiDelay: 50 * time.Millisecond, out: logWriter{t}}
	sum, err := bench(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range []string{shapeBurst, shapeSteady} {
		n := map[string]int{shapeBurst: o.burst, shapeSteady: o.steady}[shape]
		for _, mode := range []string{modeRules, modeAI} {
			key := shape + "/" + mode
			rs := sum.triage[key]
			if len(rs) != 1 {
				t.Fatalf("%s: %d rounds, want 1", key, len(rs))
			}
			r := rs[0]
			if r.incidents != n || r.arrived != n {
				t.Errorf("%s: %d incidents, %d triage messages in their rooms, want %d of each", key, r.incidents, r.arrived, n)
			}
			if r.prom < int64(n) || r.logs < int64(n) {
				t.Errorf("%s: the fakes answered %d Prometheus and %d log queries, want %d each", key, r.prom, r.logs, n)
			}
			wantAI := 0
			if mode == modeAI {
				wantAI = n
			}
			if got := r.metrics[`bot_triage_ai_calls_total{outcome="ok"}`]; int(got) != wantAI || r.ai != int64(wantAI) {
				t.Errorf("%s: %v AI calls counted, %d answered, want %d", key, got, r.ai, wantAI)
			}
		}
	}
	for _, mode := range []string{modeOff, modeAI} {
		rs := sum.storm[mode]
		if len(rs) != 1 || rs[0].incidents != o.storm || rs[0].opened != o.storm || len(rs[0].probes) != o.probes {
			t.Errorf("storm, triage %s: %+v, want %d incidents with a channel each and %d probes", mode, rs, o.storm, o.probes)
		}
	}
}
