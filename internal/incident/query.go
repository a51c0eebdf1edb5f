package incident

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const incidentColumns = `id, status, title, team, severity, alert_count, firing_count, route, policy, group_key,
	created_at, updated_at, page_at, acknowledged_at, COALESCE(acknowledged_by, ''), resolved_at, COALESCE(resolved_by, ''), assignee,
	COALESCE(parent_id, 0), children, open_children`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(r scanner) (Incident, error) {
	var (
		inc                        Incident
		created, updated, pageAt   int64
		acknowledgedAt, resolvedAt sql.NullInt64
	)
	err := r.Scan(&inc.ID, &inc.Status, &inc.Title, &inc.Team, &inc.Severity, &inc.AlertCount, &inc.FiringCount,
		&inc.Route, &inc.Policy, &inc.GroupKey, &created, &updated, &pageAt,
		&acknowledgedAt, &inc.AcknowledgedBy, &resolvedAt, &inc.ResolvedBy, &inc.Assignee,
		&inc.ParentID, &inc.Children, &inc.OpenChildren)
	if err != nil {
		return Incident{}, err
	}
	inc.CreatedAt, inc.UpdatedAt, inc.PageAt = msTime(created), msTime(updated), msTime(pageAt)
	inc.AcknowledgedAt = nullTime(acknowledgedAt)
	inc.ResolvedAt = nullTime(resolvedAt)
	return inc, nil
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := msTime(v.Int64)
	return &t
}

// Filter selects incidents for List.
type Filter struct {
	Status Status
	Team   string
	// Parent, when set, selects the incidents of one storm.
	Parent int64
	// Limit is the page size (1..500; 0 means 50).
	Limit int
	// Cursor continues a previous page; "" starts from the newest.
	Cursor string
}

// ErrBadCursor is returned for a cursor List did not make.
var ErrBadCursor = errors.New("cursor is not one this server returned")

const cursorPrefix = "v1:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(string(b), cursorPrefix), 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrBadCursor
	}
	return id, nil
}

// List returns incidents newest first, and the cursor of the next page
// ("" when this is the last).
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE 1 = 1`
	var args []any
	if f.Cursor != "" {
		before, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND id < ?`
		args = append(args, before)
	}
	if f.Parent != 0 {
		q += ` AND parent_id = ?`
		args = append(args, f.Parent)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Team != "" {
		q += ` AND team = ?`
		args = append(args, f.Team)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := s.store.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list incidents: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = encodeCursor(out[len(out)-1].ID)
	}
	return out, next, nil
}

// Get returns an incident with its alerts and timeline.
func (s *Service) Get(ctx context.Context, id int64) (Detail, error) {
	db := s.store.Read()
	inc, err := scanIncident(db.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Detail{}, ErrNotFound
	}
	if err != nil {
		return Detail{}, fmt.Errorf("get incident %d: %w", id, err)
	}
	d := Detail{Incident: inc, Alerts: []Alert{}, Timeline: []Event{}}
	if d.Alerts, err = s.alerts(ctx, id); err != nil {
		return Detail{}, err
	}
	if d.Timeline, err = s.timeline(ctx, id); err != nil {
		return Detail{}, err
	}
	return d, nil
}

func (s *Service) alerts(ctx context.Context, incID int64) ([]Alert, error) {
	rows, err := s.store.Read().QueryContext(ctx, `SELECT id, incident_id, integration, fingerprint, status, severity, summary,
		labels, annotations, source_url, starts_at, ends_at, first_seen_at, last_seen_at
		FROM alerts WHERE incident_id = ? ORDER BY id`, incID)
	if err != nil {
		return nil, fmt.Errorf("alerts of incident %d: %w", incID, err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var (
			a                             Alert
			labels, annotations           string
			startsAt, firstSeen, lastSeen int64
			endsAt                        sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &a.IncidentID, &a.Integration, &a.Fingerprint, &a.Status, &a.Severity, &a.Summary,
			&labels, &annotations, &a.SourceURL, &startsAt, &endsAt, &firstSeen, &lastSeen); err != nil {
			return nil, fmt.Errorf("alerts of incident %d: %w", incID, err)
		}
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("labels of alert %d: %w", a.ID, err)
		}
		if err := json.Unmarshal([]byte(annotations), &a.Annotations); err != nil {
			return nil, fmt.Errorf("annotations of alert %d: %w", a.ID, err)
		}
		a.StartsAt, a.FirstSeenAt, a.LastSeenAt = msTime(startsAt), msTime(firstSeen), msTime(lastSeen)
		a.EndsAt = nullTime(endsAt)
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Service) timeline(ctx context.Context, incID int64) ([]Event, error) {
	rows, err := s.store.Read().QueryContext(ctx,
		`SELECT id, at, kind, actor, alert_id, detail FROM timeline WHERE incident_id = ? ORDER BY id`, incID)
	if err != nil {
		return nil, fmt.Errorf("timeline of incident %d: %w", incID, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var (
			e       Event
			at      int64
			alertID sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Actor, &alertID, &e.Detail); err != nil {
			return nil, fmt.Errorf("timeline of incident %d: %w", incID, err)
		}
		e.At = msTime(at)
		if alertID.Valid {
			e.AlertID = &alertID.Int64
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountByStatus returns how many incidents are in each state, for metrics.
func (s *Service) CountByStatus(ctx context.Context) (map[Status]int, error) {
	rows, err := s.store.Read().QueryContext(ctx, `SELECT status, count(*) FROM incidents GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count incidents: %w", err)
	}
	defer rows.Close()
	out := map[Status]int{StatusTriggered: 0, StatusAcknowledged: 0, StatusResolved: 0}
	for rows.Next() {
		var st Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count incidents: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}
