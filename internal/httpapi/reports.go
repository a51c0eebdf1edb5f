package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/oncallbot/bot/internal/report"
)

// Reporter makes handoff reports (the App).
type Reporter interface {
	HandoffReport(ctx context.Context, team string, args []string) (report.Handoff, error)
}

// handleHandoffReport answers GET /api/v1/reports/handoff?team=ops with
// from and to (dates, the day after the last), or week (2026-W48), or
// neither (the last full on-call week): the same JSON as
// `bot report --format json`.
func (s *Server) handleHandoffReport(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.config.(Reporter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this server makes no reports", "")
		return
	}
	q := r.URL.Query()
	team := q.Get("team")
	if team == "" {
		writeError(w, http.StatusBadRequest, "team is required", "team")
		return
	}
	var args []string
	switch from, to, week := q.Get("from"), q.Get("to"), q.Get("week"); {
	case week != "" && (from != "" || to != ""):
		writeError(w, http.StatusBadRequest, "give week, or from and to, not both", "week")
		return
	case week != "":
		args = []string{week}
	case from != "" && to != "":
		args = []string{from, to}
	case from != "" || to != "":
		writeError(w, http.StatusBadRequest, "from and to go together", "from")
		return
	}
	h, err := rep.HandoffReport(r.Context(), team, args)
	if errors.Is(err, report.ErrBadRange) {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if err != nil {
		s.log.Error("handoff report", "team", team, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	writeJSON(w, http.StatusOK, h)
}
