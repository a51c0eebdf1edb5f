package oncall

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// OverrideKind says what an override does to the people on call.
type OverrideKind string

// Override kinds.
const (
	// Add puts User on call beside whoever else is.
	Add OverrideKind = "add"
	// Remove takes User off call.
	Remove OverrideKind = "remove"
	// Replace puts User on call instead of Replaces, or instead of
	// everyone when Replaces is empty ("take the shift").
	Replace OverrideKind = "replace"
)

// Override changes who is on call for a time range, on top of the layers.
type Override struct {
	ID       int64        `json:"id"`
	Kind     OverrideKind `json:"kind"`
	User     string       `json:"user"`
	Replaces string       `json:"replaces,omitempty"`
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
}

func (o *Override) active(t time.Time) bool { return !t.Before(o.Start) && t.Before(o.End) }

// Schedule is a set of layers in one zone plus overrides. Later layers
// are higher: at any moment the highest layer with someone on call wins.
// A Schedule is immutable once built; changing overrides makes a new one.
type Schedule struct {
	Name   string
	Zone   *time.Location
	Layers []Layer

	// overrides sorted by Start, and maxEnd[i] the latest End among the
	// first i+1 of them, so the overrides active at t are found by a
	// binary search and a short walk back.
	overrides []Override
	maxEnd    []time.Time
}

// NewSchedule checks the layers and indexes the overrides.
func NewSchedule(name string, zone *time.Location, layers []Layer, overrides []Override) (*Schedule, error) {
	if zone == nil {
		return nil, fmt.Errorf("schedule %q: no time zone", name)
	}
	for i := range layers {
		if err := layers[i].Validate(); err != nil {
			return nil, fmt.Errorf("schedule %q: %w", name, err)
		}
	}
	s := &Schedule{Name: name, Zone: zone, Layers: layers}
	s.overrides = slices.Clone(overrides)
	// Stable by creation (ID), so overlapping overrides apply in the
	// order they were made.
	sort.SliceStable(s.overrides, func(i, j int) bool { return s.overrides[i].Start.Before(s.overrides[j].Start) })
	s.maxEnd = make([]time.Time, len(s.overrides))
	for i, o := range s.overrides {
		if o.End.Before(o.Start) || o.End.Equal(o.Start) {
			return nil, fmt.Errorf("schedule %q: override %d ends before it starts", name, o.ID)
		}
		s.maxEnd[i] = o.End
		if i > 0 && s.maxEnd[i-1].After(o.End) {
			s.maxEnd[i] = s.maxEnd[i-1]
		}
	}
	return s, nil
}

// WithOverrides returns a copy of s with a different set of overrides.
func (s *Schedule) WithOverrides(overrides []Override) (*Schedule, error) {
	return NewSchedule(s.Name, s.Zone, s.Layers, overrides)
}

// Overrides returns the schedule's overrides, by start.
func (s *Schedule) Overrides() []Override { return slices.Clone(s.overrides) }

// layerOnCall returns who the layers put on call at t, and the layer.
func (s *Schedule) layerOnCall(t time.Time) []string {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		l := &s.Layers[i]
		if !l.inWindows(t, s.Zone) {
			continue
		}
		shifts := l.shiftsAt(t, s.Zone)
		if len(shifts) == 0 {
			continue
		}
		users := make([]string, 0, len(shifts))
		for _, sh := range shifts {
			if !slices.Contains(users, sh.User) {
				users = append(users, sh.User)
			}
		}
		return users
	}
	return nil
}

// activeOverrides returns the overrides in force at t, in apply order.
func (s *Schedule) activeOverrides(t time.Time) []Override {
	// Overrides starting after t are irrelevant; walk back from the last
	// one starting at or before t while some earlier one may still run.
	i := sort.Search(len(s.overrides), func(i int) bool { return s.overrides[i].Start.After(t) })
	var out []Override
	for j := i - 1; j >= 0 && s.maxEnd[j].After(t); j-- {
		if s.overrides[j].active(t) {
			out = append(out, s.overrides[j])
		}
	}
	slices.Reverse(out)
	return out
}

// OnCall returns who is on call at t, in a stable order; nil when nobody
// is (a gap).
func (s *Schedule) OnCall(t time.Time) []string {
	users := s.layerOnCall(t)
	for _, o := range s.activeOverrides(t) {
		switch o.Kind {
		case Add:
			if !slices.Contains(users, o.User) {
				users = append(users, o.User)
			}
		case Remove:
			users = slices.DeleteFunc(users, func(u string) bool { return u == o.User })
		case Replace:
			if o.Replaces == "" {
				users = []string{o.User}
				continue
			}
			if i := slices.Index(users, o.Replaces); i >= 0 {
				users[i] = o.User
				users = slices.Compact(users)
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	return users
}

// Segment is a stretch of time with the same people on call.
type Segment struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Users is empty in a gap.
	Users []string `json:"users"`
}

// Final returns the final schedule of [from, to): who is on call when,
// after layers, windows and overrides, with adjacent equal stretches
// merged. A segment with no users is a gap.
func (s *Schedule) Final(from, to time.Time) []Segment {
	if !to.After(from) {
		return nil
	}
	edges := s.edges(from, to)
	var out []Segment
	for i, at := range edges {
		end := to
		if i+1 < len(edges) {
			end = edges[i+1]
		}
		users := s.OnCall(at)
		if n := len(out); n > 0 && slices.Equal(out[n-1].Users, users) {
			out[n-1].End = end
			continue
		}
		out = append(out, Segment{Start: at, End: end, Users: users})
	}
	return out
}

// Gaps returns the stretches of [from, to) when nobody is on call.
func (s *Schedule) Gaps(from, to time.Time) []Segment {
	var out []Segment
	for _, seg := range s.Final(from, to) {
		if len(seg.Users) == 0 {
			out = append(out, seg)
		}
	}
	return out
}

// NextShifts returns user's next on-call stretches that end after from,
// up to limit of them, looking at most horizon ahead.
func (s *Schedule) NextShifts(user string, from time.Time, horizon time.Duration, limit int) []Segment {
	var out []Segment
	for _, seg := range s.Final(from, from.Add(horizon)) {
		if slices.Contains(seg.Users, user) {
			if n := len(out); n > 0 && out[n-1].End.Equal(seg.Start) {
				out[n-1].End = seg.End // a change of company is not a new shift
				continue
			}
			out = append(out, Segment{Start: seg.Start, End: seg.End, Users: []string{user}})
			if len(out) == limit {
				break
			}
		}
	}
	return out
}

// Handoffs returns the moments in [from, from+horizon) when the people on
// call change, with who comes on, up to limit.
func (s *Schedule) Handoffs(from time.Time, horizon time.Duration, limit int) []Segment {
	final := s.Final(from, from.Add(horizon))
	if len(final) > 0 {
		final = final[1:] // the first is what is on now, not a handoff
	}
	if len(final) > limit {
		final = final[:limit]
	}
	return final
}

// edges lists every instant in [from, to) at which the people on call may
// change: shift handoffs, window edges and override bounds, plus from.
func (s *Schedule) edges(from, to time.Time) []time.Time {
	set := map[time.Time]bool{from.UTC(): true}
	add := func(t time.Time) {
		if t.After(from) && t.Before(to) {
			set[t.UTC()] = true
		}
	}
	for li := range s.Layers {
		l := &s.Layers[li]
		if l.Shifts != nil {
			for _, sh := range l.Shifts {
				add(sh.Start)
				add(sh.End)
			}
		} else if len(l.Participants) == 0 {
			continue
		}
		for k := max(l.index(from, s.Zone)-1, 0); l.Shifts == nil; k++ {
			sh := l.shift(k, s.Zone)
			if !sh.Start.Before(to) {
				break
			}
			add(sh.Start)
			add(sh.End)
		}
		if len(l.Windows) == 0 {
			continue
		}
		// Window edges day by day, each at every instant its wall time
		// resolves to (both occurrences when clocks go back).
		day := WallOf(from, s.Zone).naive().AddDate(0, 0, -1)
		last := WallOf(to, s.Zone).naive().AddDate(0, 0, 1)
		for ; !day.After(last); day = day.AddDate(0, 0, 1) {
			for _, win := range l.Windows {
				for _, c := range [...]Clock{win.From, win.To} {
					f, la := Resolve(Wall{day.Year(), day.Month(), day.Day(), c.Hour, c.Minute}, s.Zone)
					add(f)
					add(la)
				}
			}
		}
	}
	for _, o := range s.overrides {
		add(o.Start)
		add(o.End)
	}
	out := make([]time.Time, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}
