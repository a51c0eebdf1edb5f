package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/triage"
)

// incidentSummary is one row of GET /api/v1/incidents.
type incidentSummary struct {
	ID             int64   `json:"id"`
	Status         string  `json:"status"`
	Title          string  `json:"title"`
	Team           string  `json:"team"`
	Severity       string  `json:"severity"`
	AlertCount     int     `json:"alert_count"`
	CreatedAt      string  `json:"created_at"`
	AcknowledgedAt *string `json:"acknowledged_at"`
	ResolvedAt     *string `json:"resolved_at"`
	Assignee       string  `json:"assignee,omitempty"`
	// ParentID names the storm an incident joined; Children and
	// OpenChildren count a storm's incidents.
	ParentID     int64 `json:"parent_id,omitempty"`
	Children     int   `json:"children,omitempty"`
	OpenChildren int   `json:"open_children,omitempty"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func summarize(inc incident.Incident) incidentSummary {
	out := incidentSummary{
		ID: inc.ID, Status: string(inc.Status), Title: inc.Title, Team: inc.Team,
		Severity: inc.Severity.String(), AlertCount: inc.AlertCount,
		CreatedAt: inc.CreatedAt.Format(timeFormat), Assignee: inc.Assignee,
		ParentID: inc.ParentID, Children: inc.Children, OpenChildren: inc.OpenChildren,
	}
	if inc.AcknowledgedAt != nil {
		v := inc.AcknowledgedAt.Format(timeFormat)
		out.AcknowledgedAt = &v
	}
	if inc.ResolvedAt != nil {
		v := inc.ResolvedAt.Format(timeFormat)
		out.ResolvedAt = &v
	}
	return out
}

func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := incident.Filter{Team: q.Get("team"), Cursor: q.Get("cursor")}
	if v := q.Get("status"); v != "" {
		st, ok := incident.ParseStatus(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "status must be triggered, acknowledged or resolved", "status")
			return
		}
		f.Status = st
	}
	if v := q.Get("parent"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "parent must be an incident number", "parent")
			return
		}
		f.Parent = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500", "limit")
			return
		}
		f.Limit = n
	}
	list, next, err := s.incidents.List(r.Context(), f)
	if errors.Is(err, incident.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, err.Error(), "cursor")
		return
	}
	if err != nil {
		s.log.Error("list incidents", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	out := struct {
		Incidents  []incidentSummary `json:"incidents"`
		NextCursor *string           `json:"next_cursor"`
	}{Incidents: make([]incidentSummary, 0, len(list))}
	for _, inc := range list {
		out.Incidents = append(out.Incidents, summarize(inc))
	}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// pathID reads the {id} of the path, answering 400 when it is not a
// positive whole number; what names the thing for the message.
func pathID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, what+" id must be a positive whole number", "id")
		return 0, false
	}
	return id, true
}

func incidentID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	return pathID(w, r, "incident")
}

// incidentDetail is the body of GET /api/v1/incidents/{id}. An incident
// of a big outage has thousands of alerts and timeline entries, so each
// list is one page (the first, unless a cursor asks for a later one) with
// the cursor of the next: alert_count and timeline_count say how many
// there are in all.
type incidentDetail struct {
	incidentSummary
	FiringCount    int              `json:"firing_count"`
	Route          string           `json:"route"`
	Policy         string           `json:"escalation_policy"`
	AcknowledgedBy string           `json:"acknowledged_by,omitempty"`
	ResolvedBy     string           `json:"resolved_by,omitempty"`
	Alerts         []incident.Alert `json:"alerts"`
	// AlertsNextCursor, passed as alerts_cursor, continues the alerts;
	// null on their last page.
	AlertsNextCursor *string          `json:"alerts_next_cursor"`
	Timeline         []incident.Event `json:"timeline"`
	TimelineCount    int              `json:"timeline_count"`
	// TimelineNextCursor, passed as timeline_cursor, continues the
	// timeline; null on its last page.
	TimelineNextCursor *string `json:"timeline_next_cursor"`
	// Triage is what the triage found, null before it ran or without one.
	Triage *triage.Report `json:"triage"`
}

// TriageReader reads incidents' triage (the App).
type TriageReader interface {
	TriageOf(ctx context.Context, id int64) (*triage.Report, error)
}

// pageQuery reads the page of one list of the incident detail from the
// query parameters <list>_limit (1 to incident.MaxPageLimit, default
// incident.DefaultPageLimit) and <list>_cursor, answering 400 naming the
// parameter when one is bad.
func pageQuery(w http.ResponseWriter, r *http.Request, list string) (incident.Page, bool) {
	q := r.URL.Query()
	p := incident.Page{Cursor: q.Get(list + "_cursor")}
	if v := q.Get(list + "_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > incident.MaxPageLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s_limit must be a whole number from 1 to %d", list, incident.MaxPageLimit), list+"_limit")
			return p, false
		}
		p.Limit = n
	}
	return p, true
}

// handleGetIncident answers an incident with one page of its alerts and
// one of its timeline. The query parameters alerts_limit, alerts_cursor,
// timeline_limit and timeline_cursor choose the pages: a client walks
// either list by passing back its next cursor until that is null.
func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	alertsPage, ok := pageQuery(w, r, "alerts")
	if !ok {
		return
	}
	timelinePage, ok := pageQuery(w, r, "timeline")
	if !ok {
		return
	}
	ctx := r.Context()
	inc, err := s.incidents.Incident(ctx, id)
	var alerts incident.AlertPage
	if err == nil {
		alerts, err = s.incidents.ListAlerts(ctx, id, alertsPage)
		if errors.Is(err, incident.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, "alerts_cursor: "+err.Error(), "alerts_cursor")
			return
		}
	}
	var timeline incident.EventPage
	if err == nil {
		timeline, err = s.incidents.ListTimeline(ctx, id, timelinePage)
		if errors.Is(err, incident.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, "timeline_cursor: "+err.Error(), "timeline_cursor")
			return
		}
	}
	if errors.Is(err, incident.ErrNotFound) {
		writeError(w, http.StatusNotFound, "incident "+strconv.FormatInt(id, 10)+" not found", "id")
		return
	}
	if err != nil {
		s.log.Error("get incident", "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	out := incidentDetail{
		incidentSummary: summarize(inc), FiringCount: inc.FiringCount, Route: inc.Route, Policy: inc.Policy,
		AcknowledgedBy: inc.AcknowledgedBy, ResolvedBy: inc.ResolvedBy,
		Alerts: alerts.Alerts, Timeline: timeline.Events, TimelineCount: timeline.Total,
	}
	if alerts.Next != "" {
		out.AlertsNextCursor = &alerts.Next
	}
	if timeline.Next != "" {
		out.TimelineNextCursor = &timeline.Next
	}
	if tr, ok := s.config.(TriageReader); ok {
		if out.Triage, err = tr.TriageOf(ctx, id); err != nil {
			s.log.Error("read triage", "id", id, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// listPage is the body of GET /api/v1/incidents/{id}/alerts and
// /timeline: one page of the list, its total, and the cursor of the next
// page (null on the last).
type listPage[T any] struct {
	Items      []T     `json:"items"`
	Total      int     `json:"total"`
	NextCursor *string `json:"next_cursor"`
}

// handleIncidentList serves one of an incident's lists a page at a time,
// with the query parameters limit (1 to incident.MaxPageLimit, default
// incident.DefaultPageLimit) and cursor (the next_cursor of the page
// before): the same pages as the detail's alerts_* and timeline_*.
func handleIncidentList[T any](s *Server, list string, read func(ctx context.Context, id int64, p incident.Page) ([]T, int, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := incidentID(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		p := incident.Page{Cursor: q.Get("cursor")}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > incident.MaxPageLimit {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", incident.MaxPageLimit), "limit")
				return
			}
			p.Limit = n
		}
		items, total, next, err := read(r.Context(), id, p)
		switch {
		case errors.Is(err, incident.ErrBadCursor):
			writeError(w, http.StatusBadRequest, "cursor: "+err.Error(), "cursor")
			return
		case errors.Is(err, incident.ErrNotFound):
			writeError(w, http.StatusNotFound, "incident "+strconv.FormatInt(id, 10)+" not found", "id")
			return
		case err != nil:
			s.log.Error("list of an incident", "list", list, "id", id, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error", "")
			return
		}
		out := listPage[T]{Items: items, Total: total}
		if next != "" {
			out.NextCursor = &next
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) readAlerts(ctx context.Context, id int64, p incident.Page) ([]incident.Alert, int, string, error) {
	pg, err := s.incidents.ListAlerts(ctx, id, p)
	return pg.Alerts, pg.Total, pg.Next, err
}

func (s *Server) readTimeline(ctx context.Context, id int64, p incident.Page) ([]incident.Event, int, string, error) {
	pg, err := s.incidents.ListTimeline(ctx, id, p)
	return pg.Events, pg.Total, pg.Next, err
}

func (s *Server) handleIncidentAction(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	var (
		inc incident.Incident
		err error
	)
	actor := apiActor(r)
	switch action := chi.URLParam(r, "action"); action {
	case "ack":
		inc, err = s.incidents.Acknowledge(r.Context(), id, actor)
	case "unack":
		inc, err = s.incidents.Unacknowledge(r.Context(), id, actor)
	case "resolve":
		inc, err = s.incidents.Resolve(r.Context(), id, actor)
	case "reopen":
		inc, err = s.incidents.Reopen(r.Context(), id, actor)
	case "escalate":
		if err = s.escalator.Escalate(r.Context(), id, actor); err == nil {
			inc, err = s.incidents.Incident(r.Context(), id)
		}
		if ne, ok := oncall.IsNotEscalatable(err); ok {
			writeError(w, http.StatusConflict, ne.Msg, "")
			return
		}
	case "assign":
		if s.assigner == nil {
			writeError(w, http.StatusNotFound, "assigning is not available", "action")
			return
		}
		var body struct {
			Person string `json:"person"`
		}
		const shape = `{"person": "<name in the bot>"}`
		if !decodeBodyOf(w, r, &body, shape, "person") {
			return
		}
		if body.Person == "" {
			writeError(w, http.StatusBadRequest, "person is required: body must be JSON "+shape, "person")
			return
		}
		inc, err = s.assigner.Assign(r.Context(), id, actor, body.Person, true)
		var invalid *oncall.InvalidError
		var refused *oncall.RefusedError
		switch {
		case errors.As(err, &invalid):
			writeError(w, http.StatusBadRequest, invalid.Msg, invalid.Field)
			return
		case errors.As(err, &refused):
			writeError(w, http.StatusConflict, refused.Msg, "")
			return
		}
	default:
		writeError(w, http.StatusNotFound, "unknown action "+strconv.Quote(action)+": want ack, unack, resolve, reopen, escalate or assign", "action")
		return
	}
	var conflict *incident.ConflictError
	switch {
	case errors.Is(err, incident.ErrNotFound):
		writeError(w, http.StatusNotFound, "incident "+strconv.FormatInt(id, 10)+" not found", "id")
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, conflict.Msg, "")
	case err != nil:
		s.log.Error("incident action", "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
	default:
		writeJSON(w, http.StatusOK, summarize(inc))
	}
}
