package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/attempts"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/store"
)

// hookResponse is the 202 body of a webhook.
type hookResponse struct {
	Accepted  int     `json:"accepted"`
	New       int     `json:"new"`
	Updated   int     `json:"updated"`
	Resolved  int     `json:"resolved"`
	Refired   int     `json:"refired"`
	Ignored   int     `json:"ignored"`
	Incidents []int64 `json:"incidents"`
	// Truncated repeats the sender's count of alerts it left out, so the
	// sender's logs show that the bot noticed.
	Truncated int `json:"truncated,omitempty"`
}

// handleHook takes one webhook: authenticate, bound the body, decode, and
// answer 202 only once the alerts are committed to disk.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "integration")
	in, ok := s.objects.Load().integrations[name]
	client := attempts.Client(r, s.trusted)
	// An unknown name is counted like a wrong token under one key per
	// client, so integration names cannot be enumerated at full speed.
	key := client + " " + name
	if !ok {
		key = client + " ?"
	}
	if !s.allowAttempt(w, "hooks", key, s.hookAttempts) {
		s.hookRequests.WithLabelValues(hookLabel(name, ok), "429").Inc()
		return
	}
	if !ok {
		s.failedAttempt(r, "hooks", key, s.hookAttempts, "integration", name)
		writeError(w, http.StatusNotFound, "unknown integration "+strconv.Quote(name), "")
		s.hookRequests.WithLabelValues("unknown", "404").Inc()
		return
	}
	if got := hookToken(r); got == "" || !newSecret(name, in.Token).matches(got) {
		if got != "" {
			s.failedAttempt(r, "hooks", key, s.hookAttempts, "integration", name)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="hooks"`)
		msg := "invalid integration token"
		if got == "" {
			msg = "missing integration token: send Authorization: Bearer <token> or ?token=<token>"
		}
		writeError(w, http.StatusUnauthorized, msg, "")
		s.hookRequests.WithLabelValues(name, "401").Inc()
		return
	}
	code := s.hook(w, r, name, in.Format, in.DefaultSeverity)
	s.hookRequests.WithLabelValues(name, strconv.Itoa(code)).Inc()
}

// hookLabel is the integration label of a request's metrics: its name, or
// "unknown" for a name no integration has (so a scan cannot add labels).
func hookLabel(name string, known bool) string {
	if known {
		return name
	}
	return "unknown"
}

func hookToken(r *http.Request) string {
	if t, ok := bearerToken(r); ok {
		return t
	}
	return r.URL.Query().Get("token")
}

// hook takes an authenticated webhook's body.
func (s *Server) hook(w http.ResponseWriter, r *http.Request, name, format string, def ingest.Severity) int {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body is larger than 1 MiB", "")
			return http.StatusRequestEntityTooLarge
		}
		writeError(w, http.StatusBadRequest, "could not read body: "+err.Error(), "")
		return http.StatusBadRequest
	}
	batch, err := ingest.Decode(format, body, ingest.Options{DefaultSeverity: def, Now: s.clock.Now()})
	if err != nil {
		var fe *ingest.FieldError
		if errors.As(err, &fe) {
			writeError(w, http.StatusBadRequest, fe.Error(), fe.Field)
			return http.StatusBadRequest
		}
		s.log.Error("decode webhook", "integration", name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error decoding the body", "")
		return http.StatusInternalServerError
	}
	if batch.Truncated > 0 {
		s.log.Warn("sender truncated alerts; the bot never saw them", "integration", name, "truncated", batch.Truncated)
	}
	res, err := s.incidents.Ingest(r.Context(), name, batch.Alerts)
	if err != nil && r.Context().Err() != nil {
		// The sender hung up before the commit; it saw no 202 and will
		// send again.
		s.log.Debug("sender left before its alerts were stored", "integration", name, "err", err)
		return 499
	}
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, store.ErrClosed) {
			code = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		}
		s.log.Error("ingest alerts", "integration", name, "alerts", len(batch.Alerts), "err", err)
		writeError(w, code, "alerts were not stored; retry", "")
		return code
	}
	s.countResult(name, res.New, "new")
	s.countResult(name, res.Updated, "updated")
	s.countResult(name, res.Resolved, "resolved")
	s.countResult(name, res.Refired, "refired")
	s.countResult(name, res.Ignored+batch.Ignored, "ignored")
	if res.Incidents == nil {
		res.Incidents = []int64{}
	}
	writeJSON(w, http.StatusAccepted, hookResponse{
		Accepted: len(batch.Alerts), New: res.New, Updated: res.Updated, Resolved: res.Resolved,
		Refired: res.Refired, Ignored: res.Ignored + batch.Ignored, Incidents: res.Incidents, Truncated: batch.Truncated,
	})
	return http.StatusAccepted
}

func (s *Server) countResult(integration string, n int, result string) {
	if n > 0 {
		s.alertsIngested.WithLabelValues(integration, result).Add(float64(n))
	}
}
