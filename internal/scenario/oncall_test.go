package scenario

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

type teamOnCall struct {
	Team     string    `json:"team"`
	Schedule string    `json:"schedule"`
	OnCall   []string  `json:"on_call"`
	Until    time.Time `json:"until"`
	Next     []struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Users []string  `json:"users"`
	} `json:"next_handoffs"`
}

func (h *Harness) teamOnCall(team string) teamOnCall {
	h.T.Helper()
	r := h.API("GET", "/api/v1/teams/"+team+"/oncall")
	if r.Code != 200 {
		h.T.Fatalf("GET oncall of %s = %d %s", team, r.Code, r.Body)
	}
	var oc teamOnCall
	if err := json.Unmarshal(r.Body, &oc); err != nil {
		h.T.Fatal(err)
	}
	return oc
}

// APIJSON sends a JSON body to the REST API.
func (h *Harness) APIJSON(method, path string, body any) Response {
	h.T.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		h.T.Fatal(err)
	}
	return h.do(method, path, http.Header{"Authorization": {"Bearer " + APIToken}, "Content-Type": {"application/json"}}, b)
}

func TestWhoIsOnCallAndTheNextHandoffs(t *testing.T) {
	h := New(t)
	// Monday 2026-03-02 03:00 London: alice's week (from Feb 23 09:00)
	// ends at 09:00 today, then bob, then alice again.
	oc := h.teamOnCall("ops")
	if !slices.Equal(oc.OnCall, []string{"alice"}) || oc.Schedule != "ops" || !oc.Until.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("ops on call = %+v", oc)
	}
	if len(oc.Next) < 2 || !slices.Equal(oc.Next[0].Users, []string{"bob"}) || !slices.Equal(oc.Next[1].Users, []string{"alice"}) {
		t.Fatalf("next handoffs = %+v", oc.Next)
	}
	// After the clocks change (2026-03-29), 09:00 London is 08:00 UTC.
	for _, n := range oc.Next {
		if n.Start.After(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)) && n.Start.Hour() != 8 {
			t.Fatalf("handoff after the spring change at %s UTC, want 08:00", n.Start)
		}
	}
	h.Advance(6 * time.Hour)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("after 09:00 on call = %v, want bob", oc.OnCall)
	}
	if r := h.API("GET", "/api/v1/teams/nope/oncall"); r.Code != 404 {
		t.Fatalf("unknown team = %d", r.Code)
	}
	// dba has no schedule: nobody, said plainly.
	if oc := h.teamOnCall("dba"); len(oc.OnCall) != 0 {
		t.Fatalf("dba on call = %v", oc.OnCall)
	}
}

func TestOverridesChangeWhoIsOnCallAndSurviveRestart(t *testing.T) {
	h := New(t)
	now := h.Clock.Now()
	r := h.APIJSON("POST", "/api/v1/schedules/ops/overrides", map[string]any{
		"kind": "replace", "user": "carol", "replaces": "alice",
		"start": now.Add(-time.Minute), "end": now.Add(2 * time.Hour), "note": "alice is at the dentist",
	})
	if r.Code != 201 {
		t.Fatalf("create override = %d %s", r.Code, r.Body)
	}
	var o struct{ ID int64 }
	json.Unmarshal(r.Body, &o)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) || !oc.Until.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("with the override on call = %v until %v", oc.OnCall, oc.Until)
	}
	h.Restart()
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("after restart on call = %v, the override was lost", oc.OnCall)
	}
	var list struct {
		Overrides []struct {
			ID   int64
			User string
		}
	}
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops/overrides").Body, &list)
	if len(list.Overrides) != 1 || list.Overrides[0].User != "carol" {
		t.Fatalf("overrides = %+v", list)
	}
	if r := h.API("DELETE", "/api/v1/schedules/ops/overrides/"+itoa(o.ID)); r.Code != 204 {
		t.Fatalf("delete = %d %s", r.Code, r.Body)
	}
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"alice"}) {
		t.Fatalf("after delete on call = %v", oc.OnCall)
	}
	if r := h.API("DELETE", "/api/v1/schedules/ops/overrides/"+itoa(o.ID)); r.Code != 404 {
		t.Fatalf("second delete = %d", r.Code)
	}
}

func TestOverrideAcrossTheClockChange(t *testing.T) {
	h := New(t)
	// Carol covers Saturday 20:00 to Sunday 20:00 London over the spring
	// change (2026-03-28/29): 23 real hours.
	from := time.Date(2026, 3, 28, 20, 0, 0, 0, time.UTC) // GMT
	to := time.Date(2026, 3, 29, 19, 0, 0, 0, time.UTC)   // 20:00 BST
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/overrides", map[string]any{
		"kind": "replace", "user": "carol", "start": from, "end": to,
	}); r.Code != 201 {
		t.Fatalf("create = %d %s", r.Code, r.Body)
	}
	h.Clock.Set(from.Add(-time.Minute))
	before := h.teamOnCall("ops").OnCall
	h.Clock.Set(from)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) || !oc.Until.Equal(to) {
		t.Fatalf("at the start on call = %v until %v", oc.OnCall, oc.Until)
	}
	h.Clock.Set(to.Add(-time.Minute))
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("just before the end on call = %v", oc.OnCall)
	}
	h.Clock.Set(to)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, before) {
		t.Fatalf("after the override on call = %v, want %v again", oc.OnCall, before)
	}
}

func TestOverrideRequestsAreChecked(t *testing.T) {
	h := New(t)
	now := h.Clock.Now()
	cases := []struct {
		body  any
		code  int
		field string
	}{
		{map[string]any{"user": "mallory", "start": now, "end": now.Add(time.Hour)}, 400, "user"},
		{map[string]any{"user": "bob", "start": now.Add(time.Hour), "end": now}, 400, "end"},
		{map[string]any{"user": "bob", "start": now.Add(-2 * time.Hour), "end": now.Add(-time.Hour)}, 400, "end"},
		{map[string]any{"user": "bob", "kind": "swap", "start": now, "end": now.Add(time.Hour)}, 400, "kind"},
		{map[string]any{"user": "bob", "kind": "add", "replaces": "alice", "start": now, "end": now.Add(time.Hour)}, 400, "replaces"},
		{map[string]any{"user": "bob", "start": now, "end": now.Add(time.Hour), "colour": "red"}, 400, ""},
		{map[string]any{"user": "bob"}, 400, "start"},
	}
	for _, c := range cases {
		r := h.APIJSON("POST", "/api/v1/schedules/ops/overrides", c.body)
		if r.Code != c.code || r.Field != c.field || r.Error == "" {
			t.Errorf("%v = %d field %q (%s), want %d naming %q", c.body, r.Code, r.Field, r.Error, c.code, c.field)
		}
	}
	if r := h.APIJSON("POST", "/api/v1/schedules/nope/overrides", map[string]any{}); r.Code != 404 {
		t.Errorf("unknown schedule = %d", r.Code)
	}
	r := h.do("POST", "/api/v1/schedules/ops/overrides", http.Header{"Authorization": {"Bearer " + APIToken}}, bytes.Repeat([]byte("x"), 100))
	if r.Code != 400 {
		t.Errorf("garbage body = %d", r.Code)
	}
}

func TestSchedulesListAndFinalSchedule(t *testing.T) {
	h := New(t)
	var list struct {
		Schedules []struct {
			Name     string   `json:"name"`
			TimeZone string   `json:"time_zone"`
			OnCall   []string `json:"on_call"`
		} `json:"schedules"`
	}
	json.Unmarshal(h.API("GET", "/api/v1/schedules").Body, &list)
	if len(list.Schedules) != 1 || list.Schedules[0].TimeZone != "Europe/London" || !slices.Equal(list.Schedules[0].OnCall, []string{"alice"}) {
		t.Fatalf("schedules = %+v", list)
	}
	var final struct {
		Final []struct {
			Start, End time.Time
			Users      []string
		}
		Gaps []struct{ Start, End time.Time }
	}
	r := h.API("GET", "/api/v1/schedules/ops?from=2026-02-23T00:00:00Z&to=2026-03-09T00:00:00Z")
	if r.Code != 200 {
		t.Fatalf("final = %d %s", r.Code, r.Body)
	}
	json.Unmarshal(r.Body, &final)
	// Before the first handoff (Feb 23 09:00) nobody: one gap, then
	// alice, then bob.
	if len(final.Gaps) != 1 || !final.Gaps[0].End.Equal(time.Date(2026, 2, 23, 9, 0, 0, 0, time.UTC)) ||
		len(final.Final) != 3 || !slices.Equal(final.Final[1].Users, []string{"alice"}) || !slices.Equal(final.Final[2].Users, []string{"bob"}) {
		t.Fatalf("final schedule = %+v", final)
	}
	for _, bad := range []string{"from=yesterday", "to=2020-01-01T00:00:00Z", "from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"} {
		if r := h.API("GET", "/api/v1/schedules/ops?"+bad); r.Code != 400 || r.Field == "" {
			t.Errorf("%s = %d %q", bad, r.Code, r.Field)
		}
	}
}
