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

// Get returns an incident with all its alerts and all its timeline. An
// incident of a big outage has thousands of each: callers that show it
// (the API, the console) or only need the incident itself use Incident,
// ListAlerts and ListTimeline, which are bounded.
func (s *Service) Get(ctx context.Context, id int64) (Detail, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Incident: inc}
	if d.Alerts, err = queryAlerts(ctx, s.store.Read(), id, ofIncident, id); err != nil {
		return Detail{}, err
	}
	if d.Timeline, err = queryEvents(ctx, s.store.Read(), id, ofIncident, id); err != nil {
		return Detail{}, err
	}
	return d, nil
}

// Incident returns one incident without its alerts or timeline, or
// ErrNotFound.
func (s *Service) Incident(ctx context.Context, id int64) (Incident, error) {
	inc, err := scanIncident(s.store.Read().QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, ErrNotFound
	}
	if err != nil {
		return Incident{}, fmt.Errorf("get incident %d: %w", id, err)
	}
	return inc, nil
}

// querier is what queryAlerts and queryEvents need of a *sql.DB or a
// *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Page sizes of ListAlerts and ListTimeline.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 500
)

// Page selects one page of an incident's alerts or timeline entries, which
// are listed oldest first (in id order).
type Page struct {
	// Limit is the most rows the page holds: 0 or less means
	// DefaultPageLimit, more than MaxPageLimit means MaxPageLimit.
	Limit int
	// Cursor is the Next of the page before, to continue after it; ""
	// starts at the first row. A cursor of another incident, or of the
	// other list, is ErrBadCursor.
	Cursor string
}

func (p Page) limit() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return min(p.Limit, MaxPageLimit)
}

// AlertPage is one page of an incident's alerts.
type AlertPage struct {
	// Alerts are the page's, oldest first; never nil.
	Alerts []Alert
	// Total counts the incident's alerts on every page.
	Total int
	// Next continues after this page's last alert; "" when this page is
	// the last.
	Next string
}

// EventPage is one page of an incident's timeline.
type EventPage struct {
	// Events are the page's, oldest first; never nil.
	Events []Event
	// Total counts the incident's timeline entries on every page.
	Total int
	// Next continues after this page's last entry; "" when this page is
	// the last.
	Next string
}

// Cursors of ListAlerts and ListTimeline name their list and incident,
// so that one passed to the wrong list or incident is refused rather than
// read as a position in it.
const (
	alertsCursor   = "alerts"
	timelineCursor = "timeline"
)

// ListAlerts returns one page of incident id's alerts, with their total
// and the cursor of the next page, all as of one moment. Rows keep their
// place: alerts that join while a client pages through come after the
// last page it has seen, and no alert is listed twice. It returns
// ErrNotFound for an unknown incident and ErrBadCursor for a cursor it
// did not make for this incident's alerts.
func (s *Service) ListAlerts(ctx context.Context, id int64, p Page) (AlertPage, error) {
	var out AlertPage
	next, err := s.readPage(ctx, id, alertsCursor, p, func(tx *sql.Tx, after int64, limit int) (int64, error) {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE incident_id = ?`, id).Scan(&out.Total); err != nil {
			return 0, fmt.Errorf("count alerts of incident %d: %w", id, err)
		}
		// The unique index on (incident_id, integration, fingerprint)
		// covers the inner query: the incident's ids are sorted from the
		// index alone, and only the page's rows are read from the table.
		var err error
		out.Alerts, err = queryAlerts(ctx, tx, id, `WHERE id IN (SELECT id FROM alerts WHERE incident_id = ? AND id > ? ORDER BY id LIMIT ?) ORDER BY id`,
			id, after, limit+1)
		if err != nil || len(out.Alerts) <= limit {
			return 0, err
		}
		out.Alerts = out.Alerts[:limit]
		return out.Alerts[limit-1].ID, nil
	})
	if err != nil {
		return AlertPage{}, err
	}
	out.Next = next
	return out, nil
}

// ListTimeline returns one page of incident id's timeline, with its total
// and the cursor of the next page, as ListAlerts does for alerts: entries
// recorded while a client pages through come after the last page it has
// seen.
func (s *Service) ListTimeline(ctx context.Context, id int64, p Page) (EventPage, error) {
	var out EventPage
	next, err := s.readPage(ctx, id, timelineCursor, p, func(tx *sql.Tx, after int64, limit int) (int64, error) {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM timeline WHERE incident_id = ?`, id).Scan(&out.Total); err != nil {
			return 0, fmt.Errorf("count timeline of incident %d: %w", id, err)
		}
		var err error
		out.Events, err = queryEvents(ctx, tx, id, `WHERE incident_id = ? AND id > ? ORDER BY id LIMIT ?`, id, after, limit+1)
		if err != nil || len(out.Events) <= limit {
			return 0, err
		}
		out.Events = out.Events[:limit]
		return out.Events[limit-1].ID, nil
	})
	if err != nil {
		return EventPage{}, err
	}
	out.Next = next
	return out, nil
}

// readPage reads one page of list (alertsCursor or timelineCursor) of
// incident id and returns the cursor of the next. read gets the row the
// page starts after and its limit, and returns the row the next page
// starts after, 0 when this page is the last. It runs in one read
// transaction, so that a page and its total agree.
func (s *Service) readPage(ctx context.Context, id int64, list string, p Page, read func(tx *sql.Tx, after int64, limit int) (int64, error)) (string, error) {
	after := int64(0)
	if p.Cursor != "" {
		var err error
		if after, err = decodePageCursor(p.Cursor, list, id); err != nil {
			return "", err
		}
	}
	tx, err := s.store.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("%s of incident %d: %w", list, id, err)
	}
	defer tx.Rollback() // read-only: nothing to keep
	var exists int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM incidents WHERE id = ?`, id).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%s of incident %d: %w", list, id, err)
	}
	last, err := read(tx, after, p.limit())
	if err != nil || last == 0 {
		return "", err
	}
	return encodePageCursor(list, id, last), nil
}

// encodePageCursor makes the cursor that continues list of incident id
// after row last.
func encodePageCursor(list string, id, last int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + list + ":" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(last, 10)))
}

// decodePageCursor returns the row a cursor of list of incident id
// continues after.
func decodePageCursor(c, list string, id int64) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, ErrBadCursor
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return 0, ErrBadCursor
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, ErrBadCursor
	}
	inc, err1 := strconv.ParseInt(parts[1], 10, 64)
	last, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || last <= 0 {
		return 0, ErrBadCursor
	}
	if parts[0] != list {
		return 0, fmt.Errorf("%w: it continues the %s, not the %s", ErrBadCursor, parts[0], list)
	}
	if inc != id {
		return 0, fmt.Errorf("%w: it continues incident %d, not %d", ErrBadCursor, inc, id)
	}
	return last, nil
}

// ofIncident selects all the alerts or timeline entries of one incident,
// in id order.
const ofIncident = `WHERE incident_id = ? ORDER BY id`

// queryAlerts reads the alerts of incident incID that the clauses where
// (WHERE, ORDER BY and LIMIT, with their args) select.
func queryAlerts(ctx context.Context, q querier, incID int64, where string, args ...any) ([]Alert, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, incident_id, integration, fingerprint, status, severity, summary,
		labels, annotations, source_url, starts_at, ends_at, first_seen_at, last_seen_at
		FROM alerts `+where, args...)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alerts of incident %d: %w", incID, err)
	}
	return out, nil
}

// queryEvents reads the timeline entries of incident incID that the
// clauses where select, as queryAlerts does.
func queryEvents(ctx context.Context, q querier, incID int64, where string, args ...any) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, kind, actor, alert_id, detail FROM timeline `+where, args...)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("timeline of incident %d: %w", incID, err)
	}
	return out, nil
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
