package chat

import (
	"testing"
	"time"
)

func TestPacerKeepsToItsLimit(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	type step struct {
		at   time.Duration // since t0
		key  string
		wait time.Duration // 0: let through
	}
	cases := []struct {
		name  string
		limit Limit
		steps []step
	}{
		{"burst then one per interval", Limit{Every: 4 * time.Second, Burst: 3}, []step{
			{0, "a", 0}, {0, "a", 0}, {0, "a", 0},
			{0, "a", 4 * time.Second},
			{time.Second, "a", 3 * time.Second},
			{4 * time.Second, "a", 0},
			{4 * time.Second, "a", 4 * time.Second},
		}},
		{"keys are apart", Limit{Every: time.Second, Burst: 1}, []step{
			{0, "a", 0}, {0, "b", 0}, {0, "a", time.Second}, {time.Second, "a", 0},
		}},
		{"an idle bucket fills again but not beyond its burst", Limit{Every: time.Second, Burst: 2}, []step{
			{0, "a", 0}, {0, "a", 0}, {0, "a", time.Second},
			{time.Hour, "a", 0}, {time.Hour, "a", 0}, {time.Hour, "a", time.Second},
		}},
		{"a zero burst is one", Limit{Every: time.Second}, []step{
			{0, "a", 0}, {0, "a", time.Second},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPacer(c.limit)
			for i, s := range c.steps {
				if got := p.take(s.key, t0.Add(s.at)); got != s.wait {
					t.Fatalf("step %d (%s at +%s): wait %s, want %s", i, s.key, s.at, got, s.wait)
				}
			}
		})
	}
}

// TestPacerNeverExceedsTheWindow sends as fast as the pacer lets through
// for ten minutes and checks every sliding window of the platform's span.
func TestPacerNeverExceedsTheWindow(t *testing.T) {
	cases := []struct {
		name   string
		limit  Limit
		window time.Duration
		max    int
	}{
		{"telegram group: 20 a minute", Limit{Every: 7500 * time.Millisecond, Burst: 12}, time.Minute, 20},
		{"slack channel: about 1 a second", Limit{Every: time.Second, Burst: 10}, time.Minute, 70},
		{"discord channel: 5 in 5 seconds", Limit{Every: 5 * time.Second, Burst: 4}, 5 * time.Second, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPacer(c.limit)
			now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
			end := now.Add(10 * time.Minute)
			var sent []time.Time
			for now.Before(end) {
				if w := p.take("g", now); w > 0 {
					now = now.Add(w)
					continue
				}
				sent = append(sent, now)
			}
			for i := range sent {
				n := 0
				for j := i; j < len(sent) && sent[j].Sub(sent[i]) < c.window; j++ {
					n++
				}
				if n > c.max {
					t.Fatalf("%d messages in the %s from %s, limit %d", n, c.window, sent[i], c.max)
				}
			}
			// The steady rate is what is left of the window after a burst.
			steady := int(10*time.Minute/c.limit.Every) * 9 / 10
			if len(sent) < steady {
				t.Fatalf("only %d messages in ten minutes: the pacer is too slow (want at least %d)", len(sent), steady)
			}
		})
	}
}
