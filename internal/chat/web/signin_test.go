package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSignInsAreLimitedPerClientAndLogged(t *testing.T) {
	f := newFixture(t)
	var log logBuffer
	f.console.log = slog.New(slog.NewTextHandler(&log, nil))
	const guesser, colleague = "203.0.113.66:41000", "198.51.100.7:52000"
	signIn := func(remote, token string) int {
		return f.do(request{method: "POST", path: "/login", remote: remote, form: url.Values{"token": {token}}}).Code
	}
	for i := 0; i < signInPolicy.Burst; i++ {
		if code := signIn(guesser, "guess-"+strings.Repeat("x", i)); code != http.StatusUnauthorized {
			t.Fatalf("wrong token #%d = %d, want 401", i, code)
		}
	}
	rec := f.do(request{method: "POST", path: "/login", remote: guesser, form: url.Values{"token": {"alice-token"}}})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("the right token after %d wrong ones = %d (Retry-After %q, cookies %v), want 429 for 60s and no session",
			signInPolicy.Burst, rec.Code, rec.Header().Get("Retry-After"), rec.Result().Cookies())
	}
	if !strings.Contains(rec.Body.String(), "Too many failed sign-ins") {
		t.Errorf("the page does not say why:\n%s", rec.Body)
	}
	if code := signIn(colleague, "bob-token"); code != http.StatusSeeOther {
		t.Fatalf("another client's sign-in = %d, want 303", code)
	}
	f.clock.Advance(signInPolicy.Every)
	if code := signIn(guesser, "alice-token"); code != http.StatusSeeOther {
		t.Fatalf("a minute later, the right token = %d, want 303", code)
	}

	out := log.String()
	if n := strings.Count(out, "console sign-in failed"); n != signInPolicy.Burst {
		t.Errorf("%d failed sign-ins logged, want %d:\n%s", n, signInPolicy.Burst, out)
	}
	if n := strings.Count(out, "refused for a while"); n != 1 {
		t.Errorf("the shut-out logged %d times, want once", n)
	}
	if !strings.Contains(out, "client=203.0.113.66") {
		t.Errorf("failed sign-ins do not name the client:\n%s", out)
	}
	if strings.Contains(out, "guess-") || strings.Contains(out, "alice-token") {
		t.Errorf("the log holds a token:\n%s", out)
	}
}
