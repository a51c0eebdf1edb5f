package oncall

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Unit is the calendar unit a rotation's shifts are counted in.
type Unit string

// Shift units. A day or a week is a calendar day or week in the
// schedule's zone (23 or 25 hours across a clock change), a month a
// calendar month.
const (
	Hourly  Unit = "hourly"
	Daily   Unit = "daily"
	Weekly  Unit = "weekly"
	Monthly Unit = "monthly"
)

// ParseUnit accepts hourly, daily, weekly and monthly.
func ParseUnit(s string) (Unit, error) {
	switch u := Unit(strings.ToLower(s)); u {
	case Hourly, Daily, Weekly, Monthly:
		return u, nil
	}
	return "", fmt.Errorf("rotation %q: want hourly, daily, weekly or monthly", s)
}

// Window is a time-of-day range on some weekdays, in the schedule's zone.
// To before From means the window runs past midnight into the next day
// (22:00-06:00); To equal to From means a whole day from From.
type Window struct {
	// Days the window starts on; empty means every day.
	Days     []time.Weekday
	From, To Clock
}

// Clock is a time of day.
type Clock struct{ Hour, Minute int }

// ParseClock reads "09:00".
func ParseClock(s string) (Clock, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return Clock{}, fmt.Errorf("%q is not a time of day like 09:00", s)
	}
	return Clock{t.Hour(), t.Minute()}, nil
}

func (c Clock) minutes() int { return c.Hour*60 + c.Minute }

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// contains reports whether local wall time w falls in the window.
func (win Window) contains(w Wall) bool {
	m := w.Hour*60 + w.Minute
	day := time.Date(w.Year, w.Month, w.Day, 0, 0, 0, 0, time.UTC).Weekday()
	from, to := win.From.minutes(), win.To.minutes()
	if from < to {
		return m >= from && m < to && win.onDay(day)
	}
	// Past midnight: the evening part belongs to today's window, the
	// morning part to yesterday's.
	return (m >= from && win.onDay(day)) || (m < to && win.onDay((day+6)%7))
}

func (win Window) onDay(d time.Weekday) bool {
	if len(win.Days) == 0 {
		return true
	}
	for _, x := range win.Days {
		if x == d {
			return true
		}
	}
	return false
}

// Layer is one rotation: participants take turns, one shift each, from a
// handoff anchor on, optionally only inside time windows.
type Layer struct {
	Name string
	Unit Unit
	// Every is the shift length in Units (12 with Hourly is a 12-hour
	// shift); at least 1.
	Every int
	// Start is the first handoff, in the schedule's zone. Nobody is on
	// call in this layer before it.
	Start        Wall
	Participants []string
	// Windows restrict the layer to business hours and the like; empty
	// means always.
	Windows []Window
	// Shifts, when not nil, are the layer's shifts as imported from a
	// calendar, sorted by start; the rotation fields are then unused.
	Shifts []Shift
}

// Shift is one participant's turn: on call from Start (inclusive) to End
// (exclusive).
type Shift struct {
	Layer string    `json:"layer,omitempty"`
	User  string    `json:"user"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// handoff returns the wall time of the k-th handoff.
func (l *Layer) handoff(k int) Wall {
	n := l.Start.naive()
	step := k * l.Every
	switch l.Unit {
	case Hourly:
		return wallFromNaive(n.Add(time.Duration(step) * time.Hour))
	case Daily:
		return wallFromNaive(n.AddDate(0, 0, step))
	case Weekly:
		return wallFromNaive(n.AddDate(0, 0, 7*step))
	default: // Monthly: the anchor's day, or the month's last day if shorter
		months := int(l.Start.Month) - 1 + step
		y := l.Start.Year + floorDiv(months, 12)
		m := time.Month(floorMod(months, 12) + 1)
		d := min(l.Start.Day, daysIn(y, m))
		return Wall{y, m, d, l.Start.Hour, l.Start.Minute}
	}
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// shift returns the k-th shift (k >= 0). A shift starts at the first
// occurrence of its handoff and ends at the last occurrence of the next.
func (l *Layer) shift(k int, loc *time.Location) Shift {
	start, _ := Resolve(l.handoff(k), loc)
	_, end := Resolve(l.handoff(k+1), loc)
	return Shift{Layer: l.Name, User: l.Participants[k%len(l.Participants)], Start: start, End: end}
}

// index estimates which shift holds t; the true one is within one of it.
func (l *Layer) index(t time.Time, loc *time.Location) int {
	w := WallOf(t, loc).naive()
	s := l.Start.naive()
	switch l.Unit {
	case Hourly:
		return floorDiv(int(w.Sub(s)/time.Hour), l.Every)
	case Daily:
		return floorDiv(int(w.Sub(s)/(24*time.Hour)), l.Every)
	case Weekly:
		return floorDiv(int(w.Sub(s)/(7*24*time.Hour)), l.Every)
	default:
		months := (w.Year()-s.Year())*12 + int(w.Month()-s.Month())
		return floorDiv(months, l.Every)
	}
}

// shiftsAt returns the shifts of the layer that hold t, ignoring windows:
// usually one, two during the overlap of a handoff at an ambiguous time,
// none before the layer starts.
func (l *Layer) shiftsAt(t time.Time, loc *time.Location) []Shift {
	if l.Shifts != nil {
		return l.importedAt(t)
	}
	if len(l.Participants) == 0 {
		return nil
	}
	k := l.index(t, loc)
	var out []Shift
	for i := k - 1; i <= k+1; i++ {
		if i < 0 {
			continue
		}
		s := l.shift(i, loc)
		if !t.Before(s.Start) && t.Before(s.End) {
			out = append(out, s)
		}
	}
	return out
}

// importedAt returns the imported shifts that hold t. Imported shifts may
// overlap (two people on call), so it looks back from the last one that
// starts by t while earlier ones may still run.
func (l *Layer) importedAt(t time.Time) []Shift {
	i := sort.Search(len(l.Shifts), func(i int) bool { return l.Shifts[i].Start.After(t) })
	var out []Shift
	for j := i - 1; j >= 0 && t.Sub(l.Shifts[j].Start) < maxImportedShift; j-- {
		if t.Before(l.Shifts[j].End) {
			out = append(out, l.Shifts[j])
		}
	}
	slices.Reverse(out)
	return out
}

// maxImportedShift bounds how far back importedAt looks for a shift still
// running: longer shifts would be missed, so imports refuse them.
const maxImportedShift = 62 * 24 * time.Hour

// inWindows reports whether the layer's windows allow t.
func (l *Layer) inWindows(t time.Time, loc *time.Location) bool {
	if len(l.Windows) == 0 {
		return true
	}
	w := WallOf(t, loc)
	for _, win := range l.Windows {
		if win.contains(w) {
			return true
		}
	}
	return false
}

// Validate checks a layer's settings.
func (l *Layer) Validate() error {
	if l.Shifts != nil {
		for _, s := range l.Shifts {
			if s.End.Sub(s.Start) > maxImportedShift {
				return fmt.Errorf("layer %q: an imported shift of %s lasts longer than %s", l.Name, s.User, maxImportedShift)
			}
		}
		return nil
	}
	if l.Every < 1 {
		return fmt.Errorf("layer %q: shift length must be at least 1 %s unit", l.Name, l.Unit)
	}
	if len(l.Participants) == 0 {
		return fmt.Errorf("layer %q: no participants", l.Name)
	}
	if _, err := ParseUnit(string(l.Unit)); err != nil {
		return fmt.Errorf("layer %q: %w", l.Name, err)
	}
	return nil
}
