package incident

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// History is an incident as a report reads it: the incident and the
// entries of its timeline that tell its course (acks, resolves, reopens,
// escalations, snoozes, assignments, tags), oldest first; alert entries
// are left out (a storm's incident has thousands).
type History struct {
	Incident
	Events []Event
}

// courseKinds are the timeline kinds History keeps.
var courseKinds = []string{KindAcknowledged, KindUnacknowledged, KindResolved, KindReopened, KindSnoozed, KindAssigned,
	"escalation.step", "escalation.manual", "escalation.repeat", "escalation.exhausted", KindTagged, KindNote}

// KindTagged is a responder's label on an incident (actionable, noise,
// needs-tuning), for the handoff report.
const KindTagged = "incident.tagged"

// Histories returns the incidents of team (every team for "") created in
// [from, to), oldest first, each with its course. It reads with one
// query for the incidents and one per 500 for their timelines.
func Histories(ctx context.Context, db *sql.DB, team string, from, to time.Time) ([]History, error) {
	incs, err := Between(ctx, db, team, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]History, len(incs))
	for i, inc := range incs {
		out[i] = History{Incident: inc}
	}
	if err := Courses(ctx, db, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Between returns the incidents of team (every team for "") created in
// [from, to), oldest first, without their courses.
func Between(ctx context.Context, db *sql.DB, team string, from, to time.Time) ([]Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE created_at >= ? AND created_at < ?`
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if team != "" {
		q += ` AND team = ?`
		args = append(args, team)
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read incident history: %w", err)
	}
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read incident history: %w", err)
		}
		out = append(out, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incident history: %w", err)
	}
	return out, nil
}

// ResolvedInGroup returns the resolved incidents of one group (the same
// route and grouping labels: the very alert again), most recently
// resolved first, at most limit.
func ResolvedInGroup(ctx context.Context, db *sql.DB, groupKey string, limit int) ([]Incident, error) {
	return queryIncidents(ctx, db, `SELECT `+incidentColumns+` FROM incidents
		WHERE group_key = ? AND status = 'resolved' ORDER BY resolved_at DESC LIMIT ?`, groupKey, limit)
}

func queryIncidents(ctx context.Context, db *sql.DB, q string, args ...any) ([]Incident, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// Courses fills in each history's course from the timeline, one query
// per 500 incidents.
func Courses(ctx context.Context, db *sql.DB, hs []History) error {
	index := make(map[int64]int, len(hs))
	for i, h := range hs {
		index[h.ID] = i
	}
	kinds := "'" + strings.Join(courseKinds, "','") + "'"
	for start := 0; start < len(hs); start += 500 {
		end := min(start+500, len(hs))
		ids := make([]string, 0, end-start)
		for _, h := range hs[start:end] {
			ids = append(ids, fmt.Sprint(h.ID))
		}
		erows, err := db.QueryContext(ctx, `SELECT incident_id, id, at, kind, actor, detail FROM timeline
			WHERE incident_id IN (`+strings.Join(ids, ",")+`) AND kind IN (`+kinds+`) ORDER BY incident_id, id`)
		if err != nil {
			return fmt.Errorf("read incident timelines: %w", err)
		}
		for erows.Next() {
			var incID, at int64
			var e Event
			if err := erows.Scan(&incID, &e.ID, &at, &e.Kind, &e.Actor, &e.Detail); err != nil {
				erows.Close()
				return fmt.Errorf("read incident timelines: %w", err)
			}
			e.At = msTime(at)
			h := &hs[index[incID]]
			h.Events = append(h.Events, e)
		}
		erows.Close()
		if err := erows.Err(); err != nil {
			return fmt.Errorf("read incident timelines: %w", err)
		}
	}
	return nil
}

// HumanActor reports whether an actor is a person (slack:alice, web:bob,
// sms:carol, api:ci...) rather than the bot or a monitoring source
// (resolving when its alerts do).
func HumanActor(actor string) bool { return strings.Contains(actor, ":") }

// OpenOf lists the incidents of team not resolved, oldest first, with
// their course: what a report carries over to the next on-call week.
func OpenOf(ctx context.Context, db *sql.DB, team string) ([]History, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE status != 'resolved' AND team = ? ORDER BY id`, team)
	if err != nil {
		return nil, fmt.Errorf("read open incidents: %w", err)
	}
	var out []History
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read open incidents: %w", err)
		}
		out = append(out, History{Incident: inc})
	}
	rows.Close()
	return out, rows.Err()
}

// ByIDs returns the incidents of ids that exist, in no set order.
func ByIDs(ctx context.Context, db *sql.DB, ids []int64) ([]Incident, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	return queryIncidents(ctx, db, `SELECT `+incidentColumns+` FROM incidents WHERE id IN (`+strings.Join(list, ",")+`)`)
}
