// Package report is the weekly handoff report: what a range of time cost a
// team and each responder, and which alerts to fix. Every measure is
// defined here, once, from the incidents' course (incident.History), the
// notifications sent (oncall.Sent) and who was on call when; the chat
// card, the console, the API and `bot report` all show this package's
// numbers. See docs/adr/0004-handoff-report.md.
package report

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// Range is [From, To).
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t is in the range.
func (r Range) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// Input is what a report is computed from.
type Input struct {
	Team  string
	Range Range
	// Incidents are the team's incidents created in the range.
	Incidents []incident.History
	// Sent are the notifications of the team's incidents (those created
	// in the range and in the week before, whose pages may fall in it).
	Sent []oncall.Sent
	// Zones are the responders' time zones; a person without one is
	// counted in UTC.
	Zones map[string]*time.Location
	// Zone is the team's (its schedule's), for the days of the range.
	Zone *time.Location
	// OnCall are who was on call when, over the range: the schedule's
	// final shifts, overrides and swaps applied.
	OnCall []oncall.Segment
	// Covered is each person's time on call by overrides and swaps in the
	// range.
	Covered map[string]time.Duration
	// Categories map alert summaries to categories before the default
	// (digits, hex ids and UUIDs stripped); the first rule that matches
	// wins.
	Categories []CategoryRule
	// Previous are the categories of the range before, for new ones and
	// trends.
	Previous map[string]int
}

// CategoryRule names the category of summaries its pattern matches.
type CategoryRule struct {
	Pattern  *regexp.Regexp
	Category string
}

// Report is one range's measures.
type Report struct {
	Team string `json:"team"`
	// Zone is the team's time zone, which the documents show times in.
	Zone     string       `json:"time_zone"`
	Range    Range        `json:"range"`
	Response Response     `json:"response"`
	People   []PersonCost `json:"people"`
	Noise    Noise        `json:"noise"`
	Paging   Paging       `json:"paging"`
	// Days are the range's days in the team's zone, each with its
	// interruptions by bucket (each in its responder's own zone).
	Days []Day `json:"days"`
}

// Day is one day's interruptions.
type Day struct {
	Date     string `json:"date"`
	Business int    `json:"business"`
	Off      int    `json:"off"`
	Sleep    int    `json:"sleep"`
}

// Durations summarizes a set of durations, in whole seconds.
type Durations struct {
	Count  int     `json:"count"`
	Mean   float64 `json:"mean_seconds"`
	Median float64 `json:"median_seconds"`
	P95    float64 `json:"p95_seconds"`
}

func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Durations{Count: len(ds), Mean: math.Round((sum / time.Duration(len(ds))).Seconds()),
		Median: quantile(ds, 0.5).Seconds(), P95: quantile(ds, 0.95).Seconds()}
}

// quantile is the nearest-rank quantile of sorted ds (the smallest value
// at or above q of them), as PagerDuty's analytics report percentiles.
func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))].Round(time.Second)
}

// Response is how the team answered.
type Response struct {
	Incidents int `json:"incidents"`
	// TimeToAck is from an incident's opening to its first
	// acknowledgement; TimeToResolve to its (last) resolution.
	TimeToAck     Durations `json:"time_to_ack"`
	TimeToResolve Durations `json:"time_to_resolve"`
	// AckedShare is the share of incidents someone acknowledged.
	AckedShare float64 `json:"acked_share"`
	// AutoResolved resolved by their alerts before anyone acknowledged.
	AutoResolved int `json:"auto_resolved_before_ack"`
	// Escalated reached a step past the first: by a step's timeout, or
	// because someone asked.
	EscalatedTimeout int `json:"escalated_by_timeout"`
	EscalatedManual  int `json:"escalated_by_hand"`
	// Reassigned were assigned to someone at least once.
	Reassigned int `json:"reassigned"`
	// SnoozedSeconds is the time incidents spent snoozed.
	SnoozedSeconds float64 `json:"snoozed_seconds"`
	// Reopened is how many reopenings there were.
	Reopened int `json:"reopened"`
}

// Bucket is when an interruption fell, in the responder's own zone.
type Bucket string

// The buckets: business hours (Monday to Friday 08:00-18:00), sleep hours
// (22:00-08:00, every day) and the rest.
const (
	Business Bucket = "business"
	Off      Bucket = "off"
	Sleep    Bucket = "sleep"
)

// BucketOf says when t fell for someone in loc.
func BucketOf(t time.Time, loc *time.Location) Bucket {
	l := t.In(loc)
	h := l.Hour()
	switch {
	case h >= 22 || h < 8:
		return Sleep
	case l.Weekday() != time.Saturday && l.Weekday() != time.Sunday && h < 18:
		return Business
	}
	return Off
}

// interruptionWindow merges pages to one person: pages within it of the
// first count as one interruption (a storm's pages are one wake-up).
const interruptionWindow = 60 * time.Second

// PersonCost is what the range cost one responder.
type PersonCost struct {
	Person string `json:"person"`
	Zone   string `json:"time_zone"`
	// Interruptions are pages to the person, those within 60 s of the
	// first of a run counted once, by bucket.
	Interruptions map[Bucket]int `json:"interruptions"`
	// Nights is how many nights (22:00 to 08:00, named by their evening)
	// had a sleep-hour interruption.
	Nights int `json:"nights_disrupted"`
	// Hours is how many distinct local clock hours had an interruption.
	Hours int `json:"hours_disrupted"`
	// WeekendOnCallHours is time on call on Saturdays and Sundays, local.
	WeekendOnCallHours float64 `json:"weekend_on_call_hours"`
	// CoveredHours is time on call by overrides and swaps.
	CoveredHours float64 `json:"covered_hours"`
}

// Noise is what the alerts were worth.
type Noise struct {
	Alerts    int `json:"alerts"`
	Incidents int `json:"incidents"`
	// DedupRatio is alerts per incident.
	DedupRatio float64    `json:"dedup_ratio"`
	Categories []Category `json:"categories"`
	// Flapping incidents resolved and fired again 3 or more times.
	Flapping int `json:"flapping"`
	// NoHumanShare is the share resolved with no person acting.
	NoHumanShare float64 `json:"resolved_without_a_person_share"`
	// Tags count the responders' labels (each incident's latest), and
	// Untagged lists the resolved incidents nobody labelled.
	Tags     map[string]int `json:"tags"`
	Untagged []int64        `json:"untagged"`
}

// Category is one kind of alert's cost.
type Category struct {
	Name       string `json:"name"`
	Incidents  int    `json:"incidents"`
	SleepPages int    `json:"sleep_pages"`
	// Previous is the count in the range before; New says it had none.
	Previous int  `json:"previous"`
	New      bool `json:"new"`
	// IncidentIDs are its incidents, for drilling down.
	IncidentIDs []int64 `json:"incident_ids"`
}

// Paging is how the pages went, by contact method.
type Paging struct {
	Methods []MethodHealth `json:"methods"`
}

// MethodHealth is one contact method's pages.
type MethodHealth struct {
	Method        string `json:"method"`
	Sent          int    `json:"sent"`
	Failed        int    `json:"failed"`
	Undeliverable int    `json:"undeliverable"`
	// Fallbacks are pages by this method sent after another method had
	// already paged the person for the same incident (the rule moved on).
	Fallbacks int `json:"fallbacks"`
	// PageToAck is from the method's first page of an incident to that
	// incident's first acknowledgement.
	PageToAck Durations `json:"page_to_ack"`
}

var (
	uuidRe  = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	hexRe   = regexp.MustCompile(`(?i)\b(0x)?[0-9a-f]{6,}\b`)
	digitRe = regexp.MustCompile(`[0-9]+`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// CategoryOf is a summary's category: the first rule that matches, else
// the summary with UUIDs, hex ids (6 or more hex digits mixing letters
// and digits) and digit runs each replaced by "#", so "disk full on db-03"
// and "disk full on db-11" are one category.
func CategoryOf(summary string, rules []CategoryRule) string {
	for _, r := range rules {
		if r.Pattern.MatchString(summary) {
			return r.Category
		}
	}
	s := uuidRe.ReplaceAllString(summary, "#")
	s = hexRe.ReplaceAllStringFunc(s, func(m string) string {
		// An id mixes digits and letters; "facade" and "deadbeef" are
		// words, and plain numbers are the digit runs' below.
		h := strings.TrimPrefix(strings.ToLower(m), "0x")
		if strings.ContainsAny(h, "0123456789") && strings.ContainsAny(h, "abcdef") {
			return "#"
		}
		return m
	})
	s = digitRe.ReplaceAllString(s, "#")
	return strings.TrimSpace(spaceRe.ReplaceAllString(s, " "))
}

// Compute computes the report of in.
func Compute(in Input) Report {
	r := Report{Team: in.Team, Range: in.Range, Zone: "UTC"}
	if in.Zone != nil {
		r.Zone = in.Zone.String()
	}
	firstAck := map[int64]time.Time{}
	var tta, ttr []time.Duration
	resolved, noHuman := 0, 0
	for _, h := range in.Incidents {
		r.Response.Incidents++
		c := courseOf(h)
		if !c.firstAck.IsZero() {
			firstAck[h.ID] = c.firstAck
			tta = append(tta, c.firstAck.Sub(h.CreatedAt))
			r.Response.AckedShare++
		}
		if h.Status == incident.StatusResolved && !c.lastResolve.IsZero() {
			resolved++
			ttr = append(ttr, c.lastResolve.Sub(h.CreatedAt))
			if c.firstAck.IsZero() && !incident.HumanActor(h.ResolvedBy) {
				r.Response.AutoResolved++
			}
			if !c.humanActed {
				noHuman++
			}
		}
		switch {
		case c.escalated && c.manual:
			r.Response.EscalatedManual++
		case c.escalated:
			r.Response.EscalatedTimeout++
		}
		if c.assigned {
			r.Response.Reassigned++
		}
		r.Response.Reopened += c.reopened
		if c.reopened >= 3 {
			r.Noise.Flapping++
		}
		r.Response.SnoozedSeconds += c.snoozed(in.Range.To).Seconds()
	}
	r.Response.TimeToAck = summarize(tta)
	r.Response.TimeToResolve = summarize(ttr)
	if n := r.Response.Incidents; n > 0 {
		r.Response.AckedShare = round3(r.Response.AckedShare / float64(n))
	}
	r.Response.SnoozedSeconds = math.Round(r.Response.SnoozedSeconds)

	r.People, r.Days = people(in)
	r.Noise = noise(in, r.Noise.Flapping, resolved, noHuman)
	r.Paging = paging(in, firstAck)
	return r
}

// course is what an incident's timeline says of it.
type course struct {
	firstAck, lastResolve time.Time
	humanActed            bool
	escalated, manual     bool
	assigned              bool
	reopened              int
	// snoozes are each snooze's start and planned end; resolves, when
	// the incident was resolved, which cut a snooze short.
	snoozes  [][2]time.Time
	resolves []time.Time
}

func courseOf(h incident.History) course {
	var c course
	for _, e := range h.Events {
		if incident.HumanActor(e.Actor) {
			c.humanActed = true
		}
		switch e.Kind {
		case incident.KindAcknowledged, incident.KindSnoozed:
			if c.firstAck.IsZero() {
				c.firstAck = e.At // a snooze acknowledges too
			}
			if e.Kind == incident.KindSnoozed {
				if until, err := time.Parse(time.RFC3339, strings.TrimPrefix(e.Detail, "until ")); err == nil {
					c.snoozes = append(c.snoozes, [2]time.Time{e.At, until})
				}
			}
		case incident.KindResolved:
			c.lastResolve = e.At
			c.resolves = append(c.resolves, e.At)
		case incident.KindReopened:
			c.reopened++
		case incident.KindAssigned:
			c.assigned = true
		case "escalation.manual":
			c.manual = true
		case "escalation.step":
			if n, ok := stepNumber(e.Detail); ok && n >= 2 {
				c.escalated = true
			}
		}
	}
	return c
}

// snoozed is the time the incident spent snoozed up to end: each snooze
// until its end, the incident's next resolution or end, whichever came
// first.
func (c course) snoozed(end time.Time) time.Duration {
	var total time.Duration
	for _, s := range c.snoozes {
		stop := s[1]
		if end.Before(stop) {
			stop = end
		}
		for _, r := range c.resolves {
			if r.After(s[0]) && r.Before(stop) {
				stop = r
				break
			}
		}
		if stop.After(s[0]) {
			total += stop.Sub(s[0])
		}
	}
	return total
}

// stepNumber reads N of an escalation step's "step N/M..." label.
func stepNumber(detail string) (int, bool) {
	rest, ok := strings.CutPrefix(detail, "step ")
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, "/")
	v, err := strconv.Atoi(n)
	return v, err == nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// interruptions merges a person's pages, oldest first, into
// interruptions: the first page of each run within interruptionWindow.
func interruptions(pages []time.Time) []time.Time {
	slices.SortFunc(pages, func(a, b time.Time) int { return a.Compare(b) })
	var out []time.Time
	for _, p := range pages {
		if len(out) > 0 && p.Sub(out[len(out)-1]) < interruptionWindow {
			continue
		}
		out = append(out, p)
	}
	return out
}

func zoneOf(in Input, person string) *time.Location {
	if loc := in.Zones[person]; loc != nil {
		return loc
	}
	return time.UTC
}

func people(in Input) ([]PersonCost, []Day) {
	teamZone := in.Zone
	if teamZone == nil {
		teamZone = time.UTC
	}
	var days []Day
	dayIndex := map[string]int{}
	for d := in.Range.From.In(teamZone); d.Before(in.Range.To); {
		date := d.Format("2006-01-02")
		dayIndex[date] = len(days)
		days = append(days, Day{Date: date})
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, teamZone)
	}
	pages := map[string][]time.Time{}
	names := map[string]bool{}
	for _, s := range in.Sent {
		if s.Paged() && in.Range.Contains(s.At) {
			pages[s.Person] = append(pages[s.Person], s.At)
			names[s.Person] = true
		}
	}
	weekend := map[string]time.Duration{}
	for _, seg := range in.OnCall {
		for _, u := range seg.Users {
			names[u] = true
			weekend[u] += weekendTime(seg.Start, seg.End, in.Range, zoneOf(in, u))
		}
	}
	for p := range in.Covered {
		names[p] = true
	}
	var out []PersonCost
	for name := range names {
		loc := zoneOf(in, name)
		pc := PersonCost{Person: name, Zone: loc.String(), Interruptions: map[Bucket]int{Business: 0, Off: 0, Sleep: 0}}
		nights, hours := map[string]bool{}, map[string]bool{}
		for _, t := range interruptions(pages[name]) {
			b := BucketOf(t, loc)
			pc.Interruptions[b]++
			if i, ok := dayIndex[t.In(teamZone).Format("2006-01-02")]; ok {
				switch b {
				case Business:
					days[i].Business++
				case Off:
					days[i].Off++
				case Sleep:
					days[i].Sleep++
				}
			}
			l := t.In(loc)
			hours[l.Format("2006-01-02T15")] = true
			if b == Sleep {
				evening := l
				if l.Hour() < 8 {
					evening = l.AddDate(0, 0, -1)
				}
				nights[evening.Format("2006-01-02")] = true
			}
		}
		pc.Nights, pc.Hours = len(nights), len(hours)
		pc.WeekendOnCallHours = round3(weekend[name].Hours())
		pc.CoveredHours = round3(in.Covered[name].Hours())
		out = append(out, pc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Person < out[j].Person })
	return out, days
}

// weekendTime is how much of [start, end), within r, falls on a Saturday
// or Sunday in loc: elapsed time, so a day that clocks change on counts
// its 23 or 25 hours.
func weekendTime(start, end time.Time, r Range, loc *time.Location) time.Duration {
	if start.Before(r.From) {
		start = r.From
	}
	if end.After(r.To) {
		end = r.To
	}
	var total time.Duration
	for t := start; t.Before(end); {
		l := t.In(loc)
		next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
		if next.After(end) {
			next = end
		}
		if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
			total += next.Sub(t)
		}
		t = next
	}
	return total
}

func noise(in Input, flapping, resolved, noHuman int) Noise {
	n := Noise{Incidents: len(in.Incidents), Flapping: flapping}
	sleepPages := map[int64]int{}
	for _, s := range in.Sent {
		if s.Paged() && in.Range.Contains(s.At) && BucketOf(s.At, zoneOf(in, s.Person)) == Sleep {
			sleepPages[s.Incident]++
		}
	}
	cats := map[string]*Category{}
	n.Tags, n.Untagged = map[string]int{}, []int64{}
	for _, h := range in.Incidents {
		tag := ""
		for _, e := range h.Events {
			if e.Kind == incident.KindTagged {
				tag = e.Detail
			}
		}
		switch {
		case tag != "":
			n.Tags[tag]++
		case h.Status == incident.StatusResolved:
			n.Untagged = append(n.Untagged, h.ID)
		}
		n.Alerts += h.AlertCount
		name := CategoryOf(h.Title, in.Categories)
		c := cats[name]
		if c == nil {
			c = &Category{Name: name}
			cats[name] = c
		}
		c.Incidents++
		c.SleepPages += sleepPages[h.ID]
		c.IncidentIDs = append(c.IncidentIDs, h.ID)
	}
	for name, c := range cats {
		c.Previous = in.Previous[name]
		c.New = in.Previous != nil && c.Previous == 0
		n.Categories = append(n.Categories, *c)
	}
	slices.SortFunc(n.Categories, func(a, b Category) int {
		return cmp.Or(cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(b.SleepPages, a.SleepPages), cmp.Compare(a.Name, b.Name))
	})
	if n.Incidents > 0 {
		n.DedupRatio = round3(float64(n.Alerts) / float64(n.Incidents))
	}
	if resolved > 0 {
		n.NoHumanShare = round3(float64(noHuman) / float64(resolved))
	}
	return n
}

func paging(in Input, firstAck map[int64]time.Time) Paging {
	byMethod := map[string]*MethodHealth{}
	toAck := map[string][]time.Duration{}
	firstOf := map[[2]string]bool{}    // (incident, method) seen
	pagedBefore := map[string]string{} // incident/person -> first method that paged
	for _, s := range in.Sent {
		if !in.Range.Contains(s.At) {
			continue
		}
		m := byMethod[s.Method]
		if m == nil {
			m = &MethodHealth{Method: s.Method}
			byMethod[s.Method] = m
		}
		switch s.State {
		case "sent", "delivered":
			m.Sent++
		case "failed":
			m.Failed++
		case "undeliverable":
			m.Undeliverable++
		}
		if !s.Paged() {
			continue
		}
		who := strconv.FormatInt(s.Incident, 10) + "/" + s.Person
		if first, ok := pagedBefore[who]; ok && first != s.Method {
			m.Fallbacks++
		} else if !ok {
			pagedBefore[who] = s.Method
		}
		key := [2]string{strconv.FormatInt(s.Incident, 10), s.Method}
		if ack, ok := firstAck[s.Incident]; ok && !firstOf[key] && !ack.Before(s.At) {
			toAck[s.Method] = append(toAck[s.Method], ack.Sub(s.At))
		}
		firstOf[key] = true
	}
	var p Paging
	for name, m := range byMethod {
		m.PageToAck = summarize(toAck[name])
		p.Methods = append(p.Methods, *m)
	}
	slices.SortFunc(p.Methods, func(a, b MethodHealth) int { return cmp.Compare(a.Method, b.Method) })
	return p
}
