package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/shutdown"
	"github.com/oncallbot/bot/internal/store"
)

const testConfig = `
console_tokens:
  - {token: alice-token, person: alice}
  - {token: bob-token, person: bob}
  - {token: jane-token, person: jane.doe}
default_route:
  team: ops
  group_by: [alertname]
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: America/New_York}
  - {name: jane.doe, time_zone: Europe/Paris}
teams:
  - {name: ops, members: [alice, bob, jane.doe], leads: [alice], schedule: ops}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
`

// start is a Monday, 03:00 UTC.
var start = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// fixture is a console on a real SQLite file, with the real incident and
// on-call services and the real command executor, served by a chi router
// as the bot serves it.
type fixture struct {
	t         *testing.T
	clock     *clock.Fake
	platform  *Platform
	console   *Console
	incidents *incident.Service
	handler   http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, "")
}

// newFixtureWith adds extra, top-level YAML, to the test configuration.
func newFixtureWith(t *testing.T, extra string) *fixture {
	t.Helper()
	return newFixtureConfig(t, extra+testConfig)
}

// newFixtureConfig builds the console for a whole configuration.
func newFixtureConfig(t *testing.T, yaml string) *fixture {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(start)
	router, err := incident.NewRouter(cfg.Routes, cfg.DefaultRoute)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := oncall.NewService(ctx, st, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	inc := incident.NewService(st, clk, router, outbox.NewPublisher(nil, clk, func() {}), incident.Options{Logger: log})
	exec := &chat.Executor{Incidents: inc, Escalator: noEscalation{}, OnCall: oc, Teams: cfg.Teams, Clock: clk}
	p := NewPlatform()
	c, err := NewConsole(p, exec, inc, oc, cfg, clk, log)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	r := chi.NewRouter()
	c.Routes(r)
	return &fixture{t: t, clock: clk, platform: p, console: c, incidents: inc, handler: r}
}

type noEscalation struct{}

func (noEscalation) Escalate(context.Context, int64, string) error { return nil }

// open raises an incident titled title.
func (f *fixture) open(title string) int64 {
	f.t.Helper()
	b, err := ingest.Decode("generic", []byte(`{"title":"`+title+`","labels":{"alertname":"`+title+`"}}`),
		ingest.Options{DefaultSeverity: ingest.SeverityError, Now: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.incidents.Ingest(context.Background(), "generic", b.Alerts)
	if err != nil || len(res.Incidents) != 1 {
		f.t.Fatalf("ingest %q: %+v %v", title, res, err)
	}
	return res.Incidents[0]
}

func (f *fixture) status(id int64) incident.Status {
	f.t.Helper()
	d, err := f.incidents.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return d.Status
}

// request is one request to the console.
type request struct {
	method, path string
	cookie       *http.Cookie
	form         url.Values
	body         string // raw body, when form is nil
	origin       string
	headers      map[string]string // more request headers (Referer, Sec-Fetch-Site)
	tls          bool
	remote       string // the client's address, when not httptest's
}

func (f *fixture) do(r request) *httptest.ResponseRecorder {
	f.t.Helper()
	body := r.body
	if r.form != nil {
		body = r.form.Encode()
	}
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(body))
	if r.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	if r.origin != "" {
		req.Header.Set("Origin", r.origin)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.tls {
		req.TLS = &tls.ConnectionState{}
	}
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// signIn signs in with token and returns the session cookie.
func (f *fixture) signIn(token string) *http.Cookie {
	f.t.Helper()
	rec := f.do(request{method: "POST", path: "/login", form: url.Values{"token": {token}}})
	if rec.Code != http.StatusSeeOther {
		f.t.Fatalf("sign in with %q = %d %s", token, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	f.t.Fatalf("sign in with %q set no session cookie", token)
	return nil
}

func TestSignIn(t *testing.T) {
	big := "token=alice-token&pad=" + strings.Repeat("x", 4<<10)
	cases := []struct {
		name   string
		body   string
		tls    bool
		code   int
		person string // signed in, when code is 303
		want   string // in the page, otherwise
	}{
		{name: "right token", body: "token=alice-token", code: 303, person: "alice"},
		{name: "right token over TLS", body: "token=bob-token", tls: true, code: 303, person: "bob"},
		{name: "wrong token", body: "token=guess", code: 401, want: "That token is not valid."},
		{name: "no token", body: "", code: 401, want: "That token is not valid."},
		{name: "empty token", body: "token=", code: 401, want: "That token is not valid."},
		{name: "prefix of a token", body: "token=alice-toke", code: 401, want: "That token is not valid."},
		{name: "a person's name", body: "token=alice", code: 401, want: "That token is not valid."},
		{name: "body over 4 KiB", body: big, code: 413, want: "too large"},
		{name: "malformed form", body: "token=%zz", code: 400, want: "invalid URL escape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(request{method: "POST", path: "/login", body: c.body, tls: c.tls})
			if rec.Code != c.code {
				t.Fatalf("code = %d %s, want %d", rec.Code, rec.Body, c.code)
			}
			cookies := rec.Result().Cookies()
			if c.code != http.StatusSeeOther {
				if len(cookies) != 0 {
					t.Errorf("a refused sign-in set cookies: %v", cookies)
				}
				if !strings.Contains(rec.Body.String(), c.want) {
					t.Errorf("page does not say %q:\n%s", c.want, rec.Body)
				}
				return
			}
			if loc := rec.Header().Get("Location"); loc != "/" {
				t.Errorf("Location = %q, want /", loc)
			}
			if len(cookies) != 1 {
				t.Fatalf("cookies = %v, want one", cookies)
			}
			ck := cookies[0]
			if ck.Name != cookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
				t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", ck)
			}
			if ck.Secure != c.tls {
				t.Errorf("cookie Secure = %v over TLS %v", ck.Secure, c.tls)
			}
			if strings.Contains(ck.Value, strings.TrimPrefix(c.body, "token=")) {
				t.Errorf("cookie carries the token: %q", ck.Value)
			}
			page := f.do(request{method: "GET", path: "/", cookie: ck})
			if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `<span class="me">`+c.person+`</span>`) {
				t.Fatalf("home after sign-in = %d\n%s", page.Code, page.Body)
			}
		})
	}
}

// TestSessionCookieIsSecureBehindHTTPS: the bot does not terminate TLS
// itself; behind an https base_url (a proxy in front) the cookie must be
// Secure although the request reached the bot over plain HTTP.
func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	cases := []struct {
		baseURL string
		tls     bool
		secure  bool
	}{
		{"http://bot.example:8080", false, false},
		{"http://bot.example:8080", true, true},
		{"https://bot.example", false, true},
		{"https://bot.example", true, true},
		{"HTTPS://bot.example/oncall/", false, true},
	}
	for _, c := range cases {
		t.Run(c.baseURL+" tls="+strconv.FormatBool(c.tls), func(t *testing.T) {
			f := newFixtureWith(t, "base_url: "+c.baseURL+"\n")
			check := func(what string, rec *httptest.ResponseRecorder) {
				t.Helper()
				cookies := rec.Result().Cookies()
				if len(cookies) != 1 || cookies[0].Name != cookieName {
					t.Fatalf("%s cookies = %+v, want one %s", what, cookies, cookieName)
				}
				ck := cookies[0]
				if ck.Secure != c.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
					t.Errorf("%s cookie = %+v, want Secure=%v HttpOnly SameSite=Strict Path=/", what, ck, c.secure)
				}
				raw := rec.Header().Get("Set-Cookie")
				if strings.Contains(raw, "; Secure") != c.secure {
					t.Errorf("%s Set-Cookie = %q, want Secure %v", what, raw, c.secure)
				}
			}
			login := f.do(request{method: "POST", path: "/login", form: url.Values{"token": {"alice-token"}}, tls: c.tls})
			if login.Code != http.StatusSeeOther {
				t.Fatalf("sign in = %d %s", login.Code, login.Body)
			}
			check("sign-in", login)
			ck := login.Result().Cookies()[0]
			check("sign-out", f.do(request{method: "POST", path: "/logout", cookie: ck, tls: c.tls}))
		})
	}
}

func TestPeopleWithDotsInTheirNamesStaySignedIn(t *testing.T) {
	f := newFixture(t)
	ck := f.signIn("jane-token")
	rec := f.do(request{method: "GET", path: "/oncall", cookie: ck})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "jane.doe") {
		t.Fatalf("jane.doe's session = %d %s, want the on-call page", rec.Code, rec.Header().Get("Location"))
	}
}

func TestSessionCookieMustBeGenuine(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	alice := f.signIn("alice-token")
	bob := f.signIn("bob-token")
	_, aliceSig, _ := strings.Cut(alice.Value, ".")
	_, bobSig, _ := strings.Cut(bob.Value, ".")
	flip := []byte(aliceSig)
	flip[len(flip)-1] ^= 1
	parts := strings.Split(alice.Value, ".") // name, issue time, signature
	if len(parts) != 3 {
		t.Fatalf("cookie %q is not name.issued.signature", alice.Value)
	}
	issued, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		t.Fatalf("cookie %q: issue time: %v", alice.Value, err)
	}
	later := strconv.FormatInt(issued+int64(time.Hour), 10)
	other := newFixture(t).signIn("alice-token") // another process: another key

	cases := []struct {
		name  string
		value string // "" sends no cookie
	}{
		{"no cookie", ""},
		{"garbage", "x"},
		{"name only", "alice"},
		{"empty signature", "alice."},
		{"signature only", "." + aliceSig},
		{"another person's signature", "alice." + bobSig},
		{"renamed to another person", "bob." + aliceSig},
		{"one bit flipped", "alice." + string(flip)},
		{"signature in upper case", "alice." + strings.ToUpper(aliceSig)},
		{"truncated signature", "alice." + aliceSig[:len(aliceSig)-2]},
		{"bad escape in the name", "%zz." + aliceSig},
		{"extra part", alice.Value + ".x"},
		{"signed by another process", other.Value},
		{"issue time moved later", parts[0] + "." + later + "." + parts[2]},
		{"issue time dropped", parts[0] + "." + parts[2]},
		{"issue time not a number", parts[0] + ".soon." + parts[2]},
	}
	routes := []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 303},
		{"GET", "/oncall", 303},
		{"GET", "/incidents/1", 303},
		{"GET", "/events", 401},
		{"POST", "/command", 401},
		{"POST", "/incidents/1/command", 401},
		{"POST", "/logout", 401},
	}
	for _, c := range cases {
		for _, rt := range routes {
			t.Run(c.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				r := request{method: rt.method, path: rt.path, form: url.Values{"line": {"resolve #1"}}}
				if c.value != "" {
					r.cookie = &http.Cookie{Name: cookieName, Value: c.value}
				}
				rec := f.do(r)
				if rec.Code != rt.code {
					t.Fatalf("code = %d, want %d", rec.Code, rt.code)
				}
				if rt.code == http.StatusSeeOther && rec.Header().Get("Location") != "/login" {
					t.Errorf("Location = %q, want /login", rec.Header().Get("Location"))
				}
				if rt.code == http.StatusUnauthorized && !strings.Contains(rec.Body.String(), "sign in first") {
					t.Errorf("401 says %q", rec.Body)
				}
			})
		}
	}
	if st := f.status(1); st != incident.StatusTriggered {
		t.Fatalf("forged sessions changed incident 1 to %s", st)
	}
	// The genuine cookies still work.
	for _, ck := range []*http.Cookie{alice, bob} {
		if rec := f.do(request{method: "GET", path: "/", cookie: ck}); rec.Code != http.StatusOK {
			t.Errorf("genuine cookie %q = %d", ck.Value, rec.Code)
		}
	}
}

func TestStateChangingPostsCheckOrigin(t *testing.T) {
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // no Origin: an older browser, or not a browser
		{"null", false},
		{"http://example.com", true}, // httptest's Host
		{"https://example.com", true},
		{"https://evil.example", false},
		{"http://example.com:8080", false},
		{"http://example.com.evil.example", false},
		{"http://evil.example/example.com", false},
		{"::not a url", false},
	}
	for _, c := range cases {
		t.Run("origin "+c.origin, func(t *testing.T) {
			f := newFixture(t)
			id := f.open("Disk")
			ck := f.signIn("alice-token")
			rec := f.do(request{method: "POST", path: "/incidents/1/command", cookie: ck, origin: c.origin,
				form: url.Values{"line": {"ack #1"}}})
			want, wantStatus := http.StatusSeeOther, incident.StatusAcknowledged
			if !c.ok {
				want, wantStatus = http.StatusForbidden, incident.StatusTriggered
				if want := "cross-site request refused: Origin " + c.origin; !strings.Contains(rec.Body.String(), want) {
					t.Errorf("403 says %q, want %q", rec.Body, want)
				}
			}
			if rec.Code != want {
				t.Fatalf("POST with Origin %q = %d, want %d", c.origin, rec.Code, want)
			}
			if st := f.status(id); st != wantStatus {
				t.Fatalf("incident is %s, want %s", st, wantStatus)
			}
			// Signing out is a post too.
			rec = f.do(request{method: "POST", path: "/logout", cookie: ck, origin: c.origin})
			if want := map[bool]int{true: 303, false: 403}[c.ok]; rec.Code != want {
				t.Fatalf("logout with Origin %q = %d, want %d", c.origin, rec.Code, want)
			}
		})
	}
}

// A post is a browser's from one of the console's pages when the browser
// says so (Sec-Fetch-Site), or else its Origin, or else its Referer, is
// the console's own origin: base_url's, or the request's Host (httptest's
// example.com) without base_url. Issue 9, item 7.
func TestPostsMustComeFromTheConsolesOwnOrigin(t *testing.T) {
	type h = map[string]string
	cases := []struct {
		name    string
		baseURL string // "" for none
		headers h
		refused string // in the 403, "" when accepted
	}{
		{"cross-site Origin", "", h{"Origin": "https://evil.example"}, "Origin https://evil.example is not this site, example.com"},
		{"Origin null", "", h{"Origin": "null"}, "Origin null"},
		{"no Origin, cross-site Referer", "", h{"Referer": "https://evil.example/forge?secret=1"},
			"no Origin, and Referer https://evil.example is not this site"},
		{"no Origin, Referer of a look-alike host", "", h{"Referer": "http://example.com.evil.example/"}, "Referer http://example.com.evil.example"},
		{"no Origin, Referer not a URL", "", h{"Referer": "::nonsense"}, "Referer (not a URL)"},
		{"no Origin or Referer, Sec-Fetch-Site cross-site", "", h{"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site cross-site"},
		{"Sec-Fetch-Site same-site (a sibling subdomain)", "", h{"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site same-site"},
		{"Sec-Fetch-Site cross-site outweighs a matching Origin", "", h{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}, "Sec-Fetch-Site cross-site"},
		{"cross-site Origin outweighs a matching Referer", "", h{"Origin": "https://evil.example", "Referer": "http://example.com/"}, "Origin https://evil.example"},

		{"same-origin, as a browser sends it", "", h{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com", "Referer": "http://example.com/incidents/1"}, ""},
		{"Sec-Fetch-Site none (typed by the person)", "", h{"Sec-Fetch-Site": "none"}, ""},
		{"matching Origin alone", "", h{"Origin": "http://example.com"}, ""},
		{"no Origin, same-origin Referer", "", h{"Referer": "http://example.com/incidents/1"}, ""},
		// Not a browser: it could send any header, so refusing it protects
		// no one (see sameOrigin).
		{"no Origin, Referer or Sec-Fetch-Site", "", h{}, ""},

		{"base_url's origin", "https://oncall.example.org", h{"Origin": "https://oncall.example.org"}, ""},
		{"base_url's origin, its default port spelled out", "https://oncall.example.org:443/", h{"Origin": "https://oncall.example.org"}, ""},
		{"base_url's, Referer", "https://oncall.example.org", h{"Referer": "https://oncall.example.org/oncall"}, ""},
		{"base_url set: the Host is not enough", "https://oncall.example.org", h{"Origin": "http://example.com"},
			"Origin http://example.com is not this site, https://oncall.example.org"},
		{"base_url set: another scheme", "https://oncall.example.org", h{"Origin": "http://oncall.example.org"}, "Origin http://oncall.example.org"},
		{"base_url set: another port", "https://oncall.example.org", h{"Referer": "https://oncall.example.org:8443/"}, "Referer https://oncall.example.org:8443"},
		{"base_url set: Sec-Fetch-Site same-origin", "https://oncall.example.org", h{"Sec-Fetch-Site": "same-origin"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			extra := ""
			if c.baseURL != "" {
				extra = "base_url: " + c.baseURL + "\n"
			}
			f := newFixtureWith(t, extra)
			id := f.open("Disk")
			ck := f.signIn("alice-token")
			want, wantStatus := http.StatusSeeOther, incident.StatusAcknowledged
			if c.refused != "" {
				want, wantStatus = http.StatusForbidden, incident.StatusTriggered
			}
			check := func(what string, rec *httptest.ResponseRecorder) {
				t.Helper()
				if rec.Code != want {
					t.Fatalf("%s with %v = %d %s, want %d", what, c.headers, rec.Code, rec.Body, want)
				}
				if c.refused != "" && !strings.Contains(rec.Body.String(), "cross-site request refused: ") ||
					!strings.Contains(rec.Body.String(), c.refused) {
					t.Errorf("%s: 403 says %q, want %q", what, rec.Body, c.refused)
				}
			}
			check("command", f.do(request{method: "POST", path: "/incidents/1/command", cookie: ck, headers: c.headers,
				form: url.Values{"line": {"ack #1"}}}))
			if st := f.status(id); st != wantStatus {
				t.Fatalf("incident is %s, want %s", st, wantStatus)
			}
			// Signing in (no cookie yet: login CSRF) and out are posts too.
			rec := f.do(request{method: "POST", path: "/login", headers: c.headers, form: url.Values{"token": {"bob-token"}}})
			check("sign-in", rec)
			if c.refused != "" && len(rec.Result().Cookies()) != 0 {
				t.Errorf("a refused sign-in set cookies: %v", rec.Result().Cookies())
			}
			check("sign-out", f.do(request{method: "POST", path: "/logout", cookie: ck, headers: c.headers}))
		})
	}
}

// Signing in is a post like the others: a foreign page must not sign a
// browser in as someone else (login CSRF).
func TestSignInChecksOrigin(t *testing.T) {
	cases := []struct {
		origin string
		code   int
		want   string // in a refusal
	}{
		{"", 303, ""},
		{"http://example.com", 303, ""},
		{"https://example.com", 303, ""},
		{"null", 403, "cross-site request refused: Origin null"},
		{"https://evil.example", 403, "cross-site request refused: Origin https://evil.example"},
		{"http://example.com:8080", 403, "cross-site request refused"},
		{"::not a url", 403, "cross-site request refused"},
	}
	for _, c := range cases {
		t.Run("origin "+c.origin, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(request{method: "POST", path: "/login", origin: c.origin, form: url.Values{"token": {"alice-token"}}})
			if rec.Code != c.code {
				t.Fatalf("sign in with Origin %q = %d %s, want %d", c.origin, rec.Code, rec.Body, c.code)
			}
			if c.code == http.StatusSeeOther {
				return
			}
			if !strings.Contains(rec.Body.String(), c.want) {
				t.Errorf("403 says %q, want %q", rec.Body, c.want)
			}
			if cookies := rec.Result().Cookies(); len(cookies) != 0 {
				t.Errorf("a refused sign-in set cookies: %v", cookies)
			}
		})
	}
}

// expectSignedIn checks that ck opens pages and runs commands, or, when
// want is false, that it is sent to sign in again.
func expectSignedIn(t *testing.T, f *fixture, ck *http.Cookie, want bool) {
	t.Helper()
	page := f.do(request{method: "GET", path: "/", cookie: ck})
	cmd := f.do(request{method: "POST", path: "/command", cookie: ck, form: url.Values{"line": {"who ops"}}})
	if want {
		if page.Code != http.StatusOK || cmd.Code != http.StatusOK {
			t.Fatalf("session %q: GET / = %d, POST /command = %d, want both 200", ck.Value, page.Code, cmd.Code)
		}
		return
	}
	if page.Code != http.StatusSeeOther || page.Header().Get("Location") != "/login" {
		t.Errorf("session %q: GET / = %d to %q, want 303 to /login", ck.Value, page.Code, page.Header().Get("Location"))
	}
	if cmd.Code != http.StatusUnauthorized || !strings.Contains(cmd.Body.String(), "sign in first") {
		t.Errorf("session %q: POST /command = %d %q, want 401 sign in first", ck.Value, cmd.Code, cmd.Body)
	}
}

func TestSessionExpires(t *testing.T) {
	cases := []struct {
		name   string
		config string        // top-level YAML added to the test's
		after  time.Duration // from sign-in to the visit
		maxAge int           // the cookie's, in seconds
		ok     bool
	}{
		{"just signed in", "", 0, 12 * 3600, true},
		{"an hour later", "", time.Hour, 12 * 3600, true},
		{"a second short of twelve hours", "", 12*time.Hour - time.Second, 12 * 3600, true},
		{"at twelve hours", "", 12 * time.Hour, 12 * 3600, false},
		{"a day later", "", 24 * time.Hour, 12 * 3600, false},
		{"within a configured half hour", "console_session: 30m\n", 29 * time.Minute, 1800, true},
		{"past a configured half hour", "console_session: 30m\n", 31 * time.Minute, 1800, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureWith(t, c.config)
			ck := f.signIn("alice-token")
			if ck.MaxAge != c.maxAge {
				t.Errorf("cookie Max-Age = %d, want %d", ck.MaxAge, c.maxAge)
			}
			f.clock.Advance(c.after)
			expectSignedIn(t, f, ck, c.ok)
		})
	}
}

func TestSignOutEndsThePersonsEarlierSessions(t *testing.T) {
	f := newFixture(t)
	laptop := f.signIn("alice-token")
	f.clock.Advance(time.Minute)
	phone := f.signIn("alice-token")
	bob := f.signIn("bob-token")
	f.clock.Advance(time.Minute)
	if rec := f.do(request{method: "POST", path: "/logout", cookie: laptop}); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout = %d %s", rec.Code, rec.Body)
	}
	f.clock.Advance(time.Second)
	again := f.signIn("alice-token")
	cases := []struct {
		name string
		ck   *http.Cookie
		ok   bool
	}{
		{"the signed-out cookie, replayed", laptop, false},
		{"alice's session on another device", phone, false},
		{"bob's session", bob, true},
		{"alice signed in again", again, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectSignedIn(t, f, c.ck, c.ok)
		})
	}
}

func TestReadsIgnoreOrigin(t *testing.T) {
	f := newFixture(t)
	ck := f.signIn("alice-token")
	if rec := f.do(request{method: "GET", path: "/oncall", cookie: ck, origin: "https://evil.example"}); rec.Code != http.StatusOK {
		t.Fatalf("GET with a foreign Origin = %d", rec.Code)
	}
}

func TestLogoutClearsTheCookie(t *testing.T) {
	f := newFixture(t)
	rec := f.do(request{method: "POST", path: "/logout", cookie: f.signIn("alice-token")})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("logout = %d %q", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != cookieName || cookies[0].Value != "" || cookies[0].MaxAge >= 0 {
		t.Fatalf("logout cookies = %+v, want %s deleted", cookies, cookieName)
	}
}

func TestPages(t *testing.T) {
	f := newFixture(t)
	f.open("Disk full")
	f.open("<script>alert(1)</script>")
	gone := f.open("Old news")
	if _, err := f.incidents.Resolve(context.Background(), gone, "test"); err != nil {
		t.Fatal(err)
	}
	ck := f.signIn("alice-token")
	cases := []struct {
		name, path string
		code       int
		want, not  []string
	}{
		{"open incidents", "/", 200,
			[]string{"Disk full", "&lt;script&gt;alert(1)&lt;/script&gt;", `data-room="*"`, `<script src="/static/console.js"`},
			[]string{"Old news", "<script>alert(1)"}},
		{"resolved incidents", "/?status=resolved", 200, []string{"Old news"}, []string{"Disk full"}},
		{"unknown status shows open", "/?status=bogus", 200, []string{"Disk full"}, []string{"Old news"}},
		{"flash is escaped", "/?msg=<b>hi</b>", 200, []string{"&lt;b&gt;hi&lt;/b&gt;"}, []string{"<b>hi</b>"}},
		{"room", "/incidents/1", 200, []string{"Disk full", `data-room="incident-1"`, `value="ack #1"`, `action="/incidents/1/command"`}, nil},
		{"room of a hostile title", "/incidents/2", 200, []string{"&lt;script&gt;"}, []string{"<script>alert"}},
		{"room flash", "/incidents/1?msg=acknowledged", 200, []string{`<div class="flash" role="status">acknowledged</div>`}, nil},
		{"unknown room", "/incidents/99", 404, nil, nil},
		{"room id not a number", "/incidents/abc", 404, nil, nil},
		{"on call", "/oncall", 200, []string{"ops", "bob"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := f.do(request{method: "GET", path: c.path, cookie: ck})
			if rec.Code != c.code {
				t.Fatalf("GET %s = %d\n%s", c.path, rec.Code, rec.Body)
			}
			if c.code == http.StatusOK && rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
			}
			for _, w := range c.want {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(rec.Body.String(), n) {
					t.Errorf("page has %q", n)
				}
			}
		})
	}
}

func TestLoginPageAndStaticFilesNeedNoSession(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		path, contentType, want string
		code                    int
	}{
		{"/login", "text/html; charset=utf-8", `<form method="post" action="/login">`, 200},
		{"/login?msg=<i>x</i>", "text/html; charset=utf-8", "&lt;i&gt;x&lt;/i&gt;", 200},
		{"/static/console.js", "text/javascript; charset=utf-8", "new EventSource(\"/events\")", 200},
		{"/static/missing.js", "", "", 404},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			rec := f.do(request{method: "GET", path: c.path})
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
				t.Fatalf("GET %s = %d\n%s", c.path, rec.Code, rec.Body)
			}
			if c.contentType != "" && rec.Header().Get("Content-Type") != c.contentType {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), c.contentType)
			}
		})
	}
}

func TestCommandBox(t *testing.T) {
	cases := []struct {
		name, path, body string
		code             int
		location         string // prefix, for a 303
		want             string // in the page, or the decoded flash of a 303
		status           incident.Status
	}{
		{"ack in the room", "/incidents/1/command", "line=ack", 303, "/incidents/1?msg=", "acknowledged", incident.StatusAcknowledged},
		{"resolve by number", "/incidents/1/command", "line=resolve+%231", 303, "/incidents/1?msg=", "resolved", incident.StatusResolved},
		{"nonsense", "/incidents/1/command", "line=dance", 303, "/incidents/1?msg=", "dance", incident.StatusTriggered},
		{"room id not a number", "/incidents/one/command", "line=ack", 404, "", "", incident.StatusTriggered},
		{"on-call page", "/command", "line=who+ops", 200, "", "On call for ops: alice", incident.StatusTriggered},
		{"on-call page ack", "/command", "line=ack+%231", 200, "", "acknowledged", incident.StatusAcknowledged},
		{"over 8 KiB", "/incidents/1/command", "line=ack&pad=" + strings.Repeat("x", 8<<10), 413, "", "too large", incident.StatusTriggered},
		{"malformed form", "/incidents/1/command", "line=ack%zz", 400, "", "invalid URL escape", incident.StatusTriggered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.open("Disk")
			rec := f.do(request{method: "POST", path: c.path, body: c.body, cookie: f.signIn("alice-token")})
			if rec.Code != c.code {
				t.Fatalf("code = %d %s, want %d", rec.Code, rec.Body, c.code)
			}
			got := rec.Body.String()
			if c.code == http.StatusSeeOther {
				loc := rec.Header().Get("Location")
				if !strings.HasPrefix(loc, c.location) {
					t.Fatalf("Location = %q, want %s...", loc, c.location)
				}
				got, _ = url.QueryUnescape(strings.TrimPrefix(loc, c.location))
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("reply %q lacks %q", got, c.want)
			}
			if st := f.status(1); st != c.status {
				t.Errorf("incident is %s, want %s", st, c.status)
			}
		})
	}
}

func TestCommandsActAsTheSignedInPerson(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	f.do(request{method: "POST", path: "/incidents/1/command", body: "line=ack", cookie: f.signIn("bob-token")})
	d, err := f.incidents.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.AcknowledgedBy != "web:bob" {
		t.Fatalf("acknowledged by %q, want web:bob", d.AcknowledgedBy)
	}
}

// streamWriter is a ResponseWriter that hands each flushed chunk to the
// test, so a test can read a stream as it is written.
type streamWriter struct {
	header http.Header
	buf    bytes.Buffer
	chunks chan string
}

func newStreamWriter() *streamWriter {
	return &streamWriter{header: http.Header{}, chunks: make(chan string, 64)}
}

func (s *streamWriter) Header() http.Header         { return s.header }
func (s *streamWriter) WriteHeader(int)             {}
func (s *streamWriter) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *streamWriter) Flush() {
	s.chunks <- s.buf.String()
	s.buf.Reset()
}

func nextChunk(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second): // a guard against a hang, not a wait
		t.Fatal("the stream sent nothing")
		return ""
	}
}

func (p *Platform) subscribers() int {
	p.broker.mu.Lock()
	defer p.broker.mu.Unlock()
	return len(p.broker.subs)
}

func TestEventStreamDeliversAndFreesItsSubscriber(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/events", nil)
	req.AddCookie(f.signIn("alice-token"))
	w := newStreamWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.handler.ServeHTTP(w, req)
	}()

	if c := nextChunk(t, w.chunks); c != ": connected\n\n" {
		t.Fatalf("stream opens with %q", c)
	}
	if ct, cc := w.header.Get("Content-Type"), w.header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-cache" {
		t.Fatalf("stream headers: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if n := f.platform.subscribers(); n != 1 {
		t.Fatalf("subscribers while streaming = %d, want 1", n)
	}
	bg := context.Background()
	if err := f.platform.Post(bg, chat.Room{ID: "incident-4"}, "a note"); err != nil {
		t.Fatal(err)
	}
	if c := nextChunk(t, w.chunks); c != `data: {"kind":"incident","room":"incident-4"}`+"\n\n" {
		t.Fatalf("event = %q", c)
	}
	// A page for someone else is not shown; one for alice is.
	f.platform.Direct(bg, chat.Member{Name: "bob", PlatformID: "bob"}, "bob, wake up", chat.Card{IncidentID: 4})
	f.platform.Direct(bg, chat.Member{Name: "alice", PlatformID: "alice"}, "alice, wake up", chat.Card{IncidentID: 4})
	if c := nextChunk(t, w.chunks); c != `data: {"kind":"page","room":"incident-4","person":"alice","text":"alice, wake up"}`+"\n\n" {
		t.Fatalf("page event = %q", c)
	}

	cancel() // the browser goes away
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived its request")
	}
	if n := f.platform.subscribers(); n != 0 {
		t.Fatalf("subscribers after the client left = %d, want 0", n)
	}
	// Publishing to nobody is fine.
	if err := f.platform.Post(bg, chat.Room{ID: "incident-4"}, "after"); err != nil {
		t.Fatal(err)
	}
}

// A quiet stream says it is alive every StreamHeartbeat, on the
// injected clock, and still carries events between heartbeats.
func TestEventStreamHeartbeat(t *testing.T) {
	f := newFixture(t)
	w, closeIt := f.stream(f.signIn("alice-token"))
	f.clock.Advance(StreamHeartbeat - time.Second)
	if err := f.platform.Post(context.Background(), chat.Room{ID: "incident-4"}, "a note"); err != nil {
		t.Fatal(err)
	}
	if c := nextChunk(t, w.chunks); c != `data: {"kind":"incident","room":"incident-4"}`+"\n\n" {
		t.Fatalf("before the heartbeat is due: %q", c)
	}
	// Due at 25 s, then 25 s after that one.
	for i, step := range []time.Duration{time.Second, StreamHeartbeat} {
		f.clock.Advance(step)
		if c := nextChunk(t, w.chunks); c != ": ping\n\n" {
			t.Fatalf("heartbeat %d = %q", i+1, c)
		}
	}
	closeIt()
}

// openStream opens /events with ck and returns, once the stream has
// said it is connected (so it is subscribed), a func that closes it and
// waits for its handler to return.
func (f *fixture) openStream(ck *http.Cookie) (closeIt func()) {
	f.t.Helper()
	_, closeIt = f.stream(ck)
	return closeIt
}

// stream is openStream, with what the stream writes.
func (f *fixture) stream(ck *http.Cookie) (w *streamWriter, closeIt func()) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/events", nil)
	req.AddCookie(ck)
	w = newStreamWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.handler.ServeHTTP(w, req)
	}()
	if c := nextChunk(f.t, w.chunks); c != ": connected\n\n" {
		cancel()
		f.t.Fatalf("stream opens with %q", c)
	}
	closeIt = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a guard against a hang, not a wait
			f.t.Fatal("the stream outlived its request")
		}
	}
	f.t.Cleanup(closeIt)
	return w, closeIt
}

// A person's live-update streams are capped across their sessions: the
// one over the cap is refused with 429, naming the cap, and opens once
// another has closed. Issue 9, item 10.
func TestEventStreamsAreCappedPerPerson(t *testing.T) {
	f := newFixture(t)
	phone := f.signIn("alice-token")
	f.clock.Advance(time.Minute)
	laptop := f.signIn("alice-token")
	var closers []func()
	for i := range MaxStreamsPerPerson {
		closers = append(closers, f.openStream([]*http.Cookie{phone, laptop}[i%2]))
	}
	for _, ck := range []*http.Cookie{phone, laptop} {
		// Cancelled, so that a stream that is let through ends at once.
		rec := f.doCtx(request{method: "GET", path: "/events", cookie: ck}, true)
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("stream %d for alice = %d %s, want 429", MaxStreamsPerPerson+1, rec.Code, rec.Body)
		}
		if want := fmt.Sprintf("too many live-update streams open for alice: at most %d", MaxStreamsPerPerson); !strings.Contains(rec.Body.String(), want) {
			t.Errorf("429 says %q, want %q", rec.Body, want)
		}
		if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("the refusal is sent as %q", ct)
		}
	}
	if n := f.platform.subscribers(); n != MaxStreamsPerPerson {
		t.Fatalf("subscribers = %d, want %d", n, MaxStreamsPerPerson)
	}
	// bob's streams are his own.
	f.openStream(f.signIn("bob-token"))
	// A stream closed makes room for one more.
	closers[0]()
	f.openStream(laptop)
	if rec := f.doCtx(request{method: "GET", path: "/events", cookie: phone}, true); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("alice past the cap again = %d, want 429", rec.Code)
	}
}

func TestEventStreamOverHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{f.signIn("alice-token")})
	client := &http.Client{Jar: jar}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(resp.Body)
	if l, _ := lines.ReadString('\n'); l != ": connected\n" {
		t.Fatalf("stream opens with %q", l)
	}
	if err := f.platform.UpdateCard(context.Background(), chat.Room{ID: "incident-9"}, "m", chat.Card{}); err != nil {
		t.Fatal(err)
	}
	lines.ReadString('\n') // the blank line after ": connected"
	if l, _ := lines.ReadString('\n'); l != `data: {"kind":"incident","room":"incident-9"}`+"\n" {
		t.Fatalf("event line = %q", l)
	}
	cancel()
	// Close waits for every handler to return: it returns only if the
	// stream noticed its client leave.
	srv.Close()
	if n := f.platform.subscribers(); n != 0 {
		t.Fatalf("subscribers after the client left = %d, want 0", n)
	}
}

func TestEventStreamEndsWithItsSession(t *testing.T) {
	cases := []struct {
		name string
		act  func(f *fixture)
		ends bool
	}{
		{"the session expires", func(f *fixture) { f.clock.Advance(12 * time.Hour) }, true},
		{"the person signs out elsewhere", func(f *fixture) {
			f.clock.Advance(time.Minute)
			f.do(request{method: "POST", path: "/logout", cookie: f.signIn("alice-token")})
		}, true},
		{"someone else signs out", func(f *fixture) {
			f.do(request{method: "POST", path: "/logout", cookie: f.signIn("bob-token")})
		}, false},
		{"time passes within the session", func(f *fixture) { f.clock.Advance(11 * time.Hour) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, "GET", "/events", nil)
			req.AddCookie(f.signIn("alice-token"))
			w := newStreamWriter()
			done := make(chan struct{})
			go func() {
				defer close(done)
				f.handler.ServeHTTP(w, req)
			}()
			if ch := nextChunk(t, w.chunks); ch != ": connected\n\n" {
				t.Fatalf("stream opens with %q", ch)
			}
			c.act(f)
			if !c.ends {
				// Still streaming: a change reaches the page, after the
				// heartbeats of the time that passed.
				if err := f.platform.Post(context.Background(), chat.Room{ID: "incident-4"}, "a note"); err != nil {
					t.Fatal(err)
				}
				ch := nextChunk(t, w.chunks)
				for ch == ": ping\n\n" {
					ch = nextChunk(t, w.chunks)
				}
				if ch != `data: {"kind":"incident","room":"incident-4"}`+"\n\n" {
					t.Fatalf("event = %q", ch)
				}
				cancel()
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a guard against a hang, not a wait
				t.Fatal("the stream outlived its session")
			}
			if n := f.platform.subscribers(); n != 0 {
				t.Fatalf("subscribers after the stream ended = %d, want 0", n)
			}
		})
	}
}

// A stream ends as soon as its server begins to shut down: Shutdown waits
// for requests in flight, and an open console tab would otherwise hold the
// process until Shutdown's deadline (Kubernetes then sends SIGKILL).
func TestEventStreamEndsWhenTheServerShutsDown(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewUnstartedServer(f.handler)
	shutdown.Attach(srv.Config)
	srv.Start()
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{f.signIn("alice-token")})
	client := &http.Client{Jar: jar}

	var streams []*bufio.Reader
	for range 2 { // two tabs
		resp, err := client.Get(srv.URL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewReader(resp.Body)
		if l, _ := lines.ReadString('\n'); l != ": connected\n" {
			t.Fatalf("stream opens with %q", l)
		}
		streams = append(streams, lines)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a guard, not a wait
	defer cancel()
	began := time.Now()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with open streams: %v after %v", err, time.Since(began))
	}
	for i, lines := range streams {
		if rest, err := io.ReadAll(lines); err != nil || string(rest) != "\n" {
			t.Errorf("stream %d after shutdown: %q, %v; want its end", i, rest, err)
		}
	}
	if n := f.platform.subscribers(); n != 0 {
		t.Fatalf("subscribers after shutdown = %d, want 0", n)
	}
}

// A stream that arrives while the server is shutting down ends at once.
func TestEventStreamOpenedDuringShutdownEnds(t *testing.T) {
	f := newFixture(t)
	closing := make(chan struct{})
	close(closing)
	req := httptest.NewRequestWithContext(shutdown.NewContext(context.Background(), closing), "GET", "/events", nil)
	req.AddCookie(f.signIn("alice-token"))
	w := newStreamWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.handler.ServeHTTP(w, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a guard against a hang, not a wait
		t.Fatal("a stream opened during shutdown did not end")
	}
	if n := f.platform.subscribers(); n != 0 {
		t.Fatalf("subscribers = %d, want 0", n)
	}
}

func TestEventStreamNeedsASession(t *testing.T) {
	f := newFixture(t)
	rec := f.do(request{method: "GET", path: "/events"})
	if rec.Code != http.StatusUnauthorized || f.platform.subscribers() != 0 {
		t.Fatalf("events without a session = %d, subscribers %d", rec.Code, f.platform.subscribers())
	}
}

// TestEveryConsoleRouteSetsSecurityHeaders walks the console's router, so
// a route added later is checked too, and asks each route with and
// without a session: redirects, refusals and errors carry the headers as
// well as pages.
func TestEveryConsoleRouteSetsSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	f.open("Disk full")
	ck := f.signIn("alice-token")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
			"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"X-Frame-Options":        "DENY",
	}
	r := chi.NewRouter()
	f.console.Routes(r)
	var routes int
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes++
		path := strings.NewReplacer("{id}", "1", "*", "console.css").Replace(route)
		for _, signedIn := range []bool{false, true} {
			req := request{method: method, path: path, form: url.Values{"line": {"ack"}, "token": {"alice-token"}}}
			if signedIn {
				req.cookie = ck
			}
			rec := f.doCtx(req, method == "GET" && route == "/events")
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s %s (signed in %v, %d): %s = %q, want %q", method, path, signedIn, rec.Code, k, got, v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes < 10 {
		t.Fatalf("walked %d routes, want every console route", routes)
	}
}

// doCtx is do, with the request's context already cancelled when
// cancelled is set (so an event stream returns at once).
func (f *fixture) doCtx(r request, cancelled bool) *httptest.ResponseRecorder {
	f.t.Helper()
	if !cancelled {
		return f.do(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(r.method, r.path, nil).WithContext(ctx)
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// TestPagesHaveNoInlineScriptOrStyle: the policy allows scripts and styles
// from the site's own files only, so an inline one would not run.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	f := newFixture(t)
	f.open("Disk full")
	ck := f.signIn("alice-token")
	for _, path := range []string{"/login", "/", "/incidents/1", "/oncall"} {
		var c *http.Cookie
		if path != "/login" {
			c = ck
		}
		rec := f.do(request{method: "GET", path: path, cookie: c})
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, rec.Code)
		}
		for _, bad := range []string{"<style", " style=", "<script>", "javascript:", " onclick=", " onload=", " onsubmit="} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s has %q, which the Content-Security-Policy blocks", path, bad)
			}
		}
		if !strings.Contains(body, `<link rel="stylesheet" href="/static/console.css">`) {
			t.Errorf("GET %s does not link the stylesheet", path)
		}
	}
	rec := f.do(request{method: "GET", path: "/static/console.css"})
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") || !strings.Contains(rec.Body.String(), ".card.triggered") {
		t.Fatalf("GET /static/console.css = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
