package oncall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/oncallbot/bot/internal/config"
)

// Imported layers take their shifts from a calendar: each event is a
// shift, and its summary (or an attendee's email) names the person on
// call. Recurring events are expanded from a month back to a year ahead.
const (
	importBack  = 35 * 24 * time.Hour
	importAhead = 366 * 24 * time.Hour
)

// ImportShifts reads shifts from an iCalendar document. people maps the
// words that may name a person (name, full name, email; lower case) to the
// person's name. Events naming nobody known are an error, so a typo never
// leaves a silent gap.
func ImportShifts(r io.Reader, people map[string]string, now time.Time) ([]Shift, error) {
	cal, err := ical.NewDecoder(r).Decode()
	if err != nil {
		return nil, fmt.Errorf("read calendar: %w", err)
	}
	from, to := now.Add(-importBack), now.Add(importAhead)
	var out []Shift
	for _, ev := range cal.Events() {
		who, err := eventPerson(ev, people)
		if err != nil {
			return nil, err
		}
		start, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			return nil, fmt.Errorf("event %q: start: %w", summaryOf(ev), err)
		}
		end, err := ev.DateTimeEnd(time.UTC)
		if err != nil || end.IsZero() {
			return nil, fmt.Errorf("event %q: needs an end", summaryOf(ev))
		}
		if !end.After(start) {
			return nil, fmt.Errorf("event %q ends before it starts", summaryOf(ev))
		}
		length := end.Sub(start)
		set, err := ev.RecurrenceSet(time.UTC)
		if err != nil {
			return nil, fmt.Errorf("event %q: recurrence: %w", summaryOf(ev), err)
		}
		starts := []time.Time{start}
		if set != nil {
			starts = set.Between(from.Add(-length), to, true)
		}
		for _, s := range starts {
			out = append(out, Shift{User: who, Start: s.UTC(), End: s.Add(length).UTC()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

func summaryOf(ev ical.Event) string {
	s, _ := ev.Props.Text(ical.PropSummary)
	return s
}

// eventPerson finds who an event names: its summary, or the email of an
// attendee or the organizer.
func eventPerson(ev ical.Event, people map[string]string) (string, error) {
	summary := strings.ToLower(strings.TrimSpace(summaryOf(ev)))
	if who, ok := people[summary]; ok {
		return who, nil
	}
	// "On call: alice" and the like: the last word or phrase after a colon.
	if _, after, ok := strings.Cut(summary, ":"); ok {
		if who, ok := people[strings.TrimSpace(after)]; ok {
			return who, nil
		}
	}
	for _, name := range []string{ical.PropAttendee, ical.PropOrganizer} {
		for _, p := range ev.Props.Values(name) {
			email := strings.ToLower(strings.TrimPrefix(strings.ToLower(p.Value), "mailto:"))
			if who, ok := people[email]; ok {
				return who, nil
			}
		}
	}
	return "", fmt.Errorf("event %q names nobody known (use a person's name, full name or email as the summary)", summaryOf(ev))
}

// peopleIndex maps the words that name each person to the person.
func peopleIndex(people []config.Person) map[string]string {
	out := map[string]string{}
	for _, p := range people {
		for _, k := range []string{p.Name, p.FullName, p.Email} {
			if k != "" {
				out[strings.ToLower(k)] = p.Name
			}
		}
	}
	return out
}

// loadCalendar reads a layer's calendar from a file or a URL.
func loadCalendar(ctx context.Context, src config.ICalSource, client *http.Client) ([]byte, error) {
	switch {
	case src.File != "":
		return os.ReadFile(src.File)
	case src.URL != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", src.URL, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	}
	return nil, errors.New("an ical layer needs a file or a url")
}

// ImportLayers fills the imported layers of the configured schedules with
// their calendars' shifts. A calendar that cannot be read is an error at
// start; on a refresh the caller keeps the shifts it had.
func ImportLayers(ctx context.Context, scheds map[string]*Schedule, cfg *config.Config, client *http.Client, now time.Time) error {
	people := peopleIndex(cfg.People)
	for _, sc := range cfg.Schedules {
		s := scheds[sc.Name]
		for i, lc := range sc.Layers {
			if lc.ICal == nil {
				continue
			}
			body, err := loadCalendar(ctx, *lc.ICal, client)
			if err != nil {
				return fmt.Errorf("schedule %q layer %q: %w", sc.Name, s.Layers[i].Name, err)
			}
			shifts, err := ImportShifts(bytes.NewReader(body), people, now)
			if err != nil {
				return fmt.Errorf("schedule %q layer %q: %w", sc.Name, s.Layers[i].Name, err)
			}
			for j := range shifts {
				shifts[j].Layer = s.Layers[i].Name
			}
			s.Layers[i].Shifts = shifts
			s.Layers[i].Participants = participantsOf(shifts)
		}
	}
	return nil
}

func participantsOf(shifts []Shift) []string {
	var out []string
	for _, s := range shifts {
		if !slices.Contains(out, s.User) {
			out = append(out, s.User)
		}
	}
	return out
}
