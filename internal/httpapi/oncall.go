package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/oncall"
)

type layerView struct {
	Name         string   `json:"name"`
	Rotation     string   `json:"rotation"`
	Every        int      `json:"every"`
	Start        string   `json:"start"`
	Participants []string `json:"participants"`
	Restricted   bool     `json:"restricted"`
}

type scheduleView struct {
	Name     string      `json:"name"`
	TimeZone string      `json:"time_zone"`
	Layers   []layerView `json:"layers"`
	OnCall   []string    `json:"on_call"`
	ICalURL  string      `json:"ical_url"`
}

func (s *Server) viewSchedule(ctx context.Context, sc *oncall.Schedule) scheduleView {
	v := scheduleView{Name: sc.Name, TimeZone: sc.Zone.String(), Layers: []layerView{}, OnCall: []string{}}
	if u, err := s.oncall.FeedURL(ctx, s.baseURL, "schedule", sc.Name); err == nil {
		v.ICalURL = u
	}
	for _, l := range sc.Layers {
		v.Layers = append(v.Layers, layerView{Name: l.Name, Rotation: string(l.Unit), Every: l.Every,
			Start: l.Start.String(), Participants: l.Participants, Restricted: len(l.Windows) > 0})
	}
	if u := sc.OnCall(s.clock.Now()); u != nil {
		v.OnCall = u
	}
	return v
}

func (s *Server) handleListSchedules(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Schedules []scheduleView `json:"schedules"`
	}{Schedules: []scheduleView{}}
	for _, sc := range s.oncall.Schedules() {
		out.Schedules = append(out.Schedules, s.viewSchedule(r.Context(), sc))
	}
	writeJSON(w, http.StatusOK, out)
}

// timeParam reads an RFC 3339 query parameter, or def when absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	return time.Parse(time.RFC3339, v)
}

func (s *Server) schedule(w http.ResponseWriter, r *http.Request) (*oncall.Schedule, bool) {
	name := chi.URLParam(r, "schedule")
	sc, ok := s.oncall.Schedule(name)
	if !ok {
		writeError(w, http.StatusNotFound, "schedule "+strconv.Quote(name)+" not found", "schedule")
	}
	return sc, ok
}

// handleGetSchedule answers a schedule with its final schedule and gaps
// for [from, to) (default: the next 7 days).
func (s *Server) handleGetSchedule(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	now := s.clock.Now()
	from, err := timeParam(r, "from", now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "from must be an RFC 3339 time", "from")
		return
	}
	to, err := timeParam(r, "to", from.Add(7*24*time.Hour))
	if err != nil {
		writeError(w, http.StatusBadRequest, "to must be an RFC 3339 time", "to")
		return
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		writeError(w, http.StatusBadRequest, "to must be after from, and at most 366 days later", "to")
		return
	}
	final := sc.Final(from, to)
	gaps := []oncall.Segment{}
	for i := range final {
		if final[i].Users == nil {
			final[i].Users = []string{}
			gaps = append(gaps, final[i])
		}
	}
	writeJSON(w, http.StatusOK, struct {
		scheduleView
		From  time.Time        `json:"from"`
		To    time.Time        `json:"to"`
		Final []oncall.Segment `json:"final"`
		Gaps  []oncall.Segment `json:"gaps"`
	}{s.viewSchedule(r.Context(), sc), from, to, final, gaps})
}

func (s *Server) handleListOverrides(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	list := sc.Overrides()
	if list == nil {
		list = []oncall.Override{}
	}
	writeJSON(w, http.StatusOK, struct {
		Overrides []oncall.Override `json:"overrides"`
	}{list})
}

type overrideRequest struct {
	Kind     string    `json:"kind"`
	User     string    `json:"user"`
	Replaces string    `json:"replaces"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Note     string    `json:"note"`
}

func (s *Server) handleCreateOverride(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	var req overrideRequest
	if !decodeBody(w, r, &req, "{kind, user, replaces, start, end, note}") {
		return
	}
	if req.Kind == "" {
		req.Kind = string(oncall.Replace)
	}
	o, err := s.oncall.AddOverride(r.Context(), sc.Name, oncall.NewOverride{
		Kind: oncall.OverrideKind(req.Kind), User: req.User, Replaces: req.Replaces,
		Start: req.Start, End: req.End, Note: req.Note,
	}, apiActor(r))
	if err != nil {
		s.oncallError(w, "create override", err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) handleDeleteOverride(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r, "override")
	if !ok {
		return
	}
	err := s.oncall.DeleteOverride(r.Context(), sc.Name, id, apiActor(r))
	switch {
	case errors.Is(err, oncall.ErrUnknown):
		writeError(w, http.StatusNotFound, "override "+strconv.FormatInt(id, 10)+" not found", "id")
	case err != nil:
		s.log.Error("delete override", "schedule", sc.Name, "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleTeamOnCall(w http.ResponseWriter, r *http.Request) {
	team := chi.URLParam(r, "team")
	oc, err := s.oncall.TeamOnCall(team, 5)
	if errors.Is(err, oncall.ErrUnknown) {
		writeError(w, http.StatusNotFound, "team "+strconv.Quote(team)+" not found", "team")
		return
	}
	if err != nil {
		s.log.Error("team on call", "team", team, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	for i := range oc.Next {
		if oc.Next[i].Users == nil {
			oc.Next[i].Users = []string{}
		}
	}
	writeJSON(w, http.StatusOK, oc)
}

// decodeBody reads a small JSON body strictly into v, answering 413 or 400
// when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	return decodeBodyOf(w, r, v, shape, "")
}

// decodeBodyOf is decodeBody for a body of one field, which a 400 names.
func decodeBodyOf(w http.ResponseWriter, r *http.Request, v any, shape, field string) bool {
	err := decodeJSON(w, r, v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body is larger than 64 KiB", "")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "body must be JSON "+shape+": "+err.Error(), field)
		return false
	}
	return true
}

// errTrailingData refuses a body with more after its JSON object: a
// second object or junk is a client's mistake, not something to ignore.
var errTrailingData = errors.New("unexpected data after the JSON object")

// decodeJSON reads a JSON body of at most 64 KiB into v: unknown fields and
// anything but white space after the value are errors.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var tooBig *http.MaxBytesError
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return err
	default:
		return errTrailingData
	}
}

// oncallError answers the on-call domain's errors.
func (s *Server) oncallError(w http.ResponseWriter, what string, err error) {
	var inv *oncall.InvalidError
	var refused *oncall.RefusedError
	switch {
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, inv.Error(), inv.Field)
	case errors.As(err, &refused):
		writeError(w, http.StatusConflict, refused.Msg, "")
	case errors.Is(err, oncall.ErrUnknown):
		writeError(w, http.StatusNotFound, err.Error(), "")
	default:
		s.log.Error(what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
	}
}

func (s *Server) handleListSwaps(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	list, err := s.oncall.Swaps(r.Context(), sc.Name)
	if err != nil {
		s.oncallError(w, "list swaps", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Swaps []oncall.Swap `json:"swaps"`
	}{list})
}

func (s *Server) handleRequestSwap(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	var req struct {
		Requester string    `json:"requester"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Note      string    `json:"note"`
	}
	if !decodeBody(w, r, &req, "{requester, start, end, note}") {
		return
	}
	sw, err := s.oncall.RequestSwap(r.Context(), sc.Name, req.Requester, req.Start, req.End, req.Note)
	if err != nil {
		s.oncallError(w, "request swap", err)
		return
	}
	writeJSON(w, http.StatusCreated, sw)
}

func (s *Server) handleSwapAction(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r, "swap")
	if !ok {
		return
	}
	var req struct {
		User string `json:"user"`
	}
	if !decodeBody(w, r, &req, "{user}") {
		return
	}
	var (
		sw  oncall.Swap
		err error
	)
	switch action := chi.URLParam(r, "action"); action {
	case "accept":
		sw, err = s.oncall.AcceptSwap(r.Context(), sc.Name, id, req.User)
	case "cancel":
		sw, err = s.oncall.CancelSwap(r.Context(), sc.Name, id, req.User)
	default:
		writeError(w, http.StatusNotFound, "unknown action "+strconv.Quote(action)+": want accept or cancel", "action")
		return
	}
	if err != nil {
		s.oncallError(w, "swap action", err)
		return
	}
	writeJSON(w, http.StatusOK, sw)
}

func (s *Server) handleTakeShift(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	var req struct {
		User string `json:"user"`
	}
	if !decodeBody(w, r, &req, "{user}") {
		return
	}
	o, err := s.oncall.TakeShift(r.Context(), sc.Name, req.User)
	if err != nil {
		s.oncallError(w, "take shift", err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// handleUserShifts answers a person's next on-call stretches across every
// schedule, for the next 30 days.
func (s *Server) handleUserShifts(w http.ResponseWriter, r *http.Request) {
	user := chi.URLParam(r, "user")
	if _, ok := s.oncall.Person(user); !ok {
		writeError(w, http.StatusNotFound, "person "+strconv.Quote(user)+" not found", "user")
		return
	}
	type shift struct {
		Schedule string    `json:"schedule"`
		Start    time.Time `json:"start"`
		End      time.Time `json:"end"`
	}
	out := []shift{}
	now := s.clock.Now()
	for _, sc := range s.oncall.Schedules() {
		for _, seg := range sc.NextShifts(user, now, 30*24*time.Hour, 10) {
			out = append(out, shift{sc.Name, seg.Start, seg.End})
		}
	}
	slices.SortFunc(out, func(a, b shift) int { return a.Start.Compare(b.Start) })
	feed, _ := s.oncall.FeedURL(r.Context(), s.baseURL, "user", user)
	writeJSON(w, http.StatusOK, struct {
		User    string  `json:"user"`
		Shifts  []shift `json:"shifts"`
		ICalURL string  `json:"ical_url"`
	}{user, out, feed})
}

// handleFeed serves a calendar feed; the token in its URL is the only
// credential, as calendar apps subscribe with a URL alone.
func (s *Server) handleFeed(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutSuffix(chi.URLParam(r, "file"), ".ics")
		if !ok {
			writeError(w, http.StatusNotFound, "calendar feeds end in .ics", "")
			return
		}
		if !s.oncall.ValidFeedToken(r.Context(), kind, name, r.URL.Query().Get("token")) {
			writeError(w, http.StatusUnauthorized, "missing or invalid feed token", "token")
			return
		}
		var body []byte
		var err error
		if kind == "schedule" {
			body, err = s.oncall.ScheduleFeed(name)
		} else {
			body, err = s.oncall.UserFeed(name)
		}
		if err != nil {
			s.oncallError(w, "calendar feed", err)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		w.Header().Set("Cache-Control", "private, max-age=300")
		w.Write(body)
	}
}

// handleEditLayer changes a rotation and answers with the next handoffs
// after the change.
func (s *Server) handleEditLayer(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	var req struct {
		Add      string   `json:"add"`
		Position int      `json:"position"`
		Remove   string   `json:"remove"`
		Order    []string `json:"order"`
		Handoff  string   `json:"handoff"`
	}
	if !decodeBody(w, r, &req, `{add, position, remove, order, handoff: "09:00"}`) {
		return
	}
	c := oncall.LayerChange{Add: req.Add, Position: req.Position, Remove: req.Remove, Order: req.Order}
	if req.Handoff != "" {
		h, err := oncall.ParseClock(req.Handoff)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "handoff")
			return
		}
		c.Handoff = &h
	}
	if c.Add == "" && c.Remove == "" && c.Order == nil && c.Handoff == nil {
		writeError(w, http.StatusBadRequest, "nothing to change: give add, remove, order or handoff", "")
		return
	}
	next, err := s.oncall.EditLayer(r.Context(), sc.Name, chi.URLParam(r, "layer"), c, apiActor(r))
	if err != nil {
		s.oncallError(w, "edit layer", err)
		return
	}
	for i := range next {
		if next[i].Users == nil {
			next[i].Users = []string{}
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Next []oncall.Segment `json:"next_handoffs"`
	}{next})
}
