package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/attempts"
	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/report"
	"github.com/oncallbot/bot/internal/shutdown"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the pages.
type Console struct {
	platform  *Platform
	exec      *chat.Executor
	incidents *incident.Service
	oncall    *oncall.Service
	// teams is who is in which team, for the on-call page and the
	// visibility of incidents; swapped whole by Reload, so a page or an
	// event is decided by one version.
	teams atomic.Pointer[[]config.Team]
	// reports makes the Reports pages' reports; nil turns them off.
	reports Reporter
	// triages reads the incidents' triage reports for the Triage pages;
	// nil turns them off (triage.go).
	triages Triages
	tokens  []consoleToken
	// signIns counts failed sign-ins per client (see package attempts).
	signIns *attempts.Limiter
	trusted []netip.Prefix
	// visibility is config.ConsoleVisibility: which incidents a person
	// sees (visibility.go).
	visibility string
	// teamOf caches each incident's team, for the visibility check of
	// every live-update event.
	teamOf sync.Map // int64 -> string
	key    []byte
	ttl    time.Duration // how long a sign-in lasts
	// httpsBase says base_url is https: the bot sits behind a proxy that
	// terminates TLS, so its cookies are Secure though r.TLS is nil.
	httpsBase bool
	// origin is base_url's scheme://host[:port] when base_url is
	// configured, "" when it was derived (see sameOrigin).
	origin string
	clock  clock.Clock
	log    *slog.Logger
	tmpl   *template.Template

	mu        sync.Mutex
	signedOut map[string]time.Time // person -> when they last signed out
}

// consoleToken is a sign-in token kept as its SHA-256, so checking a
// guess takes the same time whatever its length or content.
type consoleToken struct {
	hash   [32]byte
	person string
}

// signInPolicy lets a client mistype a token a few times, then try once a
// minute.
var signInPolicy = attempts.Policy{Burst: 10, Every: time.Minute}

// NewConsole builds the console. cfg's console tokens sign people in for
// cfg.ConsoleSession, timed by clk.
func NewConsole(p *Platform, exec *chat.Executor, inc *incident.Service, oc *oncall.Service, cfg *config.Config, clk clock.Clock, log *slog.Logger) (*Console, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	ttl := cfg.ConsoleSession.Std()
	if ttl <= 0 { // a Config not from config.Parse
		ttl = 12 * time.Hour
	}
	c := &Console{platform: p, exec: exec, incidents: inc, oncall: oc,
		signIns: attempts.New(signInPolicy, clk.Now), trusted: cfg.TrustedProxyPrefixes(), visibility: cfg.ConsoleVisibility,
		key: key, ttl: ttl, clock: clk, log: log, signedOut: map[string]time.Time{}}
	if u, err := url.Parse(cfg.BaseURL); err == nil && strings.EqualFold(u.Scheme, "https") {
		c.httpsBase = true
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Host != "" && !cfg.BaseURLDerived() {
		c.origin = originOf(u)
	}
	c.Reload(cfg)
	for _, t := range cfg.ConsoleTokens {
		c.tokens = append(c.tokens, consoleToken{hash: sha256.Sum256([]byte(t.Token)), person: t.Person})
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"when":    func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 15:04 MST") },
		"join":    func(s []string) string { return strings.Join(s, ", ") },
		"seconds": seconds,
		"bucket":  func(m map[report.Bucket]int, b string) int { return m[report.Bucket(b)] },
		"percent": percent,
		"zoned":   func(t time.Time) string { return t.Format("Mon 2 Jan 15:04 MST") },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	c.tmpl = tmpl
	return c, nil
}

// Reload puts cfg's teams in force for the pages and live updates served
// from now: the teams the on-call page lists and, under
// console_visibility: teams, whose incidents each person sees (a stream
// already open follows too, from its next event). Console tokens, the
// session length, the visibility setting and the origin are server
// settings and stay as the console started; so do the sessions signed
// in.
func (c *Console) Reload(cfg *config.Config) {
	teams := slices.Clone(cfg.Teams)
	c.teams.Store(&teams)
}

// Routes mounts the console's pages.
func (c *Console) Routes(r chi.Router) {
	static, _ := fs.Sub(staticFS, "static")
	r.Group(func(r chi.Router) {
		r.Use(securityHeaders)
		r.Handle("/static/*", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
		r.Get("/login", c.loginPage)
		r.With(c.sameOrigin).Post("/login", c.login)
		r.Group(func(r chi.Router) {
			r.Use(c.requireSession, c.sameOrigin)
			r.Post("/logout", c.logout)
			r.Get("/", c.incidentsPage)
			r.Get("/incidents/{id}", c.roomPage)
			r.Post("/incidents/{id}/command", c.command)
			r.Get("/incidents/{id}/triage", c.triagePage)
			r.Get("/incidents/{id}/triage/chart.svg", c.triageChart)
			r.Get("/oncall", c.oncallPage)
			r.Get("/schedules/{team}", c.schedulePage)
			r.Get("/reports", c.reportsIndex)
			r.Get("/reports/{team}", c.reportPage)
			r.Get("/reports/{team}/chart.svg", c.reportChart)
			r.Post("/command", c.command)
			r.Get("/events", c.events)
		})
	})
}

// contentSecurityPolicy lets a console page load scripts, styles, images
// and its event stream from this site only, post forms only here, and be
// framed by no one. The pages hold no inline script or style (the styles
// are static/console.css), so nothing needs 'unsafe-inline'.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders marks every console response: the policy above, no
// content-type sniffing, and no Referer to other sites (a page's URL
// names incidents).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
		next.ServeHTTP(w, r)
	})
}

const cookieName = "oncall_console"

// A session is a person signed in at a time.
type session struct {
	person string
	issued time.Time
}

// A session cookie is the person's name, the time they signed in and an
// HMAC of both under a key made at start. The server keeps no session
// table: a cookie is good until ttl after it was issued, unless its person
// signed out since (signedOut). Both the key and signedOut live in memory
// only, and that is enough: a restart makes a new key, so it signs
// everyone out, and no cookie from before a sign-out can outlive the
// process that recorded it. Signing in again after a restart is the price.
func (c *Console) sign(s session) string {
	payload := url.QueryEscape(s.person) + "." + strconv.FormatInt(s.issued.UnixNano(), 10)
	return payload + "." + c.mac(payload)
}

func (c *Console) mac(payload string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// session reads a genuine cookie that is still good.
func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	// The signature is after the last dot and the issue time before it: a
	// name may have dots of its own (QueryEscape keeps them).
	i := strings.LastIndexByte(ck.Value, '.')
	if i < 0 || !hmac.Equal([]byte(c.mac(ck.Value[:i])), []byte(ck.Value[i+1:])) {
		return session{}, false
	}
	name, issued, ok := cutLast(ck.Value[:i], '.')
	if !ok {
		return session{}, false
	}
	person, err := url.QueryUnescape(name)
	if err != nil {
		return session{}, false
	}
	nanos, err := strconv.ParseInt(issued, 10, 64)
	if err != nil {
		return session{}, false
	}
	s := session{person: person, issued: time.Unix(0, nanos)}
	return s, c.live(s)
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// live reports whether s is within its ttl and was issued after its
// person last signed out. A sign-in in the very instant of a sign-out
// goes with it: erring towards signing out.
func (c *Console) live(s session) bool {
	if !c.clock.Now().Before(s.issued.Add(c.ttl)) {
		return false
	}
	c.mu.Lock()
	out, ok := c.signedOut[s.person]
	c.mu.Unlock()
	return !ok || s.issued.After(out)
}

type ctxKey struct{}

func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		if !ok {
			if r.Method == http.MethodGet && r.URL.Path != "/events" {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

// sameOrigin refuses a state-changing request (a POST) that a browser
// made for another site: forms post with the session cookie, and signing
// in sets one. The cookie is SameSite=Strict too; this does not rest on it.
//
// The console's own origin is base_url's when base_url is configured, and
// otherwise the request's Host (a derived base_url names the listen
// address, which a browser may reach by another name). A POST goes
// through when, first to answer:
//
//   - Sec-Fetch-Site is same-origin or none (the person typed or
//     bookmarked it): the browser itself says where the request came from,
//     and no page can set or change the header. Any other value
//     (cross-site, same-site) is refused: a sibling subdomain is another
//     site's page too.
//   - Origin names the console's own origin. "Origin: null" is refused: it
//     is what a browser sends from an opaque origin (a sandboxed frame, a
//     data: or file: page, a redirect across sites), which is where a
//     forged post would come from.
//   - with neither, Referer names a page of the console's own origin.
//
// A POST with none of the three goes through too. Every browser in use
// sends Origin on a POST and Sec-Fetch-Site on every request, so such a
// POST comes from a client that is not a browser (a script, a load test,
// the bot's own tests), and a client that is not a browser could send any
// header it liked: refusing it would protect no one and would only break
// the scripts. A browser old enough to send neither (Firefox before 70)
// still sends the SameSite=Strict cookie only to same-site requests; what
// is left open there is a forged sign-in from a page that also suppresses
// its Referer.
func (c *Console) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if why := c.crossSite(r); why != "" {
				c.log.Warn("console refused a cross-site request", "method", r.Method, "path", r.URL.Path, "why", why)
				http.Error(w, "cross-site request refused: "+why, http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite says why r is not from one of the console's own pages, or ""
// when it is (or cannot tell, see sameOrigin).
func (c *Console) crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return ""
	case "":
	default:
		return "Sec-Fetch-Site " + site + " (a page of another site)"
	}
	if o := r.Header.Get("Origin"); o != "" {
		if o == "null" {
			return "Origin null (a sandboxed frame, a local file or a redirect from another site)"
		}
		if !c.ownOrigin(r, o) {
			return "Origin " + o + " is not this site, " + c.ownName(r)
		}
		return ""
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		if !c.ownOrigin(r, ref) {
			return "no Origin, and Referer " + refererOrigin(ref) + " is not this site, " + c.ownName(r)
		}
	}
	return ""
}

// ownOrigin reports whether raw (an Origin, or a Referer's URL) is of the
// console's own origin: base_url's scheme, host and port, or, without
// base_url, the request's Host.
func (c *Console) ownOrigin(r *http.Request, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	if c.origin == "" {
		return strings.EqualFold(u.Host, r.Host)
	}
	return strings.EqualFold(originOf(u), c.origin)
}

// ownName is the console's own origin, for a refusal.
func (c *Console) ownName(r *http.Request) string {
	if c.origin != "" {
		return c.origin
	}
	return r.Host
}

// originOf is u's scheme://host[:port], without a default port, as a
// browser writes an Origin.
func originOf(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if port := u.Port(); scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host
}

// refererOrigin names a Referer by its origin only: its path and query
// are another site's business, and a log line is no place for them.
func refererOrigin(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return originOf(u)
}

func sessionOf(r *http.Request) session { s, _ := r.Context().Value(ctxKey{}).(session); return s }

func me(r *http.Request) string { return sessionOf(r).person }

type page struct {
	Title, Me, Flash string
}

// render executes a page into a buffer first, so a template that fails
// halfway is a 500 rather than half a page with a 200.
func (c *Console) render(w http.ResponseWriter, name string, data any) {
	c.renderCode(w, http.StatusOK, name, data)
}

// renderCode is render with another status code than 200.
func (c *Console) renderCode(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		c.log.Error("render console page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login.html", page{Title: "Sign in", Flash: r.URL.Query().Get("msg")})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r, 4<<10) {
		return
	}
	client := attempts.Client(r, c.trusted)
	if wait, ok := c.signIns.Allow(client); !ok {
		// Refused whatever the token: checking it would let a guesser go
		// on at full speed.
		w.Header().Set("Retry-After", attempts.RetryAfter(wait))
		c.renderCode(w, http.StatusTooManyRequests, "login.html", page{Title: "Sign in",
			Flash: "Too many failed sign-ins from this address. Try again in " + attempts.RetryAfter(wait) + " seconds."})
		return
	}
	guess := sha256.Sum256([]byte(r.PostFormValue("token")))
	var person string
	for _, t := range c.tokens {
		if subtle.ConstantTimeCompare(guess[:], t.hash[:]) == 1 {
			person = t.person
		}
	}
	if person == "" {
		shut := c.signIns.Fail(client)
		c.log.Warn("console sign-in failed: wrong token", "client", client, "peer", r.RemoteAddr)
		if shut {
			c.log.Warn("console sign-ins refused for a while: too many wrong tokens", "client", client)
		}
		c.renderCode(w, http.StatusUnauthorized, "login.html", page{Title: "Sign in", Flash: "That token is not valid."})
		return
	}
	c.log.Info("console sign-in", "person", person, "client", client)
	// Max-Age lets the browser drop the cookie when it ends; the signed
	// issue time is what the server trusts.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.sign(session{person: person, issued: c.clock.Now()}),
		Path: "/", MaxAge: int(c.ttl / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// secure says whether the session cookie is marked Secure: when the
// request came over TLS, or when base_url is https (a proxy in front
// terminates TLS, so the bot itself sees plain HTTP).
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.httpsBase }

// parseForm reads a posted form of at most limit bytes, answering 413 or
// 400 when it cannot, rather than going on with empty fields.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("form is too large: over %d KiB", limit>>10), http.StatusRequestEntityTooLarge)
	case err != nil:
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
	default:
		return true
	}
	return false
}

// logout ends every session of the person issued until now, on every
// device, and ends their open streams.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	person := me(r)
	c.mu.Lock()
	c.signedOut[person] = c.clock.Now()
	c.mu.Unlock()
	c.platform.broker.publish(event{Kind: kindSignedOut, Person: person})
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request) {
	f := incident.Filter{Limit: 100}
	if st, ok := incident.ParseStatus(r.URL.Query().Get("status")); ok {
		f.Status = st
	}
	list, err := c.visibleList(r.Context(), me(r), f)
	if err != nil {
		c.log.Error("console incident list", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if f.Status == "" { // "open": what needs a person
		open := list[:0]
		for _, inc := range list {
			if inc.Status != incident.StatusResolved {
				open = append(open, inc)
			}
		}
		list = open
	}
	c.render(w, "incidents.html", struct {
		page
		Incidents []incident.Incident
	}{page{Title: "Incidents", Me: me(r), Flash: r.URL.Query().Get("msg")}, list})
}

// roomPageSize is how many alerts, and how many timeline entries, an
// incident's room shows at once: an incident of 8,000 alerts still makes a
// page of a few hundred KiB, with links to the rest.
const roomPageSize = 100

func (c *Console) roomPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	inc, err := c.incidents.Incident(r.Context(), id)
	if err != nil || !c.sees(me(r), inc) {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	alertsAt, timelineAt := q.Get("alerts"), q.Get("timeline")
	alerts, err := c.incidents.ListAlerts(r.Context(), id, incident.Page{Limit: roomPageSize, Cursor: alertsAt})
	if err == nil {
		var events incident.EventPage
		if events, err = c.incidents.ListTimeline(r.Context(), id, incident.Page{Limit: roomPageSize, Cursor: timelineAt}); err == nil {
			c.render(w, "room.html", roomData{
				page:     page{Title: fmt.Sprintf("#%d %s", id, inc.Title), Me: me(r), Flash: q.Get("msg")},
				ID:       id,
				Room:     roomOf(id).ID,
				Card:     chat.NewCard(inc, time.UTC),
				Alerts:   alerts,
				Timeline: events,
				// Each list keeps its place while the other moves on.
				MoreAlerts:   moreLink(alerts.Next, roomLink(id, alerts.Next, timelineAt)),
				MoreTimeline: moreLink(events.Next, roomLink(id, alertsAt, events.Next)),
				FirstPages:   roomLink(id, "", ""),
				Paged:        alertsAt != "" || timelineAt != "",
				Triage:       c.triages != nil,
			})
			return
		}
	}
	if errors.Is(err, incident.ErrBadCursor) {
		http.Error(w, "that page of the incident is not one this console linked to; start from the incident's first page", http.StatusBadRequest)
		return
	}
	c.log.Error("console incident room", "incident", id, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// roomData is what room.html shows.
type roomData struct {
	page
	ID       int64
	Room     string
	Card     chat.Card
	Alerts   incident.AlertPage
	Timeline incident.EventPage
	// MoreAlerts and MoreTimeline link to the next page of each list, ""
	// on its last page; FirstPages back to the start of both.
	MoreAlerts, MoreTimeline, FirstPages string
	Paged                                bool
	// Triage says the console has Triage pages, for the room's link.
	Triage bool
}

// moreLink is link when there is a next page (next != ""), else "".
func moreLink(next, link string) string {
	if next == "" {
		return ""
	}
	return link
}

// roomLink is the room's URL at the given page of each list.
func roomLink(id int64, alerts, timeline string) string {
	v := url.Values{}
	if alerts != "" {
		v.Set("alerts", alerts)
	}
	if timeline != "" {
		v.Set("timeline", timeline)
	}
	u := "/incidents/" + strconv.FormatInt(id, 10)
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

// command runs a command line, in an incident's room or from the on-call
// page, through the same executor as every platform.
func (c *Console) command(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r, 8<<10) {
		return
	}
	line := r.PostFormValue("line")
	req := chat.Request{User: me(r), Platform: "web"}
	back := "/oncall"
	if idText := chi.URLParam(r, "id"); idText != "" {
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil || !c.seesID(r.Context(), me(r), id) {
			http.NotFound(w, r)
			return
		}
		req.Incident = id
		back = "/incidents/" + idText
	}
	reply := c.exec.Run(r.Context(), req, line)
	if back == "/oncall" {
		c.renderOnCall(w, r, reply.Text)
		return
	}
	http.Redirect(w, r, back+"?msg="+url.QueryEscape(reply.Text), http.StatusSeeOther)
}

func (c *Console) oncallPage(w http.ResponseWriter, r *http.Request) { c.renderOnCall(w, r, "") }

func (c *Console) renderOnCall(w http.ResponseWriter, r *http.Request, reply string) {
	var teams []oncall.TeamOnCall
	for _, t := range *c.teams.Load() {
		oc, err := c.oncall.TeamOnCall(t.Name, 2)
		if err == nil {
			teams = append(teams, oc)
		}
	}
	c.render(w, "oncall.html", struct {
		page
		Teams []oncall.TeamOnCall
		Reply string
	}{page{Title: "On call", Me: me(r)}, teams, reply})
}

// events streams what changed to an open page (server-sent events).
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	// A person's streams are capped (MaxStreamsPerPerson).
	s := sessionOf(r)
	ch, ok := c.platform.broker.subscribe(s.person)
	if !ok {
		http.Error(w, fmt.Sprintf("too many live-update streams open for %s: at most %d at once; close a console tab or window",
			s.person, c.platform.broker.max), http.StatusTooManyRequests)
		return
	}
	defer c.platform.broker.unsubscribe(ch)
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout; browsers reconnect
	// by themselves if it drops anyway.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	// The stream ends with its session: at its expiry, or when its person
	// signs out. The broker tells the person's streams of a sign-out, and
	// each event is checked against the session before it is sent, in
	// case that notice was dropped. It ends too when the server begins to
	// shut down, which would otherwise wait for it until its deadline; the
	// browser reconnects by itself, to whichever bot serves next.
	closing := shutdown.Started(r.Context())
	end := c.clock.NewTimer(s.issued.Add(c.ttl).Sub(c.clock.Now()))
	defer end.Stop()
	// A comment every StreamHeartbeat keeps proxies from cutting a quiet
	// stream, and finds a client gone without a word (its write fails),
	// which frees its place under the cap.
	heartbeat := c.clock.NewTimer(StreamHeartbeat)
	defer func() { heartbeat.Stop() }()
	fmt.Fprint(w, ": connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-closing:
			return
		case <-end.C():
			return
		case <-heartbeat.C():
			heartbeat = c.clock.NewTimer(StreamHeartbeat)
			fmt.Fprint(w, ": ping\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		case e := <-ch:
			if !c.live(s) {
				return
			}
			if e.Kind == kindSignedOut || !c.eventVisible(r.Context(), s.person, e) {
				continue // a notice for the server, or another team's incident
			}
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
			if len(ch) == 0 && c.platform.broker.missed(ch) {
				// Caught up after missing some: the page reloads.
				fmt.Fprintf(w, "data: {\"kind\":%q}\n\n", kindResync)
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
