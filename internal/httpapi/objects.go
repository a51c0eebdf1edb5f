package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/plan"
)

// ObjectStore reads and changes single configuration objects (the App):
// each change goes through the same plan and apply as files.
type ObjectStore interface {
	Object(ctx context.Context, kind, name string) (json.RawMessage, error)
	ObjectList(ctx context.Context, kind string) ([]json.RawMessage, error)
	PutObject(ctx context.Context, kind, name string, spec json.RawMessage, actor string, force bool) (plan.Plan, error)
	DeleteObject(ctx context.Context, kind, name, actor string, force bool) (plan.Plan, error)
}

// objectPaths are the REST collections of configuration objects, by kind.
// Schedules share /schedules with the on-call views: GET /schedules/{name}
// shows the schedule's shifts, /schedules/{name}/definition its
// definition, and PUT and DELETE there change it.
var objectPaths = []struct{ path, kind string }{
	{"/people", plan.KindPerson},
	{"/teams", plan.KindTeam},
	{"/escalation-policies", plan.KindEscalationPolicy},
	{"/routes", plan.KindRoute},
	{"/integrations", plan.KindIntegration},
	{"/webhooks", plan.KindWebhook},
	{"/api-tokens", plan.KindAPIToken},
}

func (s *Server) objectStore(w http.ResponseWriter) (ObjectStore, bool) {
	o, ok := s.config.(ObjectStore)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this server does not manage its configuration", "")
	}
	return o, ok
}

func (s *Server) handleObjectList(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.objectStore(w)
		if !ok {
			return
		}
		list, err := st.ObjectList(r.Context(), kind)
		if err != nil {
			s.configError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": list})
	}
}

func (s *Server) handleObjectGet(kind string, nameOf func(*http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.objectStore(w)
		if !ok {
			return
		}
		name := nameOf(r)
		spec, err := st.Object(r.Context(), kind, name)
		if err != nil {
			s.objectError(w, kind, name, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(append(spec, '\n'))
	}
}

func (s *Server) handleObjectPut(kind string, nameOf func(*http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.objectStore(w)
		if !ok {
			return
		}
		name := nameOf(r)
		var spec json.RawMessage
		if !decodeBody(w, r, &spec, "object: the "+kind+" as the configuration file writes it") {
			return
		}
		p, err := st.PutObject(r.Context(), kind, name, spec, apiActor(r), r.URL.Query().Get("force") == "true")
		if err != nil {
			s.objectError(w, kind, name, err)
			return
		}
		writeJSON(w, http.StatusOK, configResponse{Plan: p, HasChanges: p.HasChanges(), Applied: p.HasChanges()})
	}
}

func (s *Server) handleObjectDelete(kind string, nameOf func(*http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.objectStore(w)
		if !ok {
			return
		}
		name := nameOf(r)
		p, err := st.DeleteObject(r.Context(), kind, name, apiActor(r), r.URL.Query().Get("force") == "true")
		if err != nil {
			s.objectError(w, kind, name, err)
			return
		}
		writeJSON(w, http.StatusOK, configResponse{Plan: p, HasChanges: p.HasChanges(), Applied: p.HasChanges()})
	}
}

// pathName names the object by the path parameter param.
func pathName(param string) func(*http.Request) string {
	return func(r *http.Request) string { return chi.URLParam(r, param) }
}

// fixedName names the one object of a kind that has one (the default
// route).
func fixedName(name string) func(*http.Request) string {
	return func(*http.Request) string { return name }
}

func (s *Server) objectError(w http.ResponseWriter, kind, name string, err error) {
	if errors.Is(err, plan.ErrNoObject) {
		writeError(w, http.StatusNotFound, kind+" "+strconv.Quote(name)+" is not in the configuration", "name")
		return
	}
	s.configError(w, err)
}
