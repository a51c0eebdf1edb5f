package oncall

import (
	"math/rand/v2"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("zone %s: %v", name, err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func wall(s string) Wall {
	w, err := ParseWall(s)
	if err != nil {
		panic(err)
	}
	return w
}

func TestResolveNamedTransitions(t *testing.T) {
	cases := []struct {
		zone, wall  string
		first, last string // UTC
	}{
		// Ordinary times.
		{"Europe/London", "2026-07-01 09:00", "2026-07-01 08:00", "2026-07-01 08:00"},
		{"America/New_York", "2026-01-15 09:00", "2026-01-15 14:00", "2026-01-15 14:00"},
		// London, spring: 01:00 GMT jumps to 02:00 BST; 01:30 never happens.
		{"Europe/London", "2026-03-29 01:30", "2026-03-29 01:00", "2026-03-29 01:00"},
		{"Europe/London", "2026-03-29 01:00", "2026-03-29 01:00", "2026-03-29 01:00"},
		// London, autumn: 01:30 happens in BST, then again in GMT.
		{"Europe/London", "2026-10-25 01:30", "2026-10-25 00:30", "2026-10-25 01:30"},
		// New York: 02:00 EST jumps to 03:00 EDT; back from 02:00 EDT to 01:00 EST.
		{"America/New_York", "2026-03-08 02:30", "2026-03-08 07:00", "2026-03-08 07:00"},
		{"America/New_York", "2026-11-01 01:30", "2026-11-01 05:30", "2026-11-01 06:30"},
		// Lord Howe moves by 30 minutes: 02:00 +10:30 becomes 02:30 +11.
		{"Australia/Lord_Howe", "2026-10-04 02:15", "2026-10-03 15:30", "2026-10-03 15:30"},
		// and back: 02:00 +11 becomes 01:30 +10:30; 01:45 happens twice.
		{"Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-04 14:45", "2026-04-04 15:15"},
		// São Paulo (2018) skipped midnight: 00:00 -03 became 01:00 -02.
		{"America/Sao_Paulo", "2018-11-04 00:00", "2018-11-04 03:00", "2018-11-04 03:00"},
		{"America/Sao_Paulo", "2018-11-04 00:30", "2018-11-04 03:00", "2018-11-04 03:00"},
	}
	for _, c := range cases {
		first, last := Resolve(wall(c.wall), mustZone(t, c.zone))
		if !first.Equal(utc(c.first)) || !last.Equal(utc(c.last)) {
			t.Errorf("%s %s = %s / %s UTC, want %s / %s", c.zone, c.wall,
				first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("2006-01-02 15:04"), c.first, c.last)
		}
	}
}

// propertyZones are zones with ordinary, odd and historic transitions.
var propertyZones = []string{
	"UTC", "Europe/London", "Europe/Berlin", "Europe/Moscow", "Europe/Dublin", "Europe/Lisbon",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix",
	"America/Havana", "America/Santiago", "America/Sao_Paulo", "America/Asuncion", "America/St_Johns",
	"America/Godthab", "America/Scoresbysund", "Asia/Tehran", "Asia/Jerusalem", "Asia/Beirut", "Asia/Gaza",
	"Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Asia/Dhaka", "Africa/Casablanca", "Africa/Cairo",
	"Australia/Sydney", "Australia/Lord_Howe", "Australia/Adelaide", "Pacific/Auckland", "Pacific/Chatham",
	"Pacific/Apia", "Pacific/Kiritimati", "Antarctica/Troll",
}

// TestResolveProperties checks, over many zones and every transition of
// 1995-2037 plus random times, that Resolve obeys its contract.
func TestResolveProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var missing, twice int
	defer func() {
		// The walk must have met both kinds of trouble, or it tested little.
		if missing < 100 || twice < 100 {
			t.Errorf("only %d missing and %d repeated wall times met", missing, twice)
		}
		t.Logf("checked transitions: %d missing and %d repeated wall times", missing, twice)
	}()
	for _, name := range propertyZones {
		loc := mustZone(t, name)
		var walls []Wall
		// Every minute around every transition, where the trouble is.
		for at := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2038; {
			_, end := at.In(loc).ZoneBounds()
			if end.IsZero() {
				break
			}
			for m := -150; m <= 150; m += 15 {
				walls = append(walls, WallOf(end.Add(time.Duration(m)*time.Minute), loc))
				// the wall times just before the jump, read in the old offset
				_, off := end.Add(-time.Minute).In(loc).Zone()
				walls = append(walls, wallFromNaive(end.UTC().Add(time.Duration(off)*time.Second+time.Duration(m)*time.Minute)))
			}
			at = end
		}
		for range 300 {
			walls = append(walls, wallFromNaive(time.Date(1995+rng.IntN(43), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), 0, 0, time.UTC)))
		}
		for _, w := range walls {
			first, last := Resolve(w, loc)
			checkResolved(t, name, loc, w, first, last)
			switch {
			case WallOf(first, loc) != w:
				missing++
			case last.After(first):
				twice++
			}
		}
	}
}

func checkResolved(t *testing.T, zone string, loc *time.Location, w Wall, first, last time.Time) {
	t.Helper()
	if last.Before(first) {
		t.Fatalf("%s %s: last %v before first %v", zone, w, last, first)
	}
	if WallOf(first, loc) == w {
		if WallOf(last, loc) != w {
			t.Fatalf("%s %s: first is right but last reads %s", zone, w, WallOf(last, loc))
		}
		if d := last.Sub(first); d > 3*time.Hour {
			t.Fatalf("%s %s: occurrences %s apart", zone, w, d)
		}
		// Nothing earlier reads w: first really is the first occurrence.
		for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour} {
			if WallOf(first.Add(-back), loc) == w {
				t.Fatalf("%s %s: an occurrence %s before first", zone, w, back)
			}
		}
		return
	}
	// A missing time: first == last, reads later than w, and one minute
	// before it the clock read earlier than w: the first instant after
	// the gap.
	if !first.Equal(last) {
		t.Fatalf("%s %s: missing time resolved to two instants", zone, w)
	}
	after, before := WallOf(first, loc).naive(), WallOf(first.Add(-time.Minute), loc).naive()
	if !after.After(w.naive()) || !before.Before(w.naive()) {
		t.Fatalf("%s %s: resolved to %v (reads %s, a minute before %s), not the first instant after a gap",
			zone, w, first, WallOf(first, loc), WallOf(first.Add(-time.Minute), loc))
	}
}
