package oncall

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func newSchedule(t testing.TB, zone string, layers []Layer, overrides ...Override) *Schedule {
	t.Helper()
	s, err := NewSchedule("test", mustZone(t, zone), layers, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func expectOnCall(t *testing.T, s *Schedule, at time.Time, want ...string) {
	t.Helper()
	got := s.OnCall(at)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("on call at %s (%s local) = %v, want %v", at.UTC().Format(time.RFC3339),
			at.In(s.Zone).Format("Mon 15:04 MST"), got, want)
	}
}

func TestWeeklyRotationHandsOffAtLocalTime(t *testing.T) {
	s := newSchedule(t, "Europe/London", []Layer{{
		Name: "weekly", Unit: Weekly, Every: 1, Start: wall("2026-01-05 09:00"), // a Monday
		Participants: []string{"alice", "bob", "carol"},
	}})
	expectOnCall(t, s, utc("2026-01-05 08:59")) // before the first handoff: nobody
	expectOnCall(t, s, utc("2026-01-05 09:00"), "alice")
	expectOnCall(t, s, utc("2026-01-12 08:59"), "alice")
	expectOnCall(t, s, utc("2026-01-12 09:00"), "bob")
	expectOnCall(t, s, utc("2026-01-19 09:00"), "carol")
	expectOnCall(t, s, utc("2026-01-26 09:00"), "alice")
	// After the spring change 09:00 London is 08:00 UTC: the handoff
	// follows the wall clock, not a 168-hour period.
	expectOnCall(t, s, utc("2026-03-30 07:59"), s.OnCall(utc("2026-03-29 12:00"))...)
	before, after := s.OnCall(utc("2026-03-30 07:59")), s.OnCall(utc("2026-03-30 08:00"))
	if slices.Equal(before, after) {
		t.Fatalf("no handoff at 09:00 BST (08:00 UTC) on 2026-03-30: %v then %v", before, after)
	}
}

func TestDailyHandoffInsideTheRepeatedHourOverlaps(t *testing.T) {
	// London, 2026-10-25: 01:30 happens twice. Sunday's shift starts at
	// the first 01:30 and Saturday's ends at the second: both are on call
	// for that hour, never nobody.
	s := newSchedule(t, "Europe/London", []Layer{{
		Name: "daily", Unit: Daily, Every: 1, Start: wall("2026-10-20 01:30"),
		Participants: []string{"a", "b"},
	}})
	sat, sun := s.OnCall(utc("2026-10-24 12:00"))[0], s.OnCall(utc("2026-10-25 12:00"))[0]
	expectOnCall(t, s, utc("2026-10-25 00:29"), sat)
	expectOnCall(t, s, utc("2026-10-25 00:30"), sat, sun) // first 01:30 (BST)
	expectOnCall(t, s, utc("2026-10-25 01:29"), sat, sun)
	expectOnCall(t, s, utc("2026-10-25 01:30"), sun) // second 01:30 (GMT)
	if gaps := s.Gaps(utc("2026-10-19 23:00"), utc("2026-11-01 00:00")); len(gaps) != 1 || !gaps[0].End.Equal(utc("2026-10-20 00:30")) {
		t.Fatalf("gaps = %+v, want only the one before the first handoff", gaps)
	}
}

func TestDailyHandoffInsideTheSkippedHourMovesToItsEnd(t *testing.T) {
	// New York, 2026-03-08: 02:30 does not exist; the handoff happens at
	// 03:00 EDT, the first instant after the gap.
	s := newSchedule(t, "America/New_York", []Layer{{
		Name: "daily", Unit: Daily, Every: 1, Start: wall("2026-03-01 02:30"),
		Participants: []string{"a", "b"},
	}})
	sat := s.OnCall(utc("2026-03-07 12:00"))[0]
	expectOnCall(t, s, utc("2026-03-08 06:59"), sat) // 01:59 EST
	next := s.OnCall(utc("2026-03-08 07:00"))        // 03:00 EDT
	if len(next) != 1 || next[0] == sat {
		t.Fatalf("no handoff at 03:00 EDT: %v", next)
	}
	// And the day after, 02:30 EDT again.
	expectOnCall(t, s, utc("2026-03-09 06:29"), next...)
	if got := s.OnCall(utc("2026-03-09 06:30")); slices.Equal(got, next) {
		t.Fatal("no handoff at 02:30 EDT on 2026-03-09")
	}
}

func TestLordHoweHalfHourShift(t *testing.T) {
	loc := mustZone(t, "Australia/Lord_Howe")
	s := newSchedule(t, "Australia/Lord_Howe", []Layer{{
		Name: "daily", Unit: Daily, Every: 1, Start: wall("2026-10-01 02:15"),
		Participants: []string{"a", "b"},
	}})
	// 2026-10-04 02:00 +10:30 jumps to 02:30 +11: the 02:15 handoff falls
	// in the gap and happens at 02:30.
	shifts := s.Final(utc("2026-10-03 00:00"), utc("2026-10-05 00:00"))
	var handoffs []string
	for _, seg := range shifts[1:] {
		handoffs = append(handoffs, seg.Start.In(loc).Format("2006-01-02 15:04 -0700"))
	}
	want := []string{"2026-10-04 02:30 +1100", "2026-10-05 02:15 +1100"}
	if !slices.Equal(handoffs, want) {
		t.Fatalf("handoffs = %v, want %v", handoffs, want)
	}
	// 2026-04-05 02:00 +11 goes back to 01:30 +10:30: a 01:45 handoff
	// happens twice, so the two shifts overlap for 30 minutes.
	s2 := newSchedule(t, "Australia/Lord_Howe", []Layer{{
		Name: "daily", Unit: Daily, Every: 1, Start: wall("2026-04-01 01:45"),
		Participants: []string{"a", "b"},
	}})
	both := 0
	for _, seg := range s2.Final(utc("2026-04-04 00:00"), utc("2026-04-05 12:00")) {
		if len(seg.Users) == 2 {
			both++
			if d := seg.End.Sub(seg.Start); d != 30*time.Minute {
				t.Fatalf("overlap lasts %s, want 30m", d)
			}
		}
	}
	if both != 1 {
		t.Fatalf("%d overlaps, want 1", both)
	}
}

func TestMidnightHandoffInAZoneThatSkippedMidnight(t *testing.T) {
	// São Paulo, 2018-11-04: 00:00 became 01:00. A midnight handoff that
	// day happens at 01:00 local; nobody is left without cover.
	loc := mustZone(t, "America/Sao_Paulo")
	s := newSchedule(t, "America/Sao_Paulo", []Layer{{
		Name: "daily", Unit: Daily, Every: 1, Start: wall("2018-11-01 00:00"),
		Participants: []string{"a", "b", "c"},
	}})
	final := s.Final(utc("2018-11-03 12:00"), utc("2018-11-05 12:00"))
	var starts []string
	for _, seg := range final[1:] {
		starts = append(starts, seg.Start.In(loc).Format("2006-01-02 15:04"))
	}
	if want := []string{"2018-11-04 01:00", "2018-11-05 00:00"}; !slices.Equal(starts, want) {
		t.Fatalf("handoffs = %v, want %v", starts, want)
	}
	if g := s.Gaps(utc("2018-11-03 12:00"), utc("2018-11-05 12:00")); len(g) != 0 {
		t.Fatalf("gaps %+v", g)
	}
}

func TestMonthlyRotationKeepsItsDayOrTheMonthsLast(t *testing.T) {
	s := newSchedule(t, "UTC", []Layer{{
		Name: "monthly", Unit: Monthly, Every: 1, Start: wall("2026-01-31 10:00"),
		Participants: []string{"a", "b"},
	}})
	var starts []string
	for _, seg := range s.Final(utc("2026-01-31 10:00"), utc("2026-05-01 00:00")) {
		starts = append(starts, seg.Start.Format("01-02"))
	}
	if want := []string{"01-31", "02-28", "03-31", "04-30"}; !slices.Equal(starts, want) {
		t.Fatalf("monthly handoffs = %v, want %v", starts, want)
	}
}

func TestCustomShiftLength(t *testing.T) {
	s := newSchedule(t, "UTC", []Layer{{
		Name: "12h", Unit: Hourly, Every: 12, Start: wall("2026-01-01 08:00"),
		Participants: []string{"day", "night"},
	}})
	expectOnCall(t, s, utc("2026-01-01 19:59"), "day")
	expectOnCall(t, s, utc("2026-01-01 20:00"), "night")
	expectOnCall(t, s, utc("2026-01-02 08:00"), "day")
}

func TestHigherLayerWinsInsideItsWindows(t *testing.T) {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	s := newSchedule(t, "Europe/Berlin", []Layer{
		{Name: "24x7", Unit: Weekly, Every: 1, Start: wall("2026-01-05 09:00"), Participants: []string{"base"}},
		{Name: "business", Unit: Daily, Every: 1, Start: wall("2026-01-05 00:00"), Participants: []string{"office"},
			Windows: []Window{{Days: weekdays, From: Clock{9, 0}, To: Clock{17, 0}}}},
		{Name: "night-shift", Unit: Daily, Every: 1, Start: wall("2026-01-05 00:00"), Participants: []string{"owl"},
			Windows: []Window{{Days: []time.Weekday{time.Friday}, From: Clock{22, 0}, To: Clock{6, 0}}}},
	})
	// Berlin is UTC+1 in January.
	expectOnCall(t, s, utc("2026-01-07 07:59"), "base")   // Wed 08:59
	expectOnCall(t, s, utc("2026-01-07 08:00"), "office") // Wed 09:00
	expectOnCall(t, s, utc("2026-01-07 16:00"), "base")   // Wed 17:00
	expectOnCall(t, s, utc("2026-01-10 10:00"), "base")   // Saturday 11:00
	expectOnCall(t, s, utc("2026-01-09 21:00"), "owl")    // Fri 22:00
	expectOnCall(t, s, utc("2026-01-10 04:59"), "owl")    // Sat 05:59, still Friday's window
	expectOnCall(t, s, utc("2026-01-10 05:00"), "base")   // Sat 06:00
	expectOnCall(t, s, utc("2026-01-08 21:00"), "base")   // Thu 22:00: not a Friday
}

func TestOverrides(t *testing.T) {
	base := []Layer{{Name: "w", Unit: Weekly, Every: 1, Start: wall("2026-01-05 09:00"), Participants: []string{"alice", "bob"}}}
	at := utc("2026-01-06 12:00") // alice's week
	cases := []struct {
		name      string
		overrides []Override
		want      []string
	}{
		{"none", nil, []string{"alice"}},
		{"replace named", []Override{{ID: 1, Kind: Replace, User: "carol", Replaces: "alice"}}, []string{"carol"}},
		{"replace someone not on call", []Override{{ID: 1, Kind: Replace, User: "carol", Replaces: "bob"}}, []string{"alice"}},
		{"take the shift", []Override{{ID: 1, Kind: Replace, User: "dave"}}, []string{"dave"}},
		{"add", []Override{{ID: 1, Kind: Add, User: "trainee"}}, []string{"alice", "trainee"}},
		{"remove leaves a gap", []Override{{ID: 1, Kind: Remove, User: "alice"}}, nil},
		{"applied in order", []Override{{ID: 1, Kind: Remove, User: "alice"}, {ID: 2, Kind: Add, User: "bob"}}, []string{"bob"}},
		{"ended", []Override{{ID: 1, Kind: Replace, User: "carol", Start: utc("2026-01-05 00:00"), End: utc("2026-01-06 11:00")}}, []string{"alice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.overrides {
				if c.overrides[i].Start.IsZero() {
					c.overrides[i].Start, c.overrides[i].End = utc("2026-01-06 00:00"), utc("2026-01-07 00:00")
				}
			}
			expectOnCall(t, newSchedule(t, "UTC", base, c.overrides...), at, c.want...)
		})
	}
}

func TestOverrideAcrossADSTChangeCoversTheWallClockRange(t *testing.T) {
	// Carol covers Saturday 20:00 to Sunday 20:00 London time over the
	// spring change: 23 real hours, and she holds all of them.
	loc := mustZone(t, "Europe/London")
	from, _ := Resolve(wall("2026-03-28 20:00"), loc)
	to, _ := Resolve(wall("2026-03-29 20:00"), loc)
	s := newSchedule(t, "Europe/London",
		[]Layer{{Name: "d", Unit: Daily, Every: 1, Start: wall("2026-03-01 09:00"), Participants: []string{"alice", "bob"}}},
		Override{ID: 1, Kind: Replace, User: "carol", Start: from, End: to})
	if to.Sub(from) != 23*time.Hour {
		t.Fatalf("override lasts %s, want 23h", to.Sub(from))
	}
	var carol time.Duration
	for _, seg := range s.Final(utc("2026-03-28 00:00"), utc("2026-03-31 00:00")) {
		if slices.Equal(seg.Users, []string{"carol"}) {
			carol += seg.End.Sub(seg.Start)
		}
	}
	if carol != 23*time.Hour {
		t.Fatalf("carol on call for %s, want 23h", carol)
	}
	next := s.NextShifts("carol", utc("2026-03-01 00:00"), 60*24*time.Hour, 5)
	if len(next) != 1 || !next[0].Start.Equal(from) || !next[0].End.Equal(to) {
		t.Fatalf("carol's next shifts = %+v", next)
	}
}

func TestFinalScheduleHasNoGapsForAnAlwaysOnLayer(t *testing.T) {
	// Property: a layer with no windows leaves no gap and no zero-length
	// segment, whatever the zone, unit, anchor and range.
	rng := rand.New(rand.NewPCG(7, 8))
	units := []Unit{Hourly, Daily, Weekly, Monthly}
	for i := range 300 {
		zone := propertyZones[rng.IntN(len(propertyZones))]
		loc := mustZone(t, zone)
		l := Layer{
			Name: "l", Unit: units[rng.IntN(len(units))], Every: 1 + rng.IntN(3),
			Start:        wallFromNaive(time.Date(2000+rng.IntN(30), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(4)*15, 0, 0, time.UTC)),
			Participants: []string{"a", "b", "c"}[:1+rng.IntN(3)],
		}
		s, err := NewSchedule("p", loc, []Layer{l}, nil)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := Resolve(l.Start, loc)
		from := first.Add(time.Duration(rng.IntN(400*24)) * time.Hour)
		to := from.Add(time.Duration(24+rng.IntN(60*24)) * time.Hour)
		final := s.Final(from, to)
		if len(final) == 0 || !final[0].Start.Equal(from) || !final[len(final)-1].End.Equal(to) {
			t.Fatalf("case %d (%s %+v): final does not cover the range", i, zone, l)
		}
		for j, seg := range final {
			if len(seg.Users) == 0 {
				t.Fatalf("case %d (%s %+v): gap %+v", i, zone, l, seg)
			}
			if !seg.End.After(seg.Start) || (j > 0 && !final[j-1].End.Equal(seg.Start)) {
				t.Fatalf("case %d: segments not contiguous at %d: %+v", i, j, final)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Layer{
		{Name: "x", Unit: Daily, Every: 0, Participants: []string{"a"}},
		{Name: "x", Unit: Daily, Every: 1},
		{Name: "x", Unit: "fortnightly", Every: 1, Participants: []string{"a"}},
	}
	for _, l := range bad {
		if _, err := NewSchedule("s", time.UTC, []Layer{l}, nil); err == nil {
			t.Errorf("layer %+v accepted", l)
		}
	}
	if _, err := NewSchedule("s", time.UTC, nil, []Override{{ID: 1, Start: utc("2026-01-02 00:00"), End: utc("2026-01-01 00:00")}}); err == nil {
		t.Error("an override ending before it starts was accepted")
	}
}

// BenchmarkOnCall answers who is on call in a schedule with 5 layers and a
// year of overrides (three a day).
func BenchmarkOnCall(b *testing.B) {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	var layers []Layer
	for i := range 5 {
		l := Layer{Name: fmt.Sprint("layer", i), Unit: []Unit{Weekly, Daily, Hourly, Monthly, Daily}[i], Every: 1 + i%2,
			Start: wall("2025-01-06 09:00"), Participants: []string{"a", "b", "c", "d", "e", "f"}}
		if i >= 3 {
			l.Windows = []Window{{Days: weekdays, From: Clock{9, 0}, To: Clock{17, 0}}}
		}
		layers = append(layers, l)
	}
	var overrides []Override
	start := utc("2026-01-01 00:00")
	for d := range 365 {
		for k := range 3 {
			at := start.Add(time.Duration(d)*24*time.Hour + time.Duration(k*8)*time.Hour)
			overrides = append(overrides, Override{ID: int64(len(overrides) + 1), Kind: []OverrideKind{Replace, Add, Remove}[k],
				User: "z", Replaces: "a", Start: at, End: at.Add(6 * time.Hour)})
		}
	}
	s := newSchedule(b, "Europe/London", layers, overrides...)
	probes := make([]time.Time, 1024)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range probes {
		probes[i] = start.Add(time.Duration(rng.IntN(365*24*60)) * time.Minute)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.OnCall(probes[i%len(probes)])
		i++
	}
}
