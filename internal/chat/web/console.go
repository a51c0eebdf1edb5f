package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
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
	teams     []config.Team
	tokens    map[string]string // token -> person
	key       []byte
	log       *slog.Logger
	tmpl      *template.Template
}

// NewConsole builds the console. tokens sign people in.
func NewConsole(p *Platform, exec *chat.Executor, inc *incident.Service, oc *oncall.Service, cfg *config.Config, log *slog.Logger) (*Console, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	c := &Console{platform: p, exec: exec, incidents: inc, oncall: oc, teams: cfg.Teams, tokens: map[string]string{}, key: key, log: log}
	for _, t := range cfg.ConsoleTokens {
		c.tokens[t.Token] = t.Person
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 15:04 MST") },
		"join": func(s []string) string { return strings.Join(s, ", ") },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	c.tmpl = tmpl
	return c, nil
}

// Routes mounts the console's pages.
func (c *Console) Routes(r chi.Router) {
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	r.Get("/login", c.loginPage)
	r.Post("/login", c.login)
	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)
		r.Post("/logout", c.logout)
		r.Get("/", c.incidentsPage)
		r.Get("/incidents/{id}", c.roomPage)
		r.Post("/incidents/{id}/command", c.command)
		r.Get("/oncall", c.oncallPage)
		r.Post("/command", c.command)
		r.Get("/events", c.events)
	})
}

const cookieName = "oncall_console"

// A session cookie is the person's name and its HMAC under a key made at
// start: signing in again after a restart is the price of keeping no
// session table.
func (c *Console) sign(person string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(person))
	return url.QueryEscape(person) + "." + hex.EncodeToString(m.Sum(nil))
}

func (c *Console) person(r *http.Request) (string, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return "", false
	}
	// The signature is after the last dot: a name may have dots of its
	// own (QueryEscape keeps them).
	i := strings.LastIndexByte(ck.Value, '.')
	if i < 0 {
		return "", false
	}
	person, err := url.QueryUnescape(ck.Value[:i])
	if err != nil || !hmac.Equal([]byte(c.sign(person)), []byte(ck.Value)) {
		return "", false
	}
	return person, true
}

type ctxKey struct{}

func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		person, ok := c.person(r)
		if !ok {
			if r.Method == http.MethodGet && r.URL.Path != "/events" {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		// Forms post with the session cookie: refuse cross-site posts. The
		// cookie is SameSite=Strict too; this covers older browsers.
		if r.Method == http.MethodPost {
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					http.Error(w, "cross-site request refused", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, person)))
	})
}

func me(r *http.Request) string { s, _ := r.Context().Value(ctxKey{}).(string); return s }

type page struct {
	Title, Me, Flash string
}

func (c *Console) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.tmpl.ExecuteTemplate(w, name, data); err != nil {
		c.log.Error("render console page", "page", name, "err", err)
	}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login.html", page{Title: "Sign in", Flash: r.URL.Query().Get("msg")})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r, 4<<10) {
		return
	}
	token := r.PostFormValue("token")
	var person string
	for t, p := range c.tokens {
		if hmac.Equal([]byte(t), []byte(token)) {
			person = p
		}
	}
	if person == "" {
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, "login.html", page{Title: "Sign in", Flash: "That token is not valid."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.sign(person), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

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

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request) {
	f := incident.Filter{Limit: 100}
	if st, ok := incident.ParseStatus(r.URL.Query().Get("status")); ok {
		f.Status = st
	}
	list, _, err := c.incidents.List(r.Context(), f)
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

func (c *Console) roomPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	d, err := c.incidents.Get(r.Context(), id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	c.render(w, "room.html", struct {
		page
		ID     int64
		Room   string
		Card   chat.Card
		Detail incident.Detail
	}{page{Title: fmt.Sprintf("#%d %s", id, d.Title), Me: me(r), Flash: r.URL.Query().Get("msg")},
		id, roomOf(id).ID, chat.NewCard(d.Incident, time.UTC), d})
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
		if err != nil {
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
	for _, t := range c.teams {
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
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout; browsers reconnect
	// by themselves if it drops anyway.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	ch := c.platform.broker.subscribe(me(r))
	defer c.platform.broker.unsubscribe(ch)
	fmt.Fprint(w, ": connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-ch:
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
