package oncall

import (
	"fmt"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/config"
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow reads a configured window.
func ParseWindow(w config.Window) (Window, error) {
	var out Window
	for _, d := range w.Days {
		wd, ok := weekdays[strings.ToLower(d)[:min(3, len(d))]]
		if !ok {
			return Window{}, fmt.Errorf("day %q: want mon, tue, wed, thu, fri, sat or sun", d)
		}
		out.Days = append(out.Days, wd)
	}
	var err error
	if out.From, err = ParseClock(w.From); err != nil {
		return Window{}, fmt.Errorf("window from: %w", err)
	}
	if out.To, err = ParseClock(w.To); err != nil {
		return Window{}, fmt.Errorf("window to: %w", err)
	}
	return out, nil
}

// SchedulesFromConfig builds the configured schedules, without overrides.
func SchedulesFromConfig(cfg []config.Schedule) (map[string]*Schedule, error) {
	out := map[string]*Schedule{}
	for _, sc := range cfg {
		loc, err := time.LoadLocation(sc.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", sc.Name, err)
		}
		var layers []Layer
		for i, lc := range sc.Layers {
			l := Layer{Name: lc.Name, Every: max(lc.Every, 1), Participants: lc.Participants}
			if l.Name == "" {
				l.Name = fmt.Sprintf("layer-%d", i+1)
			}
			if lc.ICal != nil {
				// Filled by ImportLayers; an empty import means nobody.
				l.Shifts = []Shift{}
				l.Participants = nil
				l.Unit = Daily
			} else {
				if l.Unit, err = ParseUnit(lc.Rotation); err != nil {
					return nil, fmt.Errorf("schedule %q layer %q: %w", sc.Name, l.Name, err)
				}
				if l.Start, err = ParseWall(lc.Start); err != nil {
					return nil, fmt.Errorf("schedule %q layer %q: start: %w", sc.Name, l.Name, err)
				}
			}
			for _, wc := range lc.Windows {
				w, err := ParseWindow(wc)
				if err != nil {
					return nil, fmt.Errorf("schedule %q layer %q: %w", sc.Name, l.Name, err)
				}
				l.Windows = append(l.Windows, w)
			}
			layers = append(layers, l)
		}
		s, err := NewSchedule(sc.Name, loc, layers, nil)
		if err != nil {
			return nil, err
		}
		out[sc.Name] = s
	}
	return out, nil
}
