package pdimport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/report"
	"github.com/oncallbot/bot/internal/store"
)

// fixtures reads PagerDuty's documented responses (the API schema's
// examples, kept beside the checkout: no license to copy them here).
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "pagerduty", name))
	if err != nil {
		t.Skipf("PagerDuty fixtures not beside the checkout: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// fakePagerDuty serves the documented incident list a page at a time and
// each incident's log: the documented trigger entry and, after it,
// acknowledge, notify and resolve entries in the documented shape.
type fakePagerDuty struct {
	t        *testing.T
	list     map[string]any
	log      map[string]any
	mu       sync.Mutex
	requests []string
}

func (f *fakePagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Token token=pd-read-only" || r.Header.Get("Accept") != "application/vnd.pagerduty+json;version=2" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "Unauthorized", "code": 2006}})
		return
	}
	switch {
	case r.URL.Path == "/incidents":
		page := map[string]any{"incidents": []any{}, "limit": 100, "offset": r.URL.Query().Get("offset"), "more": false}
		if r.URL.Query().Get("offset") == "0" {
			page = f.list // the documented page, "more": true
		}
		json.NewEncoder(w).Encode(page)
	case strings.HasPrefix(r.URL.Path, "/incidents/") && strings.HasSuffix(r.URL.Path, "/log_entries"):
		entries := append([]any{}, f.log["log_entries"].([]any)...)
		user := map[string]any{"id": "PXPGF42", "type": "user_reference", "summary": "Earline Greenholt"}
		entries = append(entries,
			map[string]any{"id": "R1", "type": "notify_log_entry", "created_at": "2015-10-06T21:30:50Z", "user": user, "channel": map[string]any{"type": "sms"}, "agent": user},
			map[string]any{"id": "R2", "type": "acknowledge_log_entry", "created_at": "2015-10-06T21:33:42Z", "agent": user, "channel": map[string]any{"type": "website"}},
			map[string]any{"id": "R3", "type": "resolve_log_entry", "created_at": "2015-10-06T21:38:23Z", "agent": user, "channel": map[string]any{"type": "website"}},
		)
		json.NewEncoder(w).Encode(map[string]any{"log_entries": entries, "limit": 100, "offset": 0, "more": false})
	default:
		http.NotFound(w, r)
	}
}

func TestImportTheDocumentedHistory(t *testing.T) {
	fake := &fakePagerDuty{t: t, list: fixture(t, "list_incidents_response_openapi_example.json"), log: fixture(t, "list_incident_log_entries_response_openapi_example.json")}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := Options{BaseURL: srv.URL, Token: "pd-read-only", Since: time.Date(2015, 10, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2015, 11, 1, 0, 0, 0, 0, time.UTC),
		Teams: map[string]string{"Engineering": "ops"}, Users: map[string]string{"Earline Greenholt": "alice"}}
	res, err := Import(ctx, st, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 1 || res.Notifications != 1 || res.Skipped != 0 {
		t.Fatalf("result = %+v", res)
	}
	if again, err := Import(ctx, st, o); err != nil || again.Imported != 0 || again.AlreadyThere != 1 {
		t.Fatalf("a second import = %+v %v, want it already there", again, err)
	}
	// Paged through: offset 0 (the documented page, more: true), then 100.
	if !strings.Contains(strings.Join(fake.requests, "\n"), "offset=100") {
		t.Errorf("the import did not follow more: %v", fake.requests)
	}

	// The documented incident's figures in the report: opened 21:30:42,
	// acknowledged by Earline (alice here) 21:33:42, resolved 21:38:23.
	cfg, err := config.Parse([]byte("people: [{name: alice, time_zone: America/Los_Angeles}]\nteams: [{name: ops, members: [alice]}]\ndefault_route: {team: ops}\n"))
	if err != nil {
		t.Fatal(err)
	}
	oc, err := oncall.NewService(ctx, st, clock.NewFake(o.Until), cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := report.Source{DB: st.Read(), OnCall: oc, Config: cfg, Now: func() time.Time { return o.Until }}
	in, err := src.Input(ctx, "ops", report.Range{From: o.Since, To: o.Until}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := report.Compute(in)
	if r.Response.Incidents != 1 || r.Response.TimeToAck.Median != 180 || r.Response.TimeToResolve.Median != 461 || r.Response.AutoResolved != 0 {
		t.Errorf("response = %+v", r.Response)
	}
	if len(r.Noise.Categories) != 1 || r.Noise.Categories[0].Name != "The server is on fire." || r.Noise.Alerts != 2 {
		t.Errorf("noise = %+v", r.Noise)
	}
	// 21:30:50 UTC is 14:30 in Los Angeles on a Tuesday: business hours.
	if len(r.People) != 1 || r.People[0].Person != "alice" || r.People[0].Interruptions[report.Business] != 1 {
		t.Errorf("people = %+v", r.People)
	}
	if len(r.Paging.Methods) != 1 || r.Paging.Methods[0].Method != "sms" || r.Paging.Methods[0].PageToAck.Median != 172 {
		t.Errorf("paging = %+v", r.Paging)
	}
}

func TestImportRefusals(t *testing.T) {
	fake := &fakePagerDuty{t: t, list: fixture(t, "list_incidents_response_openapi_example.json"), log: fixture(t, "list_incident_log_entries_response_openapi_example.json")}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	since, until := time.Date(2015, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2015, 11, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		o    Options
		says string
	}{
		{"no token", Options{BaseURL: srv.URL, Since: since, Until: until}, "token is required"},
		{"a wrong token", Options{BaseURL: srv.URL, Token: "nope", Since: since, Until: until}, "401 Unauthorized"},
		{"a reversed range", Options{BaseURL: srv.URL, Token: "pd-read-only", Since: until, Until: since}, "is not after"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Import(ctx, st, c.o); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("err = %v, want %q", err, c.says)
			}
		})
	}
	// An unmapped team is skipped and counted, not imported.
	res, err := Import(ctx, st, Options{BaseURL: srv.URL, Token: "pd-read-only", Since: since, Until: until})
	if err != nil || res.Imported != 0 || res.Skipped != 1 || res.UnmappedTeams["Engineering"] != 1 {
		t.Errorf("unmapped = %+v %v", res, err)
	}
}
