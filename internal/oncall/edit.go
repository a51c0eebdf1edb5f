package oncall

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/oncallbot/bot/internal/store"
)

// editedLayers returns a schedule's configured layers, each replaced by
// its latest run-time edit when it has one.
func (s *Service) editedLayers(ctx context.Context, name string, configured []Layer) ([]Layer, error) {
	layers := slices.Clone(configured)
	rows, err := s.store.Read().QueryContext(ctx, `SELECT layer, participants, start_wall FROM layer_edits
		WHERE id IN (SELECT MAX(id) FROM layer_edits WHERE schedule = ? GROUP BY layer)`, name)
	if err != nil {
		return nil, fmt.Errorf("load layer edits of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var layer, people, start string
		if err := rows.Scan(&layer, &people, &start); err != nil {
			return nil, fmt.Errorf("load layer edits of %s: %w", name, err)
		}
		i := slices.IndexFunc(layers, func(l Layer) bool { return l.Name == layer })
		if i < 0 {
			continue // the layer left the config; its edits no longer apply
		}
		var participants []string
		if err := json.Unmarshal([]byte(people), &participants); err != nil {
			return nil, fmt.Errorf("layer edit of %s/%s: %w", name, layer, err)
		}
		w, err := ParseWall(start)
		if err != nil {
			return nil, fmt.Errorf("layer edit of %s/%s: %w", name, layer, err)
		}
		layers[i].Participants, layers[i].Start = participants, w
	}
	return layers, rows.Err()
}

// LayerChange is a rotation edit a lead makes.
type LayerChange struct {
	// Add puts a person in the rotation at Position (1-based; 0 means
	// last).
	Add      string
	Position int
	// Remove takes a person out.
	Remove string
	// Order replaces the order; it must name the same people.
	Order []string
	// Handoff moves the handoff to this local time of day, keeping the
	// day of the anchor ("09:00").
	Handoff *Clock
}

func (c LayerChange) String() string {
	var parts []string
	if c.Add != "" {
		parts = append(parts, "add "+c.Add)
	}
	if c.Remove != "" {
		parts = append(parts, "remove "+c.Remove)
	}
	if c.Order != nil {
		parts = append(parts, "order "+strings.Join(c.Order, ", "))
	}
	if c.Handoff != nil {
		parts = append(parts, "handoff at "+c.Handoff.String())
	}
	return strings.Join(parts, "; ")
}

// EditLayer changes a rotation at run time and returns the schedule's
// next handoffs as they are after the change, so whoever made it sees
// what it did. The edit is stored and outlives restarts and config
// reloads (until the layer leaves the config).
func (s *Service) EditLayer(ctx context.Context, schedule, layer string, c LayerChange, actor string) ([]Segment, error) {
	sc, ok := s.Schedule(schedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q: %w", schedule, ErrUnknown)
	}
	i := slices.IndexFunc(sc.Layers, func(l Layer) bool { return l.Name == layer })
	if i < 0 {
		return nil, &InvalidError{"layer", fmt.Sprintf("schedule %s has no layer %q", schedule, layer)}
	}
	l := sc.Layers[i]
	people := slices.Clone(l.Participants)
	if c.Add != "" {
		if _, ok := s.d().people[c.Add]; !ok {
			return nil, &InvalidError{"add", fmt.Sprintf("%q is not a known person", c.Add)}
		}
		if slices.Contains(people, c.Add) {
			return nil, &RefusedError{fmt.Sprintf("%s is already in %s", c.Add, layer)}
		}
		pos := len(people)
		if c.Position > 0 && c.Position <= len(people) {
			pos = c.Position - 1
		}
		people = slices.Insert(people, pos, c.Add)
	}
	if c.Remove != "" {
		j := slices.Index(people, c.Remove)
		if j < 0 {
			return nil, &RefusedError{fmt.Sprintf("%s is not in %s", c.Remove, layer)}
		}
		people = slices.Delete(people, j, j+1)
		if len(people) == 0 {
			return nil, &RefusedError{fmt.Sprintf("%s is the last person in %s; a rotation needs someone", c.Remove, layer)}
		}
	}
	if c.Order != nil {
		a, b := slices.Clone(c.Order), slices.Clone(people)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return nil, &InvalidError{"order", fmt.Sprintf("must name exactly the people of %s: %s", layer, strings.Join(people, ", "))}
		}
		people = slices.Clone(c.Order)
	}
	start := l.Start
	if c.Handoff != nil {
		start.Hour, start.Minute = c.Handoff.Hour, c.Handoff.Minute
	}
	b, err := json.Marshal(people)
	if err != nil {
		return nil, err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO layer_edits (schedule, layer, participants, start_wall, created_at, created_by, what)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, schedule, layer, string(b), start.String(), s.clock.Now().UnixMilli(), actor, c.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store layer edit: %w", err)
	}
	if err := s.reload(ctx, schedule); err != nil {
		return nil, err
	}
	sc, _ = s.Schedule(schedule)
	return sc.Handoffs(s.clock.Now(), handoffHorizon, 5), nil
}
