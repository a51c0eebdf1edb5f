package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// Source is what reports read: the database and who is on call.
type Source struct {
	DB     *sql.DB
	OnCall *oncall.Service
	Config *config.Config
	// Now tells the time for the carry-over (what is open now); nil is
	// the wall clock.
	Now func() time.Time
}

func (s Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ErrBadRange is a range that is not one: unknown team, reversed, a week
// that does not exist.
var ErrBadRange = errors.New("bad report range")

// rangeError is an ErrBadRange that says only what is wrong, for the
// person who asked.
type rangeError struct{ msg string }

func (e rangeError) Error() string        { return e.msg }
func (e rangeError) Is(target error) bool { return target == ErrBadRange }

func badRange(format string, a ...any) error { return rangeError{fmt.Sprintf(format, a...)} }

// team returns the team named, or ErrBadRange naming the ones there are.
func (s Source) team(name string) (config.Team, error) {
	var names []string
	for _, t := range s.Config.Teams {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return config.Team{}, badRange("there is no team %q (teams: %s)", name, strings.Join(names, ", "))
}

// zone is the team's schedule's zone, UTC without one.
func (s Source) zone(t config.Team) *time.Location {
	if sc, ok := s.OnCall.Schedule(t.Schedule); ok && sc.Zone != nil {
		return sc.Zone
	}
	return time.UTC
}

// LastWeek is the team's last full on-call week before now: handoff to
// handoff of its schedule (the latest handoff at or before now, and the
// same wall-clock time a week earlier), or, without a schedule, the last
// ISO week (Monday 00:00 to Monday 00:00) in UTC.
func (s Source) LastWeek(team string, now time.Time) (Range, error) {
	t, err := s.team(team)
	if err != nil {
		return Range{}, err
	}
	sc, ok := s.OnCall.Schedule(t.Schedule)
	if !ok {
		_, end := isoWeekAt(now.AddDate(0, 0, -7), time.UTC)
		return Range{From: end.AddDate(0, 0, -7), To: end}, nil
	}
	// The latest handoff at or before now: where the segment holding now
	// begins, walking back over gaps.
	var last time.Time
	for _, seg := range sc.Final(now.Add(-8*24*time.Hour), now.Add(time.Second)) {
		if !seg.Start.After(now) && len(seg.Users) > 0 {
			last = seg.Start
		}
	}
	if last.IsZero() {
		last = now
	}
	l := last.In(sc.Zone)
	from := time.Date(l.Year(), l.Month(), l.Day()-7, l.Hour(), l.Minute(), 0, 0, sc.Zone)
	return Range{From: from, To: last}, nil
}

var isoWeek = regexp.MustCompile(`^(\d{4})-W(\d{2})$`)

// ParseRange reads a range as people write it, in the team's zone: "last"
// (the last full on-call week), "this" (from the last handoff to now), an
// ISO week "2026-W48", or two dates "2026-11-23 2026-11-30" (to exclusive).
func (s Source) ParseRange(team string, args []string, now time.Time) (Range, error) {
	t, err := s.team(team)
	if err != nil {
		return Range{}, err
	}
	loc := s.zone(t)
	switch {
	case len(args) == 0 || len(args) == 1 && args[0] == "last":
		return s.LastWeek(team, now)
	case len(args) == 1 && args[0] == "this":
		last, err := s.LastWeek(team, now)
		if err != nil {
			return Range{}, err
		}
		return Range{From: last.To, To: now}, nil
	case len(args) == 1 && isoWeek.MatchString(args[0]):
		m := isoWeek.FindStringSubmatch(args[0])
		year, _ := strconv.Atoi(m[1])
		week, _ := strconv.Atoi(m[2])
		from, ok := isoWeekStart(year, week, loc)
		if !ok {
			return Range{}, badRange("%s does not exist: %d has weeks 01 to %02d", args[0], year, weeksIn(year))
		}
		return Range{From: from, To: from.AddDate(0, 0, 7)}, nil
	case len(args) == 2:
		from, err1 := time.ParseInLocation("2006-01-02", args[0], loc)
		to, err2 := time.ParseInLocation("2006-01-02", args[1], loc)
		if err1 != nil || err2 != nil {
			return Range{}, badRange("dates are written 2026-11-23; got %q and %q", args[0], args[1])
		}
		if !to.After(from) {
			return Range{}, badRange("%s is not after %s: give the earlier date first", args[1], args[0])
		}
		if to.Sub(from) > 366*24*time.Hour {
			return Range{}, badRange("a report covers at most a year")
		}
		return Range{From: from, To: to}, nil
	}
	return Range{}, badRange("give last, this, a week like 2026-W48, or two dates like 2026-11-23 2026-11-30")
}

// isoWeekStart is Monday 00:00 of ISO week w of year in loc.
func isoWeekStart(year, w int, loc *time.Location) (time.Time, bool) {
	if w < 1 || w > weeksIn(year) {
		return time.Time{}, false
	}
	// January 4th is always in week 1.
	jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, 7*(w-1)), true
}

// weeksIn is how many ISO weeks year has (52 or 53).
func weeksIn(year int) int {
	_, w := time.Date(year, 12, 28, 12, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// isoWeekAt is the ISO week holding t, as [Monday, next Monday) in loc.
func isoWeekAt(t time.Time, loc *time.Location) (time.Time, time.Time) {
	l := t.In(loc)
	monday := time.Date(l.Year(), l.Month(), l.Day()-((int(l.Weekday())+6)%7), 0, 0, 0, 0, loc)
	return monday, monday.AddDate(0, 0, 7)
}

// Input reads what Compute needs for team over r. previous, when set, is
// the categories of the range before (see Input.Previous).
func (s Source) Input(ctx context.Context, team string, r Range, previous map[string]int) (Input, error) {
	t, err := s.team(team)
	if err != nil {
		return Input{}, err
	}
	// Pages of the week before's incidents can fall in the range.
	hist, err := incident.Histories(ctx, s.DB, team, r.From.AddDate(0, 0, -7), r.To)
	if err != nil {
		return Input{}, err
	}
	var inRange []incident.History
	ids := make([]int64, 0, len(hist))
	for _, h := range hist {
		ids = append(ids, h.ID)
		if r.Contains(h.CreatedAt) {
			inRange = append(inRange, h)
		}
	}
	sent, err := oncall.SentFor(ctx, s.DB, ids)
	if err != nil {
		return Input{}, err
	}
	in := Input{Team: team, Range: r, Incidents: inRange, Sent: sent, Zones: map[string]*time.Location{}, Zone: s.zone(t),
		Covered: map[string]time.Duration{}, Previous: previous}
	for _, p := range s.Config.People {
		if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
			in.Zones[p.Name] = loc
		}
	}
	if sc, ok := s.OnCall.Schedule(t.Schedule); ok {
		in.OnCall = sc.Final(r.From, r.To)
		for _, o := range sc.Overrides() {
			if o.Kind == oncall.Remove {
				continue
			}
			from, to := o.Start, o.End
			if from.Before(r.From) {
				from = r.From
			}
			if to.After(r.To) {
				to = r.To
			}
			if to.After(from) {
				in.Covered[o.User] += to.Sub(from)
			}
		}
	}
	return in, nil
}

// Handoff is the weekly handoff report: the range's measures, the range
// before's, the four ranges before this one for the trend, and what the
// person coming on call inherits and faces.
type Handoff struct {
	Report
	Previous  Report    `json:"previous"`
	Trend     []Summary `json:"trend"`
	CarryOver CarryOver `json:"carry_over"`
	NextWeek  NextWeek  `json:"next_week"`
}

// CarryOver is what is still open at the range's end.
type CarryOver struct {
	// Open are the team's incidents not resolved, by status.
	Triggered    []Pending `json:"triggered"`
	Acknowledged []Pending `json:"acknowledged"`
	// AckedForDays are acknowledged a day or more and still open.
	AckedForDays []Pending `json:"acked_for_days"`
}

// Pending is an open incident in the carry-over.
type Pending struct {
	ID    int64     `json:"id"`
	Title string    `json:"title"`
	Since time.Time `json:"since"`
}

// NextWeek is the week after the range: its handoffs, gaps and
// daylight-saving changes in the team's zone.
type NextWeek struct {
	Handoffs  []oncall.Segment `json:"handoffs"`
	Gaps      []oncall.Segment `json:"gaps"`
	DSTChange []time.Time      `json:"dst_changes"`
}

// carryOver reads what is open now, and the week after r.
func (s Source) carryOver(ctx context.Context, t config.Team, r Range, now time.Time) (CarryOver, NextWeek, error) {
	var c CarryOver
	open, err := incident.OpenOf(ctx, s.DB, t.Name)
	if err != nil {
		return c, NextWeek{}, err
	}
	for _, h := range open {
		p := Pending{ID: h.ID, Title: h.Title, Since: h.CreatedAt}
		switch {
		case h.Status == incident.StatusTriggered:
			c.Triggered = append(c.Triggered, p)
		case h.AcknowledgedAt != nil && now.Sub(*h.AcknowledgedAt) >= 24*time.Hour:
			p.Since = *h.AcknowledgedAt
			c.AckedForDays = append(c.AckedForDays, p)
		default:
			c.Acknowledged = append(c.Acknowledged, p)
		}
	}
	var n NextWeek
	end := r.To.Add(7 * 24 * time.Hour)
	if sc, ok := s.OnCall.Schedule(t.Schedule); ok {
		n.Handoffs = sc.Handoffs(r.To, 7*24*time.Hour, 20)
		n.Gaps = sc.Gaps(r.To, end)
	}
	loc := s.zone(t)
	_, off := r.To.In(loc).Zone()
	for h := r.To.Truncate(time.Hour); h.Before(end); h = h.Add(time.Hour) {
		if _, o := h.In(loc).Zone(); o != off {
			n.DSTChange = append(n.DSTChange, h)
			off = o
		}
	}
	return c, n, nil
}

// Summary is the figures of a trend point.
type Summary struct {
	Range         Range   `json:"range"`
	Incidents     int     `json:"incidents"`
	Interruptions int     `json:"interruptions"`
	SleepPages    int     `json:"sleep_interruptions"`
	MedianAck     float64 `json:"median_time_to_ack_seconds"`
	NoHumanShare  float64 `json:"resolved_without_a_person_share"`
}

func summary(r Report) Summary {
	s := Summary{Range: r.Range, Incidents: r.Response.Incidents, MedianAck: r.Response.TimeToAck.Median, NoHumanShare: r.Noise.NoHumanShare}
	for _, p := range r.People {
		for _, n := range p.Interruptions {
			s.Interruptions += n
		}
		s.SleepPages += p.Interruptions[Sleep]
	}
	return s
}

// Weekly computes the handoff report of team over r: r, the range of the
// same length before it, and a 4-point trend ending with r.
func (s Source) Weekly(ctx context.Context, team string, r Range) (Handoff, error) {
	t, err := s.team(team)
	if err != nil {
		return Handoff{}, err
	}
	back := stepBack(r, s.zone(t))
	ranges := make([]Range, 5) // ranges[4] is r
	ranges[4] = r
	for i := 3; i >= 0; i-- {
		next := ranges[i+1]
		ranges[i] = Range{From: back(next.From), To: next.From}
	}
	var reports [5]Report
	var prevCats map[string]int
	for i, rg := range ranges {
		in, err := s.Input(ctx, team, rg, prevCats)
		if err != nil {
			return Handoff{}, err
		}
		reports[i] = Compute(in)
		prevCats = map[string]int{}
		for _, c := range reports[i].Noise.Categories {
			prevCats[c.Name] = c.Incidents
		}
	}
	h := Handoff{Report: reports[4], Previous: reports[3]}
	for _, rp := range reports[1:] {
		h.Trend = append(h.Trend, summary(rp))
	}
	if h.CarryOver, h.NextWeek, err = s.carryOver(ctx, t, r, s.now()); err != nil {
		return Handoff{}, err
	}
	return h, nil
}

// stepBack returns how to find the start of the range before one that
// starts at t: by whole local days when r spans whole local days in loc
// (the week before a DST change starts at the same local time, though it
// is an hour longer or shorter), by r's length otherwise.
func stepBack(r Range, loc *time.Location) func(time.Time) time.Time {
	days := int(math.Round(r.To.Sub(r.From).Hours() / 24))
	if days > 0 && r.To.In(loc).AddDate(0, 0, -days).Equal(r.From) {
		return func(t time.Time) time.Time { return t.In(loc).AddDate(0, 0, -days) }
	}
	length := r.To.Sub(r.From)
	return func(t time.Time) time.Time { return t.Add(-length) }
}
