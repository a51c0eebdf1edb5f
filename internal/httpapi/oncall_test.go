package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestScheduleEndpointsRefuseBadRequests(t *testing.T) {
	big := `{"user":"carol","note":"` + strings.Repeat("x", 64<<10) + `"}`
	cases := []struct {
		name, method, path, body string
		code                     int
		want, field              string
	}{
		// An unknown schedule, on every route that names one.
		{"get unknown", "GET", "/api/v1/schedules/nope", "", 404, `schedule "nope" not found`, "schedule"},
		{"overrides of unknown", "GET", "/api/v1/schedules/nope/overrides", "", 404, `schedule "nope" not found`, "schedule"},
		{"override on unknown", "POST", "/api/v1/schedules/nope/overrides", `{}`, 404, `schedule "nope" not found`, "schedule"},
		{"delete on unknown", "DELETE", "/api/v1/schedules/nope/overrides/1", "", 404, `schedule "nope" not found`, "schedule"},
		{"swaps of unknown", "GET", "/api/v1/schedules/nope/swaps", "", 404, `schedule "nope" not found`, "schedule"},
		{"swap on unknown", "POST", "/api/v1/schedules/nope/swaps", `{}`, 404, `schedule "nope" not found`, "schedule"},
		{"swap action on unknown", "POST", "/api/v1/schedules/nope/swaps/1/accept", `{}`, 404, `schedule "nope" not found`, "schedule"},
		{"take on unknown", "POST", "/api/v1/schedules/nope/take", `{}`, 404, `schedule "nope" not found`, "schedule"},
		{"edit on unknown", "PATCH", "/api/v1/schedules/nope/layers/weekly", `{}`, 404, `schedule "nope" not found`, "schedule"},
		{"unknown team", "GET", "/api/v1/teams/nope/oncall", "", 404, `team "nope" not found`, "team"},
		{"unknown person", "GET", "/api/v1/users/nope/shifts", "", 404, `person "nope" not found`, "user"},

		// The final schedule's window.
		{"from not RFC 3339", "GET", "/api/v1/schedules/ops?from=2026-03-02", "", 400, "from must be an RFC 3339 time", "from"},
		{"to not RFC 3339", "GET", "/api/v1/schedules/ops?to=tomorrow", "", 400, "to must be an RFC 3339 time", "to"},
		{"empty window", "GET", "/api/v1/schedules/ops?from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z", "", 400, "to must be after from", "to"},
		{"backwards window", "GET", "/api/v1/schedules/ops?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "", 400, "to must be after from", "to"},
		{"window over a year", "GET", "/api/v1/schedules/ops?from=2026-03-02T00:00:00Z&to=2027-03-04T00:00:00Z", "", 400, "at most 366 days", "to"},

		// Overrides.
		{"override not JSON", "POST", "/api/v1/schedules/ops/overrides", `{user:carol}`, 400, "body must be JSON {kind, user, replaces, start, end, note}", ""},
		{"override empty body", "POST", "/api/v1/schedules/ops/overrides", ``, 400, "body must be JSON {kind, user, replaces, start, end, note}: EOF", ""},
		{"override unknown field", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol","who":"bob"}`, 400, `unknown field "who"`, ""},
		{"override with trailing junk", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"}x`, 400, "body must be JSON {kind, user, replaces, start, end, note}: unexpected data after the JSON object", ""},
		{"override followed by a second object", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"} {"user":"bob"}`, 400, "unexpected data after the JSON object", ""},
		{"override followed by a stray brace", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"}}`, 400, "unexpected data after the JSON object", ""},
		{"override padded past 64 KiB after the object", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"}` + strings.Repeat(" ", 64<<10), 413, "larger than 64 KiB", ""},
		{"override bad time", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol","start":"monday"}`, 400, "body must be JSON", ""},
		{"override over 64 KiB", "POST", "/api/v1/schedules/ops/overrides", big, 413, "larger than 64 KiB", ""},
		{"override bad kind", "POST", "/api/v1/schedules/ops/overrides", `{"kind":"swap","user":"carol","start":"2026-03-03T00:00:00Z","end":"2026-03-04T00:00:00Z"}`, 400, `"swap" is not add, remove or replace`, "kind"},
		{"override unknown person", "POST", "/api/v1/schedules/ops/overrides", `{"user":"dave","start":"2026-03-03T00:00:00Z","end":"2026-03-04T00:00:00Z"}`, 400, `"dave" is not a known person`, "user"},
		{"override without times", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol"}`, 400, "start and end are required", "start"},
		{"override ends before it starts", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol","start":"2026-03-04T00:00:00Z","end":"2026-03-03T00:00:00Z"}`, 400, "must be after start", "end"},
		{"override in the past", "POST", "/api/v1/schedules/ops/overrides", `{"user":"carol","start":"2026-02-01T00:00:00Z","end":"2026-02-02T00:00:00Z"}`, 400, "is in the past", "end"},
		{"delete bad id", "DELETE", "/api/v1/schedules/ops/overrides/first", "", 400, "override id must be a positive whole number", "id"},
		{"delete unknown override", "DELETE", "/api/v1/schedules/ops/overrides/99", "", 404, "override 99 not found", "id"},

		// Swaps and taking a shift.
		{"swap not JSON", "POST", "/api/v1/schedules/ops/swaps", `[`, 400, "body must be JSON {requester, start, end, note}", ""},
		{"swap over 64 KiB", "POST", "/api/v1/schedules/ops/swaps", `{"requester":"alice","note":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "larger than 64 KiB", ""},
		{"swap action bad id", "POST", "/api/v1/schedules/ops/swaps/x/accept", `{"user":"bob"}`, 400, "swap id must be a positive whole number", "id"},
		{"swap action unknown", "POST", "/api/v1/schedules/ops/swaps/1/steal", `{"user":"bob"}`, 404, `unknown action "steal": want accept or cancel`, "action"},
		{"swap action not JSON", "POST", "/api/v1/schedules/ops/swaps/1/accept", `user=bob`, 400, "body must be JSON {user}", ""},
		{"accept unknown swap", "POST", "/api/v1/schedules/ops/swaps/9/accept", `{"user":"bob"}`, 404, "swap 9: not found", ""},
		{"take with trailing junk", "POST", "/api/v1/schedules/ops/take", `{"user":"carol"}]`, 400, "body must be JSON {user}: unexpected data after the JSON object", ""},
		{"take unknown field", "POST", "/api/v1/schedules/ops/take", `{"person":"carol"}`, 400, `unknown field "person"`, ""},

		// Rotation edits.
		{"edit nothing", "PATCH", "/api/v1/schedules/ops/layers/weekly", `{}`, 400, "nothing to change", ""},
		{"edit bad handoff", "PATCH", "/api/v1/schedules/ops/layers/weekly", `{"handoff":"25:00"}`, 400, `"25:00" is not a time of day like 09:00`, "handoff"},
		{"edit unknown layer", "PATCH", "/api/v1/schedules/ops/layers/daily", `{"add":"carol"}`, 400, `has no layer "daily"`, "layer"},
		{"edit unknown person", "PATCH", "/api/v1/schedules/ops/layers/weekly", `{"add":"dave"}`, 400, `"dave" is not a known person`, "add"},
		{"edit not JSON", "PATCH", "/api/v1/schedules/ops/layers/weekly", `add=carol`, 400, "body must be JSON {add, position, remove, order, handoff", ""},
	}
	f := newFixture(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, f.api(c.method, c.path, c.body), c.code, c.want, c.field)
		})
	}
}

func TestScheduleViews(t *testing.T) {
	f := newFixture(t)
	r := f.api("GET", "/api/v1/schedules", "")
	var list struct {
		Schedules []scheduleView `json:"schedules"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.code != http.StatusOK {
		t.Fatalf("schedules = %d %s", r.code, r.body)
	}
	if len(list.Schedules) != 1 {
		t.Fatalf("schedules = %+v", list.Schedules)
	}
	sc := list.Schedules[0]
	// Monday 03:00 UTC, before the 09:00 handoff: still alice's week.
	if sc.Name != "ops" || sc.TimeZone != "Europe/London" || len(sc.OnCall) != 1 || sc.OnCall[0] != "alice" {
		t.Fatalf("ops = %+v", sc)
	}
	if !strings.HasPrefix(sc.ICalURL, "https://bot.example/ical/schedules/ops.ics?token=") {
		t.Fatalf("ical_url = %q (the base URL's trailing slash must not double)", sc.ICalURL)
	}

	r = f.api("GET", "/api/v1/schedules/ops?from=2026-03-02T00:00:00Z&to=2026-03-10T00:00:00Z", "")
	var window struct {
		Final []struct {
			Users []string `json:"users"`
		} `json:"final"`
		Gaps []json.RawMessage `json:"gaps"`
	}
	if err := json.Unmarshal([]byte(r.body), &window); err != nil || r.code != http.StatusOK {
		t.Fatalf("window = %d %s", r.code, r.body)
	}
	var who []string
	for _, seg := range window.Final {
		who = append(who, strings.Join(seg.Users, "+"))
	}
	if strings.Join(who, " ") != "alice bob alice" || window.Gaps == nil || len(window.Gaps) != 0 {
		t.Fatalf("two handoffs in the window: final %v, gaps in %s", who, r.body)
	}

	r = f.api("GET", "/api/v1/teams/ops/oncall", "")
	if r.code != http.StatusOK || !strings.Contains(r.body, `"bob"`) {
		t.Fatalf("team on call = %d %s", r.code, r.body)
	}
	r = f.api("GET", "/api/v1/users/alice/shifts", "")
	if r.code != http.StatusOK || !strings.Contains(r.body, `"ical_url":"https://bot.example/ical/users/alice.ics?token=`) ||
		!strings.Contains(r.body, `"start":"2026-03-09T09:00:00Z"`) {
		t.Fatalf("alice's shifts = %d %s", r.code, r.body)
	}
}

func TestOverrideLifecycle(t *testing.T) {
	f := newFixture(t)
	r := f.api("POST", "/api/v1/schedules/ops/overrides", `{"user":"carol","start":"2026-03-03T00:00:00Z","end":"2026-03-04T00:00:00Z","note":"cover"}`)
	if r.code != http.StatusCreated || r.header.Get("Content-Type") != "application/json" || !strings.Contains(r.body, `"id":1`) {
		t.Fatalf("create = %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	if r := f.api("GET", "/api/v1/schedules/ops/overrides", ""); !strings.Contains(r.body, `"user":"carol"`) {
		t.Fatalf("overrides after create = %s", r.body)
	}
	r = f.api("DELETE", "/api/v1/schedules/ops/overrides/1", "")
	if r.code != http.StatusNoContent || r.body != "" {
		t.Fatalf("delete = %d %q", r.code, r.body)
	}
	expectError(t, f.api("DELETE", "/api/v1/schedules/ops/overrides/1", ""), http.StatusNotFound, "override 1 not found", "id")
	if r := f.api("GET", "/api/v1/schedules/ops/overrides", ""); strings.TrimSpace(r.body) != `{"overrides":[]}` {
		t.Fatalf("overrides after delete = %s", r.body)
	}
}

func TestSwapAndTakeShift(t *testing.T) {
	f := newFixture(t)
	r := f.api("POST", "/api/v1/schedules/ops/swaps", `{"requester":"alice","start":"2026-03-09T09:00:00Z","end":"2026-03-10T09:00:00Z"}`)
	if r.code != http.StatusCreated {
		t.Fatalf("request swap = %d %s", r.code, r.body)
	}
	if r := f.api("GET", "/api/v1/schedules/ops/swaps", ""); !strings.Contains(r.body, `"requester":"alice"`) {
		t.Fatalf("swaps = %s", r.body)
	}
	if r := f.api("POST", "/api/v1/schedules/ops/swaps/1/accept", `{"user":"bob"}`); r.code != http.StatusOK {
		t.Fatalf("accept = %d %s", r.code, r.body)
	}
	if r := f.api("POST", "/api/v1/schedules/ops/swaps/1/cancel", `{"user":"alice"}`); r.code != http.StatusConflict || r.error == "" {
		t.Fatalf("cancel an accepted swap = %d %s, want 409 with a reason", r.code, r.body)
	}
	if r := f.api("POST", "/api/v1/schedules/ops/take", `{"user":"carol"}`); r.code != http.StatusCreated || !strings.Contains(r.body, `"user":"carol"`) {
		t.Fatalf("take = %d %s", r.code, r.body)
	}
}

func TestEditLayerAnswersTheNextHandoffs(t *testing.T) {
	f := newFixture(t)
	r := f.api("PATCH", "/api/v1/schedules/ops/layers/weekly", `{"add":"carol","handoff":"10:00"}`)
	var body struct {
		Next []struct {
			Users []string `json:"users"`
		} `json:"next_handoffs"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.code != http.StatusOK || len(body.Next) == 0 {
		t.Fatalf("edit = %d %s", r.code, r.body)
	}
	if !strings.Contains(r.body, "carol") {
		t.Fatalf("carol is not in the next handoffs: %s", r.body)
	}
}

func TestCalendarFeeds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	token := func(kind, name string) string {
		tok, err := f.oncall.FeedToken(ctx, kind, name)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		name, path string
		code       int
		want       string // in the body
	}{
		{"schedule", "/ical/schedules/ops.ics?token=" + token("schedule", "ops"), 200, "BEGIN:VCALENDAR"},
		{"person", "/ical/users/alice.ics?token=" + token("user", "alice"), 200, "BEGIN:VCALENDAR"},
		{"no .ics", "/ical/schedules/ops?token=" + token("schedule", "ops"), 404, "calendar feeds end in .ics"},
		{"no token", "/ical/schedules/ops.ics", 401, "missing or invalid feed token"},
		{"wrong token", "/ical/schedules/ops.ics?token=00112233445566778899aabbccddeeff", 401, "missing or invalid feed token"},
		{"another feed's token", "/ical/schedules/ops.ics?token=" + token("user", "alice"), 401, "missing or invalid feed token"},
		{"a person's token for their schedule", "/ical/users/ops.ics?token=" + token("schedule", "ops"), 401, "missing or invalid feed token"},
		{"an API token", "/ical/schedules/ops.ics?token=" + apiToken, 401, "missing or invalid feed token"},
		{"unknown schedule", "/ical/schedules/nope.ics?token=" + token("schedule", "nope"), 404, "not found"},
		{"unknown person", "/ical/users/dave.ics?token=" + token("user", "dave"), 404, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.send("GET", c.path, nil, "")
			if r.code != c.code || !strings.Contains(r.body, c.want) {
				t.Fatalf("GET %s = %d %s, want %d with %q", c.path, r.code, r.body, c.code, c.want)
			}
			if c.code != http.StatusOK {
				if r.header.Get("Content-Type") != "application/json" {
					t.Errorf("error Content-Type = %q", r.header.Get("Content-Type"))
				}
				return
			}
			if ct := r.header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := r.header.Get("Cache-Control"); cc != "private, max-age=300" {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}
}
