package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// from sends a request as the client at remote, with an optional
// X-Forwarded-For.
func (f *fixture) from(remote, xff, method, path, token, body string) response {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

const (
	attacker = "203.0.113.66:40000"
	neighbor = "198.51.100.7:50000"
	alert    = `{"title":"disk","dedup_key":"disk","labels":{"alertname":"disk"}}`
)

func TestWrongAPITokensShutTheClientOutForAWhile(t *testing.T) {
	var log syncBuffer
	f := newFixture(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	for i := 1; i <= apiPolicy.Burst; i++ {
		if r := f.from(attacker, "", "GET", "/api/v1/incidents", "guess-"+string(rune('a'+i)), ""); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong token #%d = %d, want 401", i, r.code)
		}
	}
	r := f.from(attacker, "", "GET", "/api/v1/incidents", apiToken, "")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
		t.Fatalf("after %d wrong tokens, the right one = %d (Retry-After %q), want 429 for 60s: a refused client is refused whatever it sends",
			apiPolicy.Burst, r.code, r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, "too many failed attempts") {
		t.Errorf("429 body %q does not say why", r.body)
	}
	if r := f.from(neighbor, "", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusOK {
		t.Fatalf("another client = %d, want 200", r.code)
	}
	f.clock.Advance(apiPolicy.Every)
	if r := f.from(attacker, "", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusOK {
		t.Fatalf("a minute later, the right token = %d, want 200", r.code)
	}

	if n := strings.Count(log.String(), "request with a wrong token"); n != apiPolicy.Burst {
		t.Errorf("%d wrong tokens logged, want %d", n, apiPolicy.Burst)
	}
	if n := strings.Count(log.String(), "client refused for a while"); n != 1 {
		t.Errorf("shut-out logged %d times, want once", n)
	}
	if strings.Contains(log.String(), "guess-") {
		t.Error("the log holds a guessed token")
	}
	m := f.metrics()
	for _, want := range []string{`bot_auth_failures_total{surface="api"} 10`, `bot_auth_throttled_total{surface="api"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRequestsWithoutATokenAreNotCounted(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3*apiPolicy.Burst; i++ {
		if r := f.from(attacker, "", "GET", "/api/v1/incidents", "", ""); r.code != http.StatusUnauthorized {
			t.Fatalf("request #%d without a token = %d, want 401", i, r.code)
		}
		if r := f.from(attacker, "", "POST", "/hooks/alertmanager", "", "{}"); r.code != http.StatusUnauthorized {
			t.Fatalf("hook #%d without a token = %d, want 401", i, r.code)
		}
	}
	if r := f.from(attacker, "", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusOK {
		t.Fatalf("the right token after tokenless requests = %d, want 200", r.code)
	}
}

func TestWrongHookTokensShutOutOnlyThatIntegrationForTheClient(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < hookPolicy.Burst; i++ {
		if r := f.from(attacker, "", "POST", "/hooks/alertmanager", "wrong-token", "{}"); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong hook token #%d = %d, want 401", i, r.code)
		}
	}
	cases := []struct {
		name, remote, path, token string
		want                      int
	}{
		{"the same integration, right token", attacker, "/hooks/alertmanager", "am-secret", http.StatusTooManyRequests},
		{"another integration from the same address", attacker, "/hooks/generic", "gen-secret", http.StatusAccepted},
		{"the same integration from another address", neighbor, "/hooks/alertmanager", "am-secret", http.StatusBadRequest}, // authenticated; "{"title"...}" is no Alertmanager body
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.from(c.remote, "", "POST", c.path, c.token, alert)
			if r.code != c.want {
				t.Fatalf("= %d %s, want %d", r.code, r.body, c.want)
			}
		})
	}
	if m := f.metrics(); !strings.Contains(m, `bot_webhook_requests_total{code="429",integration="alertmanager"} 1`) {
		t.Errorf("the refused hook is not counted: %s", grepLines(m, "bot_webhook_requests_total"))
	}
}

func TestUnknownIntegrationNamesCountAsFailures(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < hookPolicy.Burst; i++ {
		if r := f.from(attacker, "", "POST", "/hooks/guess"+string(rune('a'+i)), "gen-secret", alert); r.code != http.StatusNotFound {
			t.Fatalf("unknown name #%d = %d, want 404", i, r.code)
		}
	}
	if r := f.from(attacker, "", "POST", "/hooks/another-guess", "gen-secret", alert); r.code != http.StatusTooManyRequests {
		t.Fatalf("unknown name past the burst = %d, want 429", r.code)
	}
	if r := f.from(attacker, "", "POST", "/hooks/generic", "gen-secret", alert); r.code != http.StatusAccepted {
		t.Fatalf("a known integration with its token = %d, want 202 (enumeration is counted apart)", r.code)
	}
}

func TestClientsBehindATrustedProxyAreCountedApart(t *testing.T) {
	const proxy = "10.0.0.5:443"
	f := newFixture(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	for i := 0; i < apiPolicy.Burst; i++ {
		f.from(proxy, "203.0.113.66", "GET", "/api/v1/incidents", "wrong-token", "")
	}
	if r := f.from(proxy, "203.0.113.66", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusTooManyRequests {
		t.Fatalf("the guessing client behind the proxy = %d, want 429", r.code)
	}
	if r := f.from(proxy, "198.51.100.7", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusOK {
		t.Fatalf("another client behind the same proxy = %d, want 200", r.code)
	}
	// Without the proxy trusted, the header is the client's own claim: a
	// guesser cannot dodge the limit by changing it.
	g := newFixture(t)
	for i := 0; i < apiPolicy.Burst; i++ {
		g.from(attacker, "192.0.2."+string(rune('1'+i)), "GET", "/api/v1/incidents", "wrong-token", "")
	}
	if r := g.from(attacker, "192.0.2.200", "GET", "/api/v1/incidents", apiToken, ""); r.code != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For from an untrusted peer = %d, want 429", r.code)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
