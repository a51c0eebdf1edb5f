// Command oncallbench measures the escalation engine under load: it builds
// the bot in-process on a fresh database, seeds many triggered incidents
// whose next escalation step is a pending timer, runs the real timer loop
// on the wall clock, and prints how late the due steps ran (p50, p99,
// max), each figure the median of several runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/oncallbot/bot/internal/app"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

const benchConfig = `
default_route: {team: ops}
people:
  - {name: alice, notify: [{method: chat, after: 0m}, {method: sms, after: 3m}]}
  - {name: bob, notify: [{method: chat, after: 0m}]}
  - {name: lead}
teams:
  - {name: ops, members: [alice, bob], leads: [lead], schedule: ops, escalation_policy: ops}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2025-01-06 09:00", participants: [alice, bob]}
      - {name: nights, rotation: daily, start: "2025-01-06 22:00", participants: [bob], windows: [{from: "22:00", to: "07:00"}]}
escalation_policies:
  - name: ops
    steps:
      - {delay: 10m, targets: [{schedule: ops}]}
      - {delay: 10m, targets: [{team: ops}]}
      - {delay: 10m, targets: [{user: lead}]}
`

func main() {
	pending := flag.Int("timers", 100000, "pending escalation timers")
	spread := flag.Duration("spread", 100*time.Second, "their due times spread over this long from the start")
	measure := flag.Duration("measure", 30*time.Second, "how long to run the loop and measure")
	runs := flag.Int("runs", 3, "runs; figures are medians")
	flag.Parse()
	if err := run(*pending, *spread, *measure, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "oncallbench:", err)
		os.Exit(1)
	}
}

type result struct {
	n, ran        int
	p50, p99, max time.Duration
}

func run(pending int, spread, measure time.Duration, runs int) error {
	fmt.Printf("escalation benchmark: %d pending step timers due over %s, measured for %s, %d runs, medians shown\n",
		pending, spread, measure, runs)
	var rs []result
	for i := range runs {
		r, err := once(pending, spread, measure)
		if err != nil {
			return err
		}
		fmt.Printf("  run %d: %d steps ran, lateness p50 %v p99 %v max %v\n", i+1, r.ran, r.p50, r.p99, r.max)
		rs = append(rs, r)
	}
	med := func(f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("escalation steps with %d timers pending: lateness p50 %v  p99 %v  max %v (target p99 < 250ms)\n", pending,
		med(func(r result) time.Duration { return r.p50 }), med(func(r result) time.Duration { return r.p99 }),
		med(func(r result) time.Duration { return r.max }))
	return nil
}

func once(pending int, spread, measure time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "oncallbench")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Parse([]byte(benchConfig))
	if err != nil {
		return result{}, err
	}
	cfg.Database = filepath.Join(dir, "bot.db")
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return result{}, err
	}
	defer a.Close()

	// Seed: triggered incidents, each with its escalation at step 1 and
	// the timer for step 2 due somewhere in the spread. Big transactions
	// of plain SQL: this is set-up, not the thing measured.
	// Due times are laid out from a placeholder start and shifted once the
	// seeding is done, so no timer is overdue because seeding was slow.
	start := time.Now()
	due := make(map[int64]int64, pending)
	const chunk = 5000
	for base := 0; base < pending; base += chunk {
		err := a.Store.Write(ctx, func(tx *store.Tx) error {
			now := time.Now().UnixMilli()
			for i := base; i < min(base+chunk, pending); i++ {
				res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, alert_count, firing_count, created_at, updated_at, page_at)
					VALUES (?, 'default', 'ops', 'ops', ?, 4, 'triggered', 1, 1, ?, ?, ?)`, fmt.Sprint("g", i), fmt.Sprint("incident ", i), now, now, now)
				if err != nil {
					return err
				}
				id, _ := res.LastInsertId()
				if _, err := tx.Exec(`INSERT INTO escalations (incident_id, policy, cycle, step, state, started_at, updated_at) VALUES (?, 'ops', 0, 0, 'running', ?, ?)`, id, now, now); err != nil {
					return err
				}
				at := start.Add(time.Duration(int64(spread) * int64(i) / int64(pending))).UnixMilli()
				if _, err := tx.Exec(`INSERT INTO timers (kind, incident_id, due_at, payload, created_at) VALUES (?, ?, ?, '{"cycle":0,"step":1}', ?)`,
					oncall.TimerEscalate, id, at, now); err != nil {
					return err
				}
				due[id] = at
			}
			return nil
		})
		if err != nil {
			return result{}, fmt.Errorf("seed: %w", err)
		}
	}
	// A margin for the shifting update itself (100,000 rows) and the start
	// of the loops, so the first timer is not overdue before the loop runs.
	shift := time.Until(start) + 5*time.Second
	start = start.Add(shift)
	if err := a.Store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE timers SET due_at = due_at + ?`, shift.Milliseconds())
		return err
	}); err != nil {
		return result{}, err
	}
	for id := range due {
		due[id] += shift.Milliseconds()
	}
	if wait := time.Until(start); wait < time.Second {
		return result{}, fmt.Errorf("set-up overran the start by %v; the figures would measure it", -wait)
	}
	runCtx, cancel := context.WithCancel(ctx)
	a.Start(runCtx)
	time.Sleep(time.Until(start.Add(measure)))
	cancel()
	a.Close()

	// Lateness: when each step was recorded against when it was due.
	st, err := store.Open(ctx, cfg.Database, store.Options{Logger: log})
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	rows, err := st.Read().QueryContext(ctx, `SELECT incident_id, MIN(at) FROM timeline WHERE kind IN (?, ?) AND detail LIKE 'step 2/%' GROUP BY incident_id`,
		oncall.KindStep, oncall.KindStepSkipped)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	var late []time.Duration
	buckets := map[int64]time.Duration{}
	for rows.Next() {
		var id, at int64
		if err := rows.Scan(&id, &at); err != nil {
			return result{}, err
		}
		l := time.Duration(at-due[id]) * time.Millisecond
		late = append(late, l)
		b := (due[id] - start.UnixMilli()) / 1000
		buckets[b] = max(buckets[b], l)
	}
	var worst int64
	for b := range buckets {
		if buckets[b] > buckets[worst] {
			worst = b
		}
	}
	fmt.Printf("  (worst second of the run: %ds after the start, max lateness %v)\n", worst, buckets[worst])
	if len(late) == 0 {
		return result{}, fmt.Errorf("no step ran; is the timer loop alive?")
	}
	slices.Sort(late)
	return result{n: pending, ran: len(late), p50: late[len(late)/2], p99: late[len(late)*99/100], max: late[len(late)-1]}, nil
}
