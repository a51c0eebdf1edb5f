package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/plan"
)

// ConfigApplier plans, applies and exports the configuration (the App).
type ConfigApplier interface {
	ApplyConfig(ctx context.Context, desired *config.Config, o plan.Options, actor string, commit bool) (plan.Plan, error)
	ReloadStartFile(ctx context.Context, actor string) (plan.Plan, error)
	ExportConfig(ctx context.Context) (files map[string][]byte, envNeeded []string, err error)
}

// maxConfigBytes bounds an uploaded configuration: hundreds of teams fit.
const maxConfigBytes = 8 << 20

// configRequest is the body of POST /api/v1/config/plan and /apply: the
// files, by name, as `bot plan -f` reads them, and the plan's options. An
// apply with no files reloads the files the bot started with.
type configRequest struct {
	Files          map[string]string `json:"files"`
	Prune          bool              `json:"prune"`
	OverwriteDrift bool              `json:"overwrite_drift"`
	// Force lets the apply remove what open incidents use; they move to
	// their route's current policy.
	Force bool `json:"force"`
}

// configResponse is a plan, and whether it was applied.
type configResponse struct {
	plan.Plan
	HasChanges bool `json:"has_changes"`
	Applied    bool `json:"applied"`
}

// configErrors is a 400 for files that do not validate: every problem,
// each naming its file:line:column.
type configErrors struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors"`
}

func (s *Server) handleConfig(commit bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.config == nil {
			writeError(w, http.StatusNotImplemented, "this server does not manage its configuration", "")
			return
		}
		var req configRequest
		if r.ContentLength != 0 {
			r.Body = http.MaxBytesReader(w, r.Body, maxConfigBytes)
			if !decodeBody(w, r, &req, `{"files": {"ops.yaml": "..."}, "prune": false, "overwrite_drift": false, "force": false}`) {
				return
			}
		}
		actor := apiActor(r)
		var p plan.Plan
		var err error
		if len(req.Files) == 0 {
			if !commit {
				writeError(w, http.StatusBadRequest, "files is empty: give the files to plan", "files")
				return
			}
			p, err = s.config.ReloadStartFile(r.Context(), actor)
		} else {
			files := map[string][]byte{}
			for name, body := range req.Files {
				files[name] = []byte(body)
			}
			var desired *config.Config
			desired, err = config.ParseFiles(files)
			if err == nil {
				if set := desired.ServerSettings(); len(set) > 0 {
					writeJSON(w, http.StatusBadRequest, configErrors{Error: "server settings stay in the bot's own file; an apply does not change them",
						Errors: set})
					return
				}
				p, err = s.config.ApplyConfig(r.Context(), desired, plan.Options{Prune: req.Prune, OverwriteDrift: req.OverwriteDrift, Force: req.Force}, actor, commit)
			}
		}
		if err != nil {
			s.configError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, configResponse{Plan: p, HasChanges: p.HasChanges(), Applied: commit && p.HasChanges()})
	}
}

// configError answers a failed plan or apply: what the files got wrong is
// a 400 listing every problem; a reload that could not follow a committed
// apply, or anything else, a 500.
func (s *Server) configError(w http.ResponseWriter, err error) {
	var fe *config.FieldError
	if errors.As(err, &fe) || errors.Is(err, plan.ErrInvalid) {
		msg := strings.TrimPrefix(err.Error(), plan.ErrInvalid.Error()+": ")
		var list []string
		for _, line := range strings.Split(msg, "\n") {
			if line != "" {
				list = append(list, line)
			}
		}
		writeJSON(w, http.StatusBadRequest, configErrors{Error: plan.ErrInvalid.Error(), Errors: list})
		return
	}
	s.log.Error("configuration apply", "err", err)
	writeError(w, http.StatusInternalServerError, err.Error(), "")
}

func (s *Server) handleConfigExport(w http.ResponseWriter, r *http.Request) {
	if s.config == nil {
		writeError(w, http.StatusNotImplemented, "this server does not manage its configuration", "")
		return
	}
	files, env, err := s.config.ExportConfig(r.Context())
	if err != nil {
		s.log.Error("configuration export", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	out := struct {
		Files map[string]string `json:"files"`
		// Env names the variables the export writes literal secrets as.
		Env []string `json:"env"`
	}{Files: map[string]string{}, Env: env}
	for name, b := range files {
		out.Files[name] = string(b)
	}
	if out.Env == nil {
		out.Env = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}
