package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/store"
)

// largeSetup writes the large setup as one file per team: 200
// people, 40 teams, 40 schedules of 3 layers, 80 policies, 300 routes.
// bump changes one team's members and one route's matcher, so a plan has
// something to say.
func largeSetup(tb testing.TB, dir string, bump bool) {
	tb.Helper()
	var people strings.Builder
	people.WriteString("people:\n")
	for i := range 200 {
		fmt.Fprintf(&people, "  - {name: p%03d, time_zone: Europe/London, email: p%03d@example.com, notify: [{method: email, after: 0m}, {method: sms, after: 5m}]}\n", i, i)
	}
	files := map[string]string{"people.yaml": people.String(), "main.yaml": "default_route: {team: t00}\n"}
	for t := range 40 {
		var b strings.Builder
		m := func(k int) string { return fmt.Sprintf("p%03d", (t*5+k)%200) }
		members := fmt.Sprintf("[%s, %s, %s, %s, %s]", m(0), m(1), m(2), m(3), m(4))
		if bump && t == 7 {
			members = fmt.Sprintf("[%s, %s, %s, %s]", m(0), m(1), m(2), m(3))
		}
		fmt.Fprintf(&b, "teams:\n  - {name: t%02d, members: %s, leads: [%s], schedule: s%02d, escalation_policy: t%02d-a}\n", t, members, m(0), t, t)
		fmt.Fprintf(&b, "schedules:\n  - name: s%02d\n    time_zone: Europe/London\n    layers:\n", t)
		for l, rot := range []string{"weekly", "daily", "weekly"} {
			fmt.Fprintf(&b, "      - {name: l%d, rotation: %s, start: \"2026-01-05 09:00\", participants: [%s, %s, %s]", l, rot, m(l), m(l+1), m(l+2))
			if l == 2 {
				b.WriteString(`, windows: [{days: [mon, tue, wed, thu, fri], from: "22:00", to: "07:00"}]`)
			}
			b.WriteString("}\n")
		}
		fmt.Fprintf(&b, "escalation_policies:\n")
		for _, p := range []string{"a", "b"} {
			fmt.Fprintf(&b, "  - {name: t%02d-%s, repeat: 1, steps: [{delay: 5m, targets: [{schedule: s%02d}]}, {delay: 10m, targets: [{user: %s}]}, {delay: 10m, targets: [{team: t%02d}]}]}\n", t, p, t, m(0), t)
		}
		b.WriteString("routes:\n")
		routes := 8 // 20 teams of 8 routes and 20 of 7: 300
		if t >= 20 {
			routes = 7
		}
		for r := range routes {
			match := fmt.Sprintf(`service="svc-%02d-%d"`, t, r)
			if bump && t == 3 && r == 2 {
				match = fmt.Sprintf(`service=~"svc-%02d-%d|svc-extra"`, t, r)
			}
			fmt.Fprintf(&b, "  - {name: r%02d-%d, match: ['%s'], team: t%02d, escalation_policy: t%02d-%s, group_by: [alertname, instance], alert_delay: 1m}\n",
				t, r, match, t, t, []string{"a", "b"}[r%2])
		}
		files[fmt.Sprintf("team-%02d.yaml", t)] = b.String()
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// benchFixture is a database with the large setup applied.
func benchFixture(b *testing.B) (*store.Store, string) {
	b.Helper()
	dir := b.TempDir()
	largeSetup(b, dir, false)
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := planAndApply(st, dir, true); err != nil {
		b.Fatal(err)
	}
	return st, dir
}

// planAndApply does what `bot plan` (and, with apply, `bot apply`) does
// after opening the database: load the files, read the applied set and
// the run-time state, compute the plan.
func planAndApply(st *store.Store, dir string, apply bool) (Plan, error) {
	ctx := context.Background()
	c, err := config.LoadPaths(dir)
	if err != nil {
		return Plan{}, err
	}
	d, err := DigesterOf(ctx, st.Read())
	if err != nil {
		return Plan{}, err
	}
	desired, err := FromConfig(c, d)
	if err != nil {
		return Plan{}, err
	}
	applied, err := Applied(ctx, st.Read())
	if err != nil {
		return Plan{}, err
	}
	layers, err := LayerStatesOf(ctx, st.Read())
	if err != nil {
		return Plan{}, err
	}
	live, err := Live(applied, layers)
	if err != nil {
		return Plan{}, err
	}
	p, err := Compute(desired, applied, live, Options{})
	if err != nil || !apply {
		return p, err
	}
	return p, st.Write(ctx, func(tx *store.Tx) error {
		return Apply(tx, p, desired, applied, ApplyOptions{Actor: "bench", Now: now, Digester: d, Layers: layers})
	})
}

// BenchmarkPlanLarge plans the large setup (200 people, 40 teams, 40
// schedules of 3 layers, 80 policies, 300 routes in 42 files) against a
// database where it is applied, with two changes to report. Target
// (issue 10): under 300 ms.
func BenchmarkPlanLarge(b *testing.B) {
	st, _ := benchFixture(b)
	dir := b.TempDir()
	largeSetup(b, dir, true)
	b.ResetTimer()
	for b.Loop() {
		p, err := planAndApply(st, dir, false)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(p.Changes); n != 2 {
			b.Fatalf("%d changes, want 2", n)
		}
	}
}

// BenchmarkApplyLarge applies the large setup to an empty database: every
// object created, in one transaction. Target (issue 10): under 1 s.
func BenchmarkApplyLarge(b *testing.B) {
	dir := b.TempDir()
	largeSetup(b, dir, false)
	for b.Loop() {
		b.StopTimer()
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bot.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := planAndApply(st, dir, true)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if len(p.Changes) < 600 {
			b.Fatalf("%d objects created", len(p.Changes))
		}
		st.Close()
		b.StartTimer()
	}
}

// The large setup applies and plans no change the second time; the
// figures are in the benchmarks above.
func TestLargeSetupRoundTrips(t *testing.T) {
	dir := t.TempDir()
	largeSetup(t, dir, false)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := planAndApply(st, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range first.Changes {
		counts[c.Kind]++
	}
	want := map[string]int{KindPerson: 200, KindTeam: 40, KindSchedule: 40, KindEscalationPolicy: 80, KindRoute: 300, KindDefaultRoute: 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s created, want %d", counts[k], k, n)
		}
	}
	again, err := planAndApply(st, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Fatalf("second plan has %d changes", len(again.Changes))
	}
}
