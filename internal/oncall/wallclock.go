// Package oncall answers who is on call: schedules made of rotation layers
// in an IANA zone, time restrictions, and overrides on top. Schedules are
// wall-clock rules, not durations: a 09:00 handoff stays at 09:00 local
// time across daylight-saving changes.
package oncall

import (
	"fmt"
	"time"
)

// Wall is a local date and time without a zone: what a person means by
// "Monday 09:00".
type Wall struct {
	Year   int
	Month  time.Month
	Day    int
	Hour   int
	Minute int
}

// WallOf returns the wall clock of t in loc.
func WallOf(t time.Time, loc *time.Location) Wall {
	t = t.In(loc)
	return Wall{t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()}
}

// naive is the wall clock read as if it were UTC: a number that orders and
// subtracts like local time, free of offsets.
func (w Wall) naive() time.Time {
	return time.Date(w.Year, w.Month, w.Day, w.Hour, w.Minute, 0, 0, time.UTC)
}

func wallFromNaive(n time.Time) Wall {
	return Wall{n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute()}
}

func (w Wall) String() string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d", w.Year, w.Month, w.Day, w.Hour, w.Minute)
}

// ParseWall reads "2006-01-02 15:04" (or "2006-01-02T15:04").
func ParseWall(s string) (Wall, error) {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return wallFromNaive(t), nil
		}
	}
	return Wall{}, fmt.Errorf("%q is not a local date and time like 2026-01-05 09:00", s)
}

// Resolve turns a wall-clock time in loc into instants. Usually first and
// last are the same instant. When clocks go back the time happens twice:
// first is the earlier occurrence and last the later one, so a shift that
// starts at first and one that ends at last overlap rather than leave a
// gap. When clocks go forward over it the time never happens: both are the
// first instant after the gap.
func Resolve(w Wall, loc *time.Location) (first, last time.Time) {
	n := w.naive()
	// The offsets in force around the wall time; a transition between
	// them is what makes a time ambiguous or missing.
	var offsets []int
	for _, h := range []time.Duration{-36, -12, 0, 12, 36} {
		_, off := n.Add(h * time.Hour).In(loc).Zone()
		if !containsInt(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	minOff := offsets[0]
	for _, off := range offsets {
		minOff = min(minOff, off)
		inst := n.Add(-time.Duration(off) * time.Second)
		if WallOf(inst, loc) != w || inst.In(loc).Second() != 0 {
			continue
		}
		if first.IsZero() || inst.Before(first) {
			first = inst
		}
		if last.IsZero() || inst.After(last) {
			last = inst
		}
	}
	if !first.IsZero() {
		return first, last
	}
	// Missing: clocks jumped forward from the smaller offset. Read with
	// that offset, the wall time lands just after the jump, in the zone
	// period that the jump began.
	after := n.Add(-time.Duration(minOff) * time.Second).In(loc)
	start, _ := after.ZoneBounds()
	if start.IsZero() || start.After(after) {
		start = after
	}
	return start.UTC(), start.UTC()
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
