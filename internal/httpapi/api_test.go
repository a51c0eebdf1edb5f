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
