package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// A year of history for 20 teams, as the issue sizes it: 100,000
// incidents, 1,000,000 alerts, 300,000 notifications, and each incident's
// course on its timeline (its alert lines, an ack for most, a resolve,
// escalations for some). Generated once per test binary into a temporary
// SQLite file.
const (
	yearTeams     = 20
	yearIncidents = 100_000
	alertsPerInc  = 10
	notesPerInc   = 3
)

var yearEnd = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

var (
	yearOnce sync.Once
	yearSrc  Source
	yearErr  error
	yearDir  string
)

func yearConfig() string {
	var b strings.Builder
	b.WriteString("people:\n")
	for p := range yearTeams * 5 {
		zone := []string{"Europe/London", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Europe/Berlin"}[p%5]
		fmt.Fprintf(&b, "  - {name: p%03d, time_zone: %s}\n", p, zone)
	}
	b.WriteString("teams:\n")
	for t := range yearTeams {
		fmt.Fprintf(&b, "  - {name: t%02d, members: [p%03d, p%03d, p%03d, p%03d, p%03d], schedule: s%02d}\n", t, t*5, t*5+1, t*5+2, t*5+3, t*5+4, t)
	}
	b.WriteString("schedules:\n")
	for t := range yearTeams {
		fmt.Fprintf(&b, "  - {name: s%02d, time_zone: Europe/London, layers: [{name: w, rotation: weekly, start: \"2025-01-06 09:00\", participants: [p%03d, p%03d, p%03d]}]}\n", t, t*5, t*5+1, t*5+2)
	}
	b.WriteString("default_route: {team: t00}\n")
	return b.String()
}

func openYear(tb testing.TB) Source {
	yearOnce.Do(func() {
		yearDir, yearErr = os.MkdirTemp("", "report-year-")
		if yearErr != nil {
			return
		}
		yearSrc, yearErr = generateYear(filepath.Join(yearDir, "bot.db"))
	})
	if yearErr != nil {
		tb.Fatal(yearErr)
	}
	return yearSrc
}

func generateYear(path string) (Source, error) {
	ctx := context.Background()
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		return Source{}, err
	}
	cfg, err := config.Parse([]byte(yearConfig()))
	if err != nil {
		return Source{}, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := yearEnd.AddDate(-1, 0, 0)
	span := yearEnd.Sub(start)
	titles := []string{"disk full on db-%02d", "ES not green on es-%d", "Kinesis behind %x", "MysqlDump failed on backup-%d",
		"p99 latency high on api-%d", "pod api-%x crashlooping", "certificate expires in %d days", "queue depth over %d"}
	const batch = 2000
	for first := 0; first < yearIncidents; first += batch {
		err := st.Write(ctx, func(tx *store.Tx) error {
			for i := first; i < min(first+batch, yearIncidents); i++ {
				id := int64(i + 1)
				team := fmt.Sprintf("t%02d", i%yearTeams)
				created := start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
				acked := created.Add(time.Duration(30+rng.IntN(1800)) * time.Second)
				resolved := acked.Add(time.Duration(60+rng.IntN(7200)) * time.Second)
				title := fmt.Sprintf(titles[i%len(titles)], rng.IntN(40))
				isAcked := rng.IntN(10) < 8
				ackBy := "slack:" + fmt.Sprintf("p%03d", (i%yearTeams)*5+rng.IntN(3))
				resolvedBy := ackBy
				if !isAcked {
					resolvedBy = "alertmanager"
				}
				var ackAt any
				if isAcked {
					ackAt = acked.UnixMilli()
				}
				if _, err := tx.Exec(`INSERT INTO incidents (id, group_key, route, team, policy, title, severity, status, alert_count, firing_count,
					created_at, updated_at, page_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by)
					VALUES (?, ?, 'default', ?, 'default', ?, 3, 'resolved', ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
					id, fmt.Sprintf("g%d", id), team, title, alertsPerInc, created.UnixMilli(), resolved.UnixMilli(), created.UnixMilli(),
					ackAt, ackBy, resolved.UnixMilli(), resolvedBy); err != nil {
					return err
				}
				for a := range alertsPerInc {
					at := created.Add(time.Duration(a) * time.Second).UnixMilli()
					res, err := tx.Exec(`INSERT INTO alerts (incident_id, integration, fingerprint, status, severity, summary, labels, annotations,
						starts_at, ends_at, first_seen_at, last_seen_at) VALUES (?, 'alertmanager', ?, 'resolved', 3, ?, '{}', '{}', ?, ?, ?, ?)`,
						id, fmt.Sprintf("f%d-%d", id, a), title, at, resolved.UnixMilli(), at, at)
					if err != nil {
						return err
					}
					alertID, _ := res.LastInsertId()
					if _, err := tx.Exec(`INSERT INTO timeline (incident_id, at, kind, actor, alert_id, detail) VALUES (?, ?, 'alert.added', 'alertmanager', ?, '')`,
						id, at, alertID); err != nil {
						return err
					}
				}
				course := [][3]any{{created.UnixMilli(), "escalation.step", "step 1/2: someone"}}
				if rng.IntN(5) == 0 {
					course = append(course, [3]any{created.Add(10 * time.Minute).UnixMilli(), "escalation.step", "step 2/2: someone"})
				}
				if isAcked {
					course = append(course, [3]any{acked.UnixMilli(), "incident.acknowledged", ""})
				}
				course = append(course, [3]any{resolved.UnixMilli(), "incident.resolved", ""})
				for _, c := range course {
					actor := "bot"
					if c[1] == "incident.acknowledged" || c[1] == "incident.resolved" {
						actor = resolvedBy
					}
					if _, err := tx.Exec(`INSERT INTO timeline (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`, id, c[0], c[1], actor, c[2]); err != nil {
						return err
					}
				}
				for n := range notesPerInc {
					at := created.Add(time.Duration(n) * 3 * time.Minute)
					state := "delivered"
					if rng.IntN(50) == 0 {
						state = "failed"
					}
					if _, err := tx.Exec(`INSERT INTO notifications (incident_id, idempotency_key, person, method, cycle, step, state, created_at, updated_at)
						VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)`, id, fmt.Sprintf("i%d/n%d", id, n), fmt.Sprintf("p%03d", (i%yearTeams)*5+n),
						[]string{"chat", "sms", "voice"}[n], n, state, at.UnixMilli(), at.UnixMilli()); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return Source{}, fmt.Errorf("generate history: %w", err)
		}
	}
	oc, err := oncall.NewService(ctx, st, clock.NewFake(yearEnd), cfg)
	if err != nil {
		return Source{}, err
	}
	return Source{DB: st.Read(), OnCall: oc, Config: cfg}, nil
}

// BenchmarkReportWeekOfAYear is one team's week (Input and Compute of one
// range) in a year of history for 20 teams. Target (issue 11): < 200 ms.
func BenchmarkReportWeekOfAYear(b *testing.B) {
	src := openYear(b)
	r, err := src.LastWeek("t07", yearEnd)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		in, err := src.Input(context.Background(), "t07", r, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep := Compute(in); rep.Response.Incidents < 50 {
			b.Fatalf("%d incidents in the week", rep.Response.Incidents)
		}
	}
}

// BenchmarkHandoffWithTrendOfAYear is the whole handoff report (the week,
// the week before and the 4-week trend: five ranges) in the same history,
// reporting the heap it leaves grown. Target (issue 11): < 500 ms, and
// < 50 MB of memory growth while reporting.
func BenchmarkHandoffWithTrendOfAYear(b *testing.B) {
	src := openYear(b)
	r, err := src.LastWeek("t07", yearEnd)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if _, err := src.Weekly(context.Background(), "t07", r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse-min(after.HeapInuse, before.HeapInuse))/(1<<20), "heap-growth-MB")
}

// TestMain removes the generated year of history when the benchmarks are
// done with it.
func TestMain(m *testing.M) {
	code := m.Run()
	if yearDir != "" {
		if yearSrc.DB != nil {
			yearSrc.DB.Close()
		}
		os.RemoveAll(yearDir)
	}
	os.Exit(code)
}
