package timer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*store.Store, *clock.Fake, *Runner) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fc := clock.NewFake(t0)
	return s, fc, NewRunner(s, fc, log)
}

func write(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// incident inserts a bare incident row for timers to refer to.
func incident(t *testing.T, s *store.Store) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx *store.Tx) error {
		ms := t0.UnixMilli()
		res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, created_at, updated_at, page_at)
			VALUES ('g' || (SELECT COUNT(*) FROM incidents), 'r', 'ops', 'p', 'disk full', 2, 'triggered', ?, ?, ?)`, ms, ms, ms)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id
}

func count(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	if err := s.Read().QueryRow(`SELECT COUNT(*) FROM timers`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunDueRunsOnlyDueTimersInOrder(t *testing.T) {
	s, fc, r := setup(t)
	var mu sync.Mutex
	var ran []string
	r.Handle("page", func(_ *store.Tx, tm Timer) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, fmt.Sprintf("%s@%s", tm.Payload, tm.Due.Sub(t0)))
		return nil
	})
	write(t, s, func(tx *store.Tx) error {
		for i, d := range []time.Duration{time.Minute, 5 * time.Minute, 2 * time.Minute} {
			if err := Arm(tx, "page", 0, t0.Add(d), fmt.Sprintf("t%d", i), t0); err != nil {
				return err
			}
		}
		return nil
	})
	ctx := context.Background()
	if n, err := r.RunDue(ctx); err != nil || n != 0 {
		t.Fatalf("at t0 ran %d (%v), want 0", n, err)
	}
	fc.Advance(2 * time.Minute)
	if n, err := r.RunDue(ctx); err != nil || n != 2 {
		t.Fatalf("at +2m ran %d (%v), want 2", n, err)
	}
	if count(t, s) != 1 {
		t.Errorf("%d timers left, want 1", count(t, s))
	}
	fc.Advance(3 * time.Minute)
	if n, err := r.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("at +5m ran %d (%v), want 1", n, err)
	}
	slices.Sort(ran) // due ones run concurrently
	want := []string{"t0@1m0s", "t1@5m0s", "t2@2m0s"}
	if !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	if count(t, s) != 0 {
		t.Error("timers left after running")
	}
}

func TestFailedHandlerKeepsTimerAndRetriesLater(t *testing.T) {
	s, fc, r := setup(t)
	// A store job may run more than once (a batch replayed after a
	// neighbour failed), so the failure is a state, not a call count.
	var failing atomic.Bool
	failing.Store(true)
	var calls atomic.Int32
	r.Handle("escalate", func(tx *store.Tx, _ Timer) error {
		calls.Add(1)
		// The handler's own writes must roll back with it.
		if _, err := tx.Exec(`INSERT INTO timers (kind, due_at, created_at) VALUES ('side-effect', 0, 0)`); err != nil {
			return err
		}
		if failing.Load() {
			return errors.New("policy lookup failed")
		}
		return nil
	})
	write(t, s, func(tx *store.Tx) error { return Arm(tx, "escalate", 0, t0, "", t0) })
	ctx := context.Background()
	if n, _ := r.RunDue(ctx); n != 0 {
		t.Fatalf("failed run counted as %d", n)
	}
	var kinds []string
	rows, err := s.Read().Query(`SELECT kind FROM timers ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	rows.Close()
	if !slices.Equal(kinds, []string{"escalate"}) {
		t.Fatalf("after a failed handler timers = %v, want the timer kept and its writes rolled back", kinds)
	}
	// Within the retry delay it is not tried again.
	tried := calls.Load()
	fc.Advance(r.retryDelay / 2)
	r.RunDue(ctx)
	if calls.Load() != tried {
		t.Fatalf("retried after %s; retry delay is %s", r.retryDelay/2, r.retryDelay)
	}
	failing.Store(false)
	fc.Advance(r.retryDelay)
	if n, err := r.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("retry ran %d (%v), want 1", n, err)
	}
	// Now the handler's write committed along with the timer's removal.
	var kind string
	if err := s.Read().QueryRow(`SELECT group_concat(kind) FROM timers`).Scan(&kind); err != nil || kind != "side-effect" {
		t.Fatalf("after the retry timers = %q (%v), want only the handler's side-effect", kind, err)
	}
	// A timer of a kind nobody handles is dropped, not retried forever.
	if n, err := r.RunDue(ctx); err != nil || n != 1 || count(t, s) != 0 {
		t.Errorf("unknown kind: ran %d (%v), %d left", n, err, count(t, s))
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name     string
		kinds    []string
		wantGone int64
		wantLeft int
	}{
		{"one kind", []string{"escalate"}, 2, 2},
		{"two kinds", []string{"escalate", "snooze"}, 3, 1},
		{"all of the incident", nil, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := setup(t)
			inc, other := incident(t, s), incident(t, s)
			write(t, s, func(tx *store.Tx) error {
				for _, k := range []string{"escalate", "escalate", "snooze", "resolve"} {
					if err := Arm(tx, k, inc, t0.Add(time.Minute), "", t0); err != nil {
						return err
					}
				}
				return Arm(tx, "escalate", other, t0.Add(time.Minute), "", t0)
			})
			var gone int64
			write(t, s, func(tx *store.Tx) error {
				var err error
				gone, err = Cancel(tx, inc, tt.kinds...)
				return err
			})
			if gone != tt.wantGone {
				t.Errorf("cancelled %d, want %d", gone, tt.wantGone)
			}
			if n := count(t, s); n != tt.wantLeft+1 {
				t.Errorf("%d timers left, want %d of the incident and the other incident's one", n, tt.wantLeft)
			}
		})
	}
}

func TestCancelledTimerDoesNotRun(t *testing.T) {
	s, fc, r := setup(t)
	inc := incident(t, s)
	ran := 0
	r.Handle("escalate", func(*store.Tx, Timer) error { ran++; return nil })
	write(t, s, func(tx *store.Tx) error { return Arm(tx, "escalate", inc, t0.Add(time.Minute), "", t0) })
	// Acknowledged before the step fell due.
	write(t, s, func(tx *store.Tx) error { _, err := Cancel(tx, inc, "escalate"); return err })
	fc.Advance(time.Hour)
	if n, err := r.RunDue(context.Background()); err != nil || n != 0 || ran != 0 {
		t.Errorf("ran %d/%d (%v) after cancel", n, ran, err)
	}
}

func TestRunLoopWakesOnTheClock(t *testing.T) {
	s, fc, r := setup(t)
	done := make(chan Timer, 1)
	r.Handle("page", func(_ *store.Tx, tm Timer) error { done <- tm; return nil })
	write(t, s, func(tx *store.Tx) error { return Arm(tx, "page", 0, t0.Add(3*time.Minute), "x", t0) })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	<-fc.TimerCreated() // the loop sleeps until the timer is due
	select {
	case <-done:
		t.Fatal("ran before it was due")
	default:
	}
	fc.Advance(3 * time.Minute)
	select {
	case tm := <-done:
		if tm.Payload != "x" {
			t.Errorf("payload %q", tm.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run the timer once the clock reached it")
	}
}
