// Package httpapi is the bot's HTTP surface: monitoring webhooks under
// /hooks, the REST API under /api/v1, and health and metrics endpoints.
// Every request that changes or reads incident data is authenticated.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oncallbot/bot/internal/attempts"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/notify"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/plan"
)

// MaxBodyBytes bounds a webhook body; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// Options wire a Server.
type Options struct {
	Incidents *incident.Service
	OnCall    *oncall.Service
	Escalator Escalator
	// Assigner gives incidents to people (POST .../assign); nil turns
	// the action off.
	Assigner Assigner
	// Twilio answers Twilio's webhooks when SMS and voice are configured.
	Twilio *notify.TwilioInbound
	// BaseURL is the bot's public URL, for the links it hands out.
	BaseURL string
	// Console, when set, serves the web console's pages at the root.
	Console interface{ Routes(chi.Router) }
	// Mounts add the inbound endpoints of chat adapters.
	Mounts       []func(chi.Router)
	Integrations []config.Integration
	APITokens    []config.APIToken
	// Teams say which teams use each schedule, for tokens whose schedule
	// scope names teams.
	Teams []config.Team
	// MetricsToken, when set, is the bearer token /metrics asks for;
	// "" leaves /metrics open.
	MetricsToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client, for the limits on failed attempts.
	TrustedProxies []netip.Prefix
	// Config plans, applies and exports the configuration
	// (/api/v1/config/...); nil answers 501.
	Config ConfigApplier
	// Ready reports whether the bot can take writes, for /readyz.
	Ready    func(ctx context.Context) error
	Clock    clock.Clock
	Logger   *slog.Logger
	Registry *prometheus.Registry
}

// Escalator moves an incident's escalation to its next step now.
type Escalator interface {
	Escalate(ctx context.Context, id int64, actor string) error
}

// Assigner gives an incident to a person, paging them when page is set.
type Assigner interface {
	Assign(ctx context.Context, id int64, actor, person string, page bool) (incident.Incident, error)
}

// Server holds the handlers' dependencies.
type Server struct {
	incidents *incident.Service
	oncall    *oncall.Service
	escalator Escalator
	assigner  Assigner
	twilio    *notify.TwilioInbound
	baseURL   string
	console   interface{ Routes(chi.Router) }
	mounts    []func(chi.Router)
	// objects is what the configuration in force says of integrations,
	// API tokens and teams; Reload swaps it whole.
	objects      atomic.Pointer[objects]
	metricsToken *secret // nil: /metrics is open
	ready        func(ctx context.Context) error
	config       ConfigApplier
	trusted      []netip.Prefix
	apiAttempts  *attempts.Limiter
	hookAttempts *attempts.Limiter
	clock        clock.Clock
	log          *slog.Logger
	registry     *prometheus.Registry

	alertsIngested *prometheus.CounterVec
	hookRequests   *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	authFailures   *prometheus.CounterVec
	authRefused    *prometheus.CounterVec
}

// Failed attempts allowed per client before it is refused for a while
// (see package attempts). A monitoring system or a script with the right
// token never fails; one with a wrong token gets a few tries, then one a
// minute (API) or two a minute (hooks). Hooks are counted per integration
// too, so a misconfigured sender cannot shut out a working one that posts
// from the same address to another integration.
var (
	apiPolicy  = attempts.Policy{Burst: 10, Every: time.Minute}
	hookPolicy = attempts.Policy{Burst: 20, Every: 30 * time.Second}
)

// objects is one configuration's integrations, tokens and schedule
// owners, as the handlers look them up.
type objects struct {
	integrations map[string]config.Integration
	apiTokens    []secret
	// tokenScopes is each API token's scopes, by name.
	tokenScopes map[string]config.APIToken
	// scheduleTeams lists the teams that use each schedule.
	scheduleTeams map[string][]string
}

func newObjects(integrations []config.Integration, tokens []config.APIToken, teams []config.Team) *objects {
	o := &objects{integrations: map[string]config.Integration{}, tokenScopes: map[string]config.APIToken{},
		scheduleTeams: map[string][]string{}}
	for _, in := range integrations {
		o.integrations[in.Name] = in
	}
	for _, t := range tokens {
		o.apiTokens = append(o.apiTokens, newSecret(t.Name, t.Token))
		o.tokenScopes[t.Name] = config.APIToken{Name: t.Name, Scopes: t.Scopes} // the secret stays out
	}
	for _, t := range teams {
		if t.Schedule != "" {
			o.scheduleTeams[t.Schedule] = append(o.scheduleTeams[t.Schedule], t.Name)
		}
	}
	return o
}

// Reload puts a new configuration's integrations, API tokens and teams in
// force for the requests that come after it.
func (s *Server) Reload(cfg *config.Config) {
	s.objects.Store(newObjects(cfg.Integrations, cfg.APITokens, cfg.Teams))
}

// secret is a token stored as its SHA-256, so comparisons take the same
// time whatever the length or content of the guess.
type secret struct {
	name string
	hash [32]byte
}

func newSecret(name, token string) secret {
	return secret{name: name, hash: sha256.Sum256([]byte(token))}
}

func (s secret) matches(token string) bool {
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], s.hash[:]) == 1
}

// New builds the server and registers its metrics on opts.Registry.
func New(opts Options) *Server {
	s := &Server{
		incidents:    opts.Incidents,
		oncall:       opts.OnCall,
		escalator:    opts.Escalator,
		assigner:     opts.Assigner,
		twilio:       opts.Twilio,
		baseURL:      strings.TrimRight(opts.BaseURL, "/"),
		console:      opts.Console,
		mounts:       opts.Mounts,
		ready:        opts.Ready,
		config:       opts.Config,
		trusted:      opts.TrustedProxies,
		apiAttempts:  attempts.New(apiPolicy, opts.Clock.Now),
		hookAttempts: attempts.New(hookPolicy, opts.Clock.Now),
		clock:        opts.Clock,
		log:          opts.Logger,
		registry:     opts.Registry,
		alertsIngested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_alerts_ingested_total",
			Help: "Alerts received by integration and what became of them (new, updated, resolved, refired, ignored).",
		}, []string{"integration", "result"}),
		hookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_webhook_requests_total",
			Help: "Webhook requests by integration and HTTP status code.",
		}, []string{"integration", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bot_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_auth_failures_total",
			Help: "Requests with a wrong token, by surface (api, hooks).",
		}, []string{"surface"}),
		authRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_auth_throttled_total",
			Help: "Requests refused with 429 because their client had too many failed attempts, by surface (api, hooks).",
		}, []string{"surface"}),
	}
	s.objects.Store(newObjects(opts.Integrations, opts.APITokens, opts.Teams))
	if opts.MetricsToken != "" {
		t := newSecret("metrics", opts.MetricsToken)
		s.metricsToken = &t
	}
	opts.Registry.MustRegister(s.alertsIngested, s.hookRequests, s.latency, s.authFailures, s.authRefused)
	return s
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.observe)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.handleReady)
	r.With(s.requireMetricsToken).Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	r.Post("/hooks/{integration}", s.handleHook)
	r.Get("/ical/schedules/{file}", s.handleFeed("schedule"))
	r.Get("/ical/users/{file}", s.handleFeed("user"))
	if opts := s.twilio; opts != nil {
		r.Post("/twilio/sms", opts.SMS)
		r.Post("/twilio/voice", opts.Voice)
		r.Post("/twilio/status", opts.Status)
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.requireAPIToken)
		read := r.With(s.need(config.ScopeRead))
		respond := r.With(s.need(config.ScopeRespond))
		schedule := r.With(s.needSchedule)
		read.Get("/incidents", s.handleListIncidents)
		read.Get("/incidents/{id}", s.handleGetIncident)
		read.Get("/incidents/{id}/alerts", handleIncidentList(s, "alerts", s.readAlerts))
		read.Get("/incidents/{id}/timeline", handleIncidentList(s, "timeline", s.readTimeline))
		respond.Post("/incidents/{id}/{action}", s.handleIncidentAction)
		read.Get("/schedules", s.handleListSchedules)
		read.Get("/schedules/{schedule}", s.handleGetSchedule)
		read.Get("/schedules/{schedule}/overrides", s.handleListOverrides)
		schedule.Post("/schedules/{schedule}/overrides", s.handleCreateOverride)
		schedule.Delete("/schedules/{schedule}/overrides/{id}", s.handleDeleteOverride)
		read.Get("/schedules/{schedule}/swaps", s.handleListSwaps)
		schedule.Post("/schedules/{schedule}/swaps", s.handleRequestSwap)
		schedule.Post("/schedules/{schedule}/swaps/{id}/{action}", s.handleSwapAction)
		schedule.Post("/schedules/{schedule}/take", s.handleTakeShift)
		schedule.Patch("/schedules/{schedule}/layers/{layer}", s.handleEditLayer)
		read.Get("/teams/{team}/oncall", s.handleTeamOnCall)
		read.Get("/users/{user}/shifts", s.handleUserShifts)
		admin := r.With(s.need(config.ScopeAdmin))
		for _, o := range objectPaths {
			// API tokens' names and scopes are for admins to see.
			list := read
			if o.kind == plan.KindAPIToken {
				list = admin
			}
			list.Get(o.path, s.handleObjectList(o.kind))
			list.Get(o.path+"/{name}", s.handleObjectGet(o.kind, pathName("name")))
			admin.Put(o.path+"/{name}", s.handleObjectPut(o.kind, pathName("name")))
			admin.Delete(o.path+"/{name}", s.handleObjectDelete(o.kind, pathName("name")))
		}
		read.Get("/schedules/{schedule}/definition", s.handleObjectGet(plan.KindSchedule, pathName("schedule")))
		admin.Put("/schedules/{schedule}", s.handleObjectPut(plan.KindSchedule, pathName("schedule")))
		admin.Delete("/schedules/{schedule}", s.handleObjectDelete(plan.KindSchedule, pathName("schedule")))
		read.Get("/default-route", s.handleObjectGet(plan.KindDefaultRoute, fixedName("default")))
		admin.Put("/default-route", s.handleObjectPut(plan.KindDefaultRoute, fixedName("default")))
		admin.Post("/config/plan", s.handleConfig(false))
		admin.Post("/config/apply", s.handleConfig(true))
		admin.Get("/config/export", s.handleConfigExport)
		read.Get("/openapi.json", s.handleOpenAPI)
		read.Get("/reports/handoff", s.handleHandoffReport)
	})
	if s.console != nil {
		s.console.Routes(r)
	}
	for _, m := range s.mounts {
		m(r)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path, "")
	})
	return r
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		// The cause stays in the log: /readyz is public, and a database
		// error can name files and internals.
		s.log.Warn("readiness check failed: database is not writable", "err", err)
		writeError(w, http.StatusServiceUnavailable, "not ready", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// recoverer turns a handler panic into a 500, so one bad request never
// takes the process (and everyone's pages) down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in HTTP handler", "method", r.Method, "path", r.URL.Path, "panic", p)
				writeError(w, http.StatusInternalServerError, "internal error", "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (to flush a
// stream).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		s.latency.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

type ctxKey struct{}

func (s *Server) requireAPIToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := attempts.Client(r, s.trusted)
		if !s.allowAttempt(w, "api", client, s.apiAttempts) {
			return
		}
		token, ok := bearerToken(r)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			writeError(w, http.StatusUnauthorized, "missing API token: send Authorization: Bearer <token>", "")
			return
		}
		for _, t := range s.objects.Load().apiTokens {
			if t.matches(token) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t.name)))
				return
			}
		}
		s.failedAttempt(r, "api", client, s.apiAttempts, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid API token", "")
	})
}

// token is the API token a request was authenticated with.
func (s *Server) token(r *http.Request) config.APIToken {
	name, _ := r.Context().Value(ctxKey{}).(string)
	return s.objects.Load().tokenScopes[name]
}

// need answers 403 naming the scope unless the request's token has it.
func (s *Server) need(scope config.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if t := s.token(r); !t.Allows(scope, "") {
				forbid(w, t, string(scope))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// needSchedule asks for the schedule scope on the {schedule} of the path:
// a token scoped to teams may change a schedule only when it names every
// team that uses it (a change to a shared schedule changes them all), and
// a schedule no team uses only with the unscoped schedule scope.
func (s *Server) needSchedule(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.token(r)
		if t.Allows(config.ScopeSchedule, "") {
			next.ServeHTTP(w, r)
			return
		}
		teams := s.objects.Load().scheduleTeams[chi.URLParam(r, "schedule")]
		if len(teams) == 0 {
			forbid(w, t, string(config.ScopeSchedule))
			return
		}
		for _, team := range teams {
			if !t.Allows(config.ScopeSchedule, team) {
				forbid(w, t, "schedule:"+team)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func forbid(w http.ResponseWriter, t config.APIToken, scope string) {
	writeError(w, http.StatusForbidden, fmt.Sprintf("API token %q lacks the scope %q this needs (it has: %s)",
		t.Name, scope, strings.Join(t.Scopes, ", ")), "")
}

// allowAttempt answers 429 when key has used its failed attempts, and
// reports whether the request may go on to be authenticated. A client that
// is refused is refused whatever it sends: checking its token first would
// let it go on guessing at full speed.
func (s *Server) allowAttempt(w http.ResponseWriter, surface, key string, l *attempts.Limiter) bool {
	wait, ok := l.Allow(key)
	if ok {
		return true
	}
	s.authRefused.WithLabelValues(surface).Inc()
	w.Header().Set("Retry-After", attempts.RetryAfter(wait))
	writeError(w, http.StatusTooManyRequests,
		"too many failed attempts with a wrong token from this address; try again in "+attempts.RetryAfter(wait)+"s", "")
	return false
}

// failedAttempt counts and logs a request with a wrong token. Each failure
// is logged (there are at most a burst of them per client before it is
// refused), and so is the moment a client is shut out; the refusals that
// follow are only counted, so a flood cannot flood the log.
func (s *Server) failedAttempt(r *http.Request, surface, key string, l *attempts.Limiter, args ...any) {
	s.authFailures.WithLabelValues(surface).Inc()
	shut := l.Fail(key)
	args = append([]any{"surface", surface, "client", attempts.Client(r, s.trusted), "peer", r.RemoteAddr}, args...)
	s.log.Warn("request with a wrong token", args...)
	if shut {
		s.log.Warn("client refused for a while: too many wrong tokens", args...)
	}
}

// requireMetricsToken asks for the metrics token when one is configured;
// without one /metrics is open (it holds counts, no incident data).
func (s *Server) requireMetricsToken(next http.Handler) http.Handler {
	if s.metricsToken == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeError(w, http.StatusUnauthorized, "missing metrics token: send Authorization: Bearer <metrics_token>", "")
			return
		}
		if !s.metricsToken.matches(token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid metrics token", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken reads "Authorization: Bearer <token>". The scheme is
// case-insensitive (RFC 9110 §11.1) and parted from the token by one or
// more spaces; the token is taken as sent, for a constant-time comparison
// with the configured ones.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

// apiActor names who made an API call, for the timeline.
func apiActor(r *http.Request) string {
	name, _ := r.Context().Value(ctxKey{}).(string)
	return "api:" + name
}

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg, field string) {
	writeJSON(w, code, errorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}
