package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

func TestListIncidentsRejectsBadQueries(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		query, want, field string
	}{
		{"status=burning", "status must be triggered, acknowledged or resolved", "status"},
		{"limit=0", "limit must be a whole number from 1 to 500", "limit"},
		{"limit=501", "limit must be a whole number from 1 to 500", "limit"},
		{"limit=-3", "limit must be a whole number from 1 to 500", "limit"},
		{"limit=ten", "limit must be a whole number from 1 to 500", "limit"},
		{"limit=1.5", "limit must be a whole number from 1 to 500", "limit"},
		{"cursor=not-a-cursor", "cursor", "cursor"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			expectError(t, f.api("GET", "/api/v1/incidents?"+c.query, ""), http.StatusBadRequest, c.want, c.field)
		})
	}
}

func TestListIncidentsAnswersAnEmptyListNotNull(t *testing.T) {
	f := newFixture(t)
	r := f.api("GET", "/api/v1/incidents?status=resolved&limit=500", "")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("list = %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	if got := strings.TrimSpace(r.body); got != `{"incidents":[],"next_cursor":null}` {
		t.Fatalf("empty list = %s", got)
	}
}

func TestListIncidentsPagesWithACursor(t *testing.T) {
	f := newFixture(t)
	for _, title := range []string{"A", "B", "C"} {
		f.open(title)
	}
	var seen []int64
	cursor := ""
	for page := 0; page < 5; page++ {
		r := f.api("GET", "/api/v1/incidents?limit=2&cursor="+cursor, "")
		if r.code != http.StatusOK {
			t.Fatalf("page %d = %d %s", page, r.code, r.body)
		}
		var body struct {
			Incidents []incidentSummary `json:"incidents"`
			Next      *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatal(err)
		}
		for _, inc := range body.Incidents {
			seen = append(seen, inc.ID)
		}
		if body.Next == nil {
			break
		}
		cursor = *body.Next
	}
	if len(seen) != 3 || seen[0] == seen[1] || seen[1] == seen[2] {
		t.Fatalf("pages listed %v, want three distinct incidents", seen)
	}
}

func TestGetIncident(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	cases := []struct {
		path  string
		code  int
		want  string
		field string
	}{
		{"/api/v1/incidents/abc", 400, "incident id must be a positive whole number", "id"},
		{"/api/v1/incidents/0", 400, "incident id must be a positive whole number", "id"},
		{"/api/v1/incidents/-1", 400, "incident id must be a positive whole number", "id"},
		{"/api/v1/incidents/99999999999999999999", 400, "incident id must be a positive whole number", "id"},
		{"/api/v1/incidents/2", 404, "incident 2 not found", "id"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			expectError(t, f.api("GET", c.path, ""), c.code, c.want, c.field)
		})
	}
	r := f.api("GET", "/api/v1/incidents/1", "")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("get = %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	var d struct {
		ID       int64             `json:"id"`
		Status   string            `json:"status"`
		Title    string            `json:"title"`
		Alerts   []json.RawMessage `json:"alerts"`
		Timeline []json.RawMessage `json:"timeline"`
		AckedAt  *string           `json:"acknowledged_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != 1 || d.Status != "triggered" || d.Title != "Disk" || len(d.Alerts) != 1 || len(d.Timeline) == 0 || d.AckedAt != nil {
		t.Fatalf("incident 1 = %+v", d)
	}
}

func TestIncidentActions(t *testing.T) {
	cases := []struct {
		name     string
		escalate error // what the escalator answers
		path     string
		code     int
		want     string // in the error, or the status of a 200
		field    string
	}{
		{name: "ack", path: "/api/v1/incidents/1/ack", code: 200, want: "acknowledged"},
		{name: "resolve", path: "/api/v1/incidents/1/resolve", code: 200, want: "resolved"},
		{name: "unack a triggered incident", path: "/api/v1/incidents/1/unack", code: 409, want: "not acknowledged"},
		{name: "reopen an open incident", path: "/api/v1/incidents/1/reopen", code: 409, want: ""},
		{name: "unknown action", path: "/api/v1/incidents/1/snooze", code: 404,
			want: `unknown action "snooze": want ack, unack, resolve, reopen, escalate`, field: "action"},
		{name: "ack unknown incident", path: "/api/v1/incidents/7/ack", code: 404, want: "incident 7 not found", field: "id"},
		{name: "resolve unknown incident", path: "/api/v1/incidents/7/resolve", code: 404, want: "incident 7 not found", field: "id"},
		{name: "bad id", path: "/api/v1/incidents/one/ack", code: 400, want: "incident id must be a positive whole number", field: "id"},
		{name: "escalate", path: "/api/v1/incidents/1/escalate", code: 200, want: "triggered"},
		{name: "escalate at the last step", escalate: &oncall.ErrNotEscalatable{Msg: "no further step to escalate to"},
			path: "/api/v1/incidents/1/escalate", code: 409, want: "no further step to escalate to"},
		{name: "escalate fails", escalate: errors.New("database is locked"),
			path: "/api/v1/incidents/1/escalate", code: 500, want: "internal error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.open("Disk")
			f.escalator.err = c.escalate
			r := f.api("POST", c.path, "")
			if c.code != http.StatusOK {
				expectError(t, r, c.code, c.want, c.field)
				if strings.Contains(r.body, "database is locked") {
					t.Errorf("500 leaks the cause: %s", r.body)
				}
				return
			}
			var s incidentSummary
			if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &s) != nil {
				t.Fatalf("code = %d %s", r.code, r.body)
			}
			if s.ID != 1 || s.Status != c.want {
				t.Fatalf("answered %+v, want incident 1 %s", s, c.want)
			}
		})
	}
}

func TestAckTwiceConflicts(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	if r := f.api("POST", "/api/v1/incidents/1/ack", ""); r.code != http.StatusOK {
		t.Fatalf("first ack = %d %s", r.code, r.body)
	}
	r := f.api("POST", "/api/v1/incidents/1/ack", "")
	if r.code != http.StatusConflict || r.error == "" {
		t.Fatalf("second ack = %d %s, want 409 with a reason", r.code, r.body)
	}
}

func TestEscalateRecordsTheAPIActor(t *testing.T) {
	f := newFixture(t)
	f.open("Disk")
	f.api("POST", "/api/v1/incidents/1/escalate", "")
	if len(f.escalator.calls) != 1 || f.escalator.calls[0] != "api:ci" {
		t.Fatalf("escalator calls = %v, want [api:ci]", f.escalator.calls)
	}
}

// fakeAssigner answers Assign with err, or the incident given to person.
type fakeAssigner struct {
	err   error
	calls []string
}

func (a *fakeAssigner) Assign(_ context.Context, id int64, actor, person string, page bool) (incident.Incident, error) {
	a.calls = append(a.calls, fmt.Sprintf("%d %s %s %v", id, actor, person, page))
	if a.err != nil {
		return incident.Incident{}, a.err
	}
	return incident.Incident{ID: id, Status: incident.StatusTriggered, Assignee: person}, nil
}

func TestAssign(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		err   error
		code  int
		want  string
		field string
	}{
		{name: "assign", body: `{"person":"bob"}`, code: 200, want: `"assignee":"bob"`},
		{name: "no person", body: `{}`, code: 400, want: "person is required", field: "person"},
		{name: "empty body", body: ``, code: 400, want: "body must be JSON", field: "person"},
		{name: "not JSON", body: `person=bob`, code: 400, want: "invalid character", field: "person"},
		{name: "unknown field", body: `{"who":"bob"}`, code: 400, want: `unknown field "who"`, field: "person"},
		{name: "over 64 KiB", body: `{"person":"` + strings.Repeat("b", 64<<10) + `"}`, code: 413, want: "larger than 64 KiB"},
		{name: "trailing junk", body: `{"person":"bob"}, "x"`, code: 400, want: "unexpected data after the JSON object", field: "person"},
		{name: "two objects", body: `{"person":"bob"}{"person":"carol"}`, code: 400, want: "unexpected data after the JSON object", field: "person"},
		{name: "trailing white space", body: "{\"person\":\"bob\"}\r\n\t ", code: 200, want: `"assignee":"bob"`},
		{name: "unknown person", body: `{"person":"dave"}`, err: &oncall.InvalidError{Field: "person", Msg: `"dave" is not a known person`},
			code: 400, want: `"dave" is not a known person`, field: "person"},
		{name: "refused", body: `{"person":"bob"}`, err: &oncall.RefusedError{Msg: "incident 1 is resolved"}, code: 409, want: "incident 1 is resolved"},
		{name: "unknown incident", body: `{"person":"bob"}`, err: incident.ErrNotFound, code: 404, want: "incident 1 not found", field: "id"},
		{name: "store fails", body: `{"person":"bob"}`, err: errors.New("disk full"), code: 500, want: "internal error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &fakeAssigner{err: c.err}
			f := newFixture(t, func(o *Options) { o.Assigner = a })
			r := f.api("POST", "/api/v1/incidents/1/assign", c.body)
			if c.code != http.StatusOK {
				expectError(t, r, c.code, c.want, c.field)
				return
			}
			if r.code != http.StatusOK || !strings.Contains(r.body, c.want) {
				t.Fatalf("assign = %d %s", r.code, r.body)
			}
			if len(a.calls) != 1 || a.calls[0] != "1 api:ci bob true" {
				t.Fatalf("assigner calls = %v", a.calls)
			}
		})
	}
}

func TestAssignIsOffWithoutAnAssigner(t *testing.T) {
	f := newFixture(t)
	expectError(t, f.api("POST", "/api/v1/incidents/1/assign", `{"person":"bob"}`), http.StatusNotFound, "assigning is not available", "action")
}

// burst posts generic alerts name-from .. name-(to-1), all of group name,
// and returns the one incident they are in.
func (f *fixture) burst(name string, from, to int) int64 {
	f.t.Helper()
	var alerts []string
	for i := from; i < to; i++ {
		alerts = append(alerts, fmt.Sprintf(`{"title":"%s %d","dedup_key":"%s-%d","labels":{"alertname":%q}}`, name, i, name, i, name))
	}
	r := f.do("POST", "/hooks/generic", "gen-secret", "["+strings.Join(alerts, ",")+"]")
	var res hookResponse
	if r.code != http.StatusAccepted || json.Unmarshal([]byte(r.body), &res) != nil || len(res.Incidents) != 1 {
		f.t.Fatalf("POST /hooks/generic = %d %s, want one incident", r.code, r.body)
	}
	return res.Incidents[0]
}

// detailPage is what the paging tests read of an incident's detail.
type detailPage struct {
	ID                 int64            `json:"id"`
	AlertCount         int              `json:"alert_count"`
	Alerts             []incident.Alert `json:"alerts"`
	AlertsNextCursor   *string          `json:"alerts_next_cursor"`
	Timeline           []incident.Event `json:"timeline"`
	TimelineCount      int              `json:"timeline_count"`
	TimelineNextCursor *string          `json:"timeline_next_cursor"`
}

func (f *fixture) detail(path string) detailPage {
	f.t.Helper()
	r := f.api("GET", path, "")
	var d detailPage
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &d) != nil {
		f.t.Fatalf("GET %s = %d %s", path, r.code, r.body)
	}
	return d
}

// An incident's detail holds one page of its alerts and one of its
// timeline, the first by default, with their counts and next cursors.
func TestIncidentDetailPagesItsAlertsAndTimeline(t *testing.T) {
	f := newFixture(t)
	id := f.burst("NodeDown", 0, 700)
	path := fmt.Sprintf("/api/v1/incidents/%d", id)
	cases := []struct {
		name                   string
		query                  string
		alerts, timeline       int
		alertsMore, eventsMore bool
	}{
		{"default pages", "", incident.DefaultPageLimit, incident.DefaultPageLimit, true, true},
		{"smaller pages", "?alerts_limit=3&timeline_limit=2", 3, 2, true, true},
		{"the largest pages", "?alerts_limit=500&timeline_limit=500", 500, 500, true, true},
		{"one list's limit leaves the other's default", "?timeline_limit=1", incident.DefaultPageLimit, 1, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := f.detail(path + c.query)
			if len(d.Alerts) != c.alerts || len(d.Timeline) != c.timeline {
				t.Errorf("%d alerts and %d timeline entries, want %d and %d", len(d.Alerts), len(d.Timeline), c.alerts, c.timeline)
			}
			if (d.AlertsNextCursor != nil) != c.alertsMore || (d.TimelineNextCursor != nil) != c.eventsMore {
				t.Errorf("next cursors %v %v, want more alerts %v, more timeline %v", d.AlertsNextCursor, d.TimelineNextCursor, c.alertsMore, c.eventsMore)
			}
			if d.AlertCount != 700 || d.TimelineCount < 700 {
				t.Errorf("alert_count %d, timeline_count %d, want 700 and at least one entry an alert", d.AlertCount, d.TimelineCount)
			}
			if d.Alerts[0].Summary != "NodeDown 0" || d.Timeline[0].Kind != incident.KindTriggered {
				t.Errorf("the first page does not start at the first alert and entry: %q, %q", d.Alerts[0].Summary, d.Timeline[0].Kind)
			}
		})
	}

	// A small incident fits its first pages: no cursors.
	small := f.detail(fmt.Sprintf("/api/v1/incidents/%d", f.open("Disk")))
	if len(small.Alerts) != 1 || small.AlertsNextCursor != nil || small.TimelineNextCursor != nil || len(small.Timeline) != small.TimelineCount {
		t.Errorf("small incident = %+v, want everything on the first pages", small)
	}
}

// Walking a list with its cursor lists every row exactly once, in order,
// also when rows join while the client walks.
func TestIncidentDetailCursorWalksEveryRowOnce(t *testing.T) {
	for _, list := range []string{"alerts", "timeline"} {
		t.Run(list, func(t *testing.T) {
			f := newFixture(t)
			id := f.burst("NodeDown", 0, 40)
			seen := map[int64]int{}
			var order []int64
			cursor := ""
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatal("the walk does not end")
				}
				if page == 2 {
					// Alerts join mid-walk: they come after the pages
					// already seen.
					f.burst("NodeDown", 40, 50)
				}
				q := fmt.Sprintf("/api/v1/incidents/%d?%s_limit=7", id, list)
				if cursor != "" {
					q += "&" + list + "_cursor=" + cursor
				}
				d := f.detail(q)
				next := d.AlertsNextCursor
				var ids []int64
				for _, a := range d.Alerts {
					ids = append(ids, a.ID)
				}
				if list == "timeline" {
					next, ids = d.TimelineNextCursor, nil
					for _, e := range d.Timeline {
						ids = append(ids, e.ID)
					}
				}
				for _, x := range ids {
					seen[x]++
					order = append(order, x)
				}
				if next == nil {
					break
				}
				cursor = *next
			}
			want := 50
			if list == "timeline" {
				want = f.detail(fmt.Sprintf("/api/v1/incidents/%d", id)).TimelineCount
			}
			if len(seen) != want || len(order) != want {
				t.Fatalf("walk listed %d rows (%d distinct), want %d once each", len(order), len(seen), want)
			}
			for i := 1; i < len(order); i++ {
				if order[i] <= order[i-1] {
					t.Fatalf("walk out of order at %d: %v", i, order)
				}
			}
		})
	}
}

// Bad paging parameters are 400s that name the parameter.
func TestIncidentDetailRejectsBadPaging(t *testing.T) {
	f := newFixture(t)
	one := f.burst("A", 0, 3)
	other := f.burst("B", 0, 3)
	d := f.detail(fmt.Sprintf("/api/v1/incidents/%d?alerts_limit=1&timeline_limit=1", one))
	alertsCursor, timelineCursor := *d.AlertsNextCursor, *d.TimelineNextCursor
	listCursor := func() string {
		r := f.api("GET", "/api/v1/incidents?limit=1", "")
		var body struct {
			Next *string `json:"next_cursor"`
		}
		if json.Unmarshal([]byte(r.body), &body) != nil || body.Next == nil {
			t.Fatalf("list = %s", r.body)
		}
		return *body.Next
	}()
	cases := []struct {
		name, query, want, field string
		id                       int64
	}{
		{"alerts limit zero", "alerts_limit=0", "alerts_limit must be a whole number from 1 to 500", "alerts_limit", one},
		{"alerts limit over the cap", "alerts_limit=501", "alerts_limit must be a whole number from 1 to 500", "alerts_limit", one},
		{"alerts limit negative", "alerts_limit=-1", "alerts_limit must be a whole number from 1 to 500", "alerts_limit", one},
		{"alerts limit not a number", "alerts_limit=ten", "alerts_limit must be a whole number from 1 to 500", "alerts_limit", one},
		{"timeline limit over the cap", "timeline_limit=501", "timeline_limit must be a whole number from 1 to 500", "timeline_limit", one},
		{"timeline limit a fraction", "timeline_limit=1.5", "timeline_limit must be a whole number from 1 to 500", "timeline_limit", one},
		{"alerts cursor not a cursor", "alerts_cursor=not-a-cursor", "cursor is not one this server returned", "alerts_cursor", one},
		{"timeline cursor not a cursor", "timeline_cursor=%25%25", "cursor is not one this server returned", "timeline_cursor", one},
		{"a timeline cursor for the alerts", "alerts_cursor=" + timelineCursor, "it continues the timeline, not the alerts", "alerts_cursor", one},
		{"an alerts cursor for the timeline", "timeline_cursor=" + alertsCursor, "it continues the alerts, not the timeline", "timeline_cursor", one},
		{"a cursor of another incident", "alerts_cursor=" + alertsCursor, fmt.Sprintf("it continues incident %d, not %d", one, other), "alerts_cursor", other},
		{"a cursor of the incident list", "alerts_cursor=" + listCursor, "cursor is not one this server returned", "alerts_cursor", one},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, f.api("GET", fmt.Sprintf("/api/v1/incidents/%d?%s", c.id, c.query), ""), http.StatusBadRequest, c.want, c.field)
		})
	}
	// The id is checked before the paging, and an unknown incident is
	// 404 whatever the paging says.
	expectError(t, f.api("GET", "/api/v1/incidents/99?alerts_cursor="+alertsCursor, ""), http.StatusNotFound, "incident 99 not found", "id")
}

// GET /api/v1/incidents/{id}/alerts and /timeline walk one list each with
// limit and cursor, every row once, and give the list's total; the pages
// are those of the detail's alerts_* and timeline_*.
func TestIncidentListsPageOnTheirOwn(t *testing.T) {
	f := newFixture(t)
	id := f.burst("NodeDown", 0, 23)
	type page struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
		Total      int     `json:"total"`
		NextCursor *string `json:"next_cursor"`
	}
	for _, list := range []string{"alerts", "timeline"} {
		t.Run(list, func(t *testing.T) {
			seen := map[int64]bool{}
			cursor, pages, total := "", 0, 0
			for {
				path := fmt.Sprintf("/api/v1/incidents/%d/%s?limit=5", id, list)
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				r := f.api("GET", path, "")
				var p page
				if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &p) != nil {
					t.Fatalf("GET %s = %d %s", path, r.code, r.body)
				}
				if len(p.Items) > 5 {
					t.Fatalf("a page of %d items past limit=5", len(p.Items))
				}
				for _, it := range p.Items {
					if seen[it.ID] {
						t.Fatalf("row %d listed twice", it.ID)
					}
					seen[it.ID] = true
				}
				total = p.Total
				if pages++; p.NextCursor == nil || pages > 50 {
					break
				}
				cursor = *p.NextCursor
			}
			if len(seen) != total || (list == "alerts" && total != 23) {
				t.Fatalf("walk reached %d rows, total %d", len(seen), total)
			}
		})
	}
	cases := []struct{ path, want, field string }{
		{fmt.Sprintf("/api/v1/incidents/%d/alerts?limit=0", id), "limit must be a whole number from 1 to 500", "limit"},
		{fmt.Sprintf("/api/v1/incidents/%d/timeline?limit=x", id), "limit must be a whole number from 1 to 500", "limit"},
		{fmt.Sprintf("/api/v1/incidents/%d/alerts?cursor=nope", id), "cursor is not one this server returned", "cursor"},
	}
	for _, c := range cases {
		expectError(t, f.api("GET", c.path, ""), http.StatusBadRequest, c.want, c.field)
	}
	expectError(t, f.api("GET", "/api/v1/incidents/999/alerts", ""), http.StatusNotFound, "incident 999 not found", "id")
}
