package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHookAuthentication(t *testing.T) {
	const body = `{"title":"Disk full"}`
	cases := []struct {
		name   string
		path   string
		header []string
		code   int
		want   string
	}{
		{"bearer token", "/hooks/generic", []string{"Bearer gen-secret"}, 202, ""},
		{"lower-case bearer", "/hooks/generic", []string{"bearer gen-secret"}, 202, ""},
		{"upper-case bearer", "/hooks/generic", []string{"BEARER gen-secret"}, 202, ""},
		{"query token", "/hooks/generic?token=gen-secret", nil, 202, ""},
		{"no token", "/hooks/generic", nil, 401, "missing integration token"},
		{"empty query token", "/hooks/generic?token=", nil, 401, "missing integration token"},
		{"wrong bearer", "/hooks/generic", []string{"Bearer guess"}, 401, "invalid integration token"},
		{"wrong query token", "/hooks/generic?token=guess", nil, 401, "invalid integration token"},
		{"another integration's token", "/hooks/generic", []string{"Bearer am-secret"}, 401, "invalid integration token"},
		{"an API token", "/hooks/generic", []string{"Bearer " + apiToken}, 401, "invalid integration token"},
		// The header, when sent, is what counts.
		{"wrong header, right query", "/hooks/generic?token=gen-secret", []string{"Bearer guess"}, 401, "invalid integration token"},
		{"unknown integration", "/hooks/nagios", []string{"Bearer gen-secret"}, 404, `unknown integration "nagios"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.send("POST", c.path, http.Header{"Authorization": c.header}, body)
			if c.code == http.StatusAccepted {
				if r.code != c.code {
					t.Fatalf("code = %d %s, want 202", r.code, r.body)
				}
				return
			}
			expectError(t, r, c.code, c.want, "")
			if c.code == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != `Bearer realm="hooks"` {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			if list := f.api("GET", "/api/v1/incidents", ""); !strings.Contains(list.body, `"incidents":[]`) {
				t.Errorf("a refused hook opened an incident: %s", list.body)
			}
		})
	}
}

func TestHookBodies(t *testing.T) {
	pad := func(json string, n int) string { return json + strings.Repeat(" ", n-len(json)) }
	cases := []struct {
		name        string
		integration string
		body        string
		code        int
		want        string // in the error
		field       string
	}{
		{"exactly 1 MiB", "generic", pad(`{"title":"big"}`, MaxBodyBytes), 202, "", ""},
		{"one byte over 1 MiB", "generic", pad(`{"title":"big"}`, MaxBodyBytes+1), 413, "body is larger than 1 MiB", ""},
		{"not JSON", "alertmanager", "{oops", 400, "JSON", ""},
		{"empty body", "generic", "", 400, "", ""},
		{"generic without a title", "generic", `{"message":"hi"}`, 400, "", "title"},
		{"alertmanager alert with empty labels", "alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{}}]}`, 400, "alerts[0].labels: must not be empty", "alerts[0].labels"},
		{"alertmanager alert without labels", "alertmanager", `{"version":"4","alerts":[{"labels":{"alertname":"A"}},{"annotations":{"summary":"s"}}]}`, 400, "alerts[1].labels: must not be empty", "alerts[1].labels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.do("POST", "/hooks/"+c.integration, map[string]string{"generic": "gen-secret", "alertmanager": "am-secret"}[c.integration], c.body)
			if c.code == http.StatusAccepted {
				if r.code != c.code {
					t.Fatalf("code = %d %s", r.code, r.body)
				}
				return
			}
			expectError(t, r, c.code, c.want, c.field)
			if r.error == "" {
				t.Error("the error does not say what is wrong")
			}
			if list := f.api("GET", "/api/v1/incidents", ""); !strings.Contains(list.body, `"incidents":[]`) {
				t.Errorf("a refused body opened an incident: %s", list.body)
			}
		})
	}
}

// failingBody fails mid-read, as a dropped connection does.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func TestHookBodyThatCannotBeRead(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("POST", "/hooks/generic", failingBody{})
	req.Header.Set("Authorization", "Bearer gen-secret")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "could not read body: connection reset by peer") {
		t.Fatalf("unreadable body = %d %s", rec.Code, rec.Body)
	}
}

func TestHookAnswers202WithCounts(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/hooks/alertmanager", "am-secret", `{"version":"4","status":"firing","alerts":[]}`)
	if r.code != http.StatusAccepted || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("empty batch = %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	if !strings.Contains(r.body, `"incidents":[]`) {
		t.Fatalf("incidents should be [] not null: %s", r.body)
	}
	r = f.do("POST", "/hooks/alertmanager", "am-secret",
		`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Disk"}},{"status":"firing","labels":{"alertname":"CPU"}}]}`)
	var res hookResponse
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.code != http.StatusAccepted {
		t.Fatalf("two alerts = %d %s", r.code, r.body)
	}
	if res.Accepted != 2 || res.New != 2 || len(res.Incidents) != 2 {
		t.Fatalf("two alerts answered %+v", res)
	}
}

func TestHookCountsRequestsWithoutTrustingTheName(t *testing.T) {
	f := newFixture(t)
	f.do("POST", "/hooks/generic", "gen-secret", `{"title":"A"}`)
	f.do("POST", "/hooks/generic", "guess", `{"title":"A"}`)
	f.do("POST", "/hooks/made-up-by-a-scanner", "guess", `{}`)
	m := f.metrics()
	for _, want := range []string{
		`bot_webhook_requests_total{code="202",integration="generic"} 1`,
		`bot_webhook_requests_total{code="401",integration="generic"} 1`,
		`bot_webhook_requests_total{code="404",integration="unknown"} 1`,
		`bot_alerts_ingested_total{integration="generic",result="new"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "made-up-by-a-scanner") {
		t.Error("an unknown integration's name became a label")
	}
}

func TestHookWhileTheStoreIsClosedAsksForARetry(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	r := f.do("POST", "/hooks/generic", "gen-secret", `{"title":"Disk"}`)
	expectError(t, r, http.StatusServiceUnavailable, "alerts were not stored; retry", "")
	if r.header.Get("Retry-After") != "5" {
		t.Fatalf("Retry-After = %q, want 5", r.header.Get("Retry-After"))
	}
}
