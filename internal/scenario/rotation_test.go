package scenario

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

type handoffs struct {
	Next []struct {
		Start time.Time `json:"start"`
		Users []string  `json:"users"`
	} `json:"next_handoffs"`
}

func TestLeadEditsTheRotationAndSeesTheNextHandoffs(t *testing.T) {
	h := New(t)
	// Add carol after bob: alice (now), bob (Mar 2), carol (Mar 9), alice.
	r := h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"add": "carol"})
	if r.Code != 200 {
		t.Fatalf("add = %d %s", r.Code, r.Body)
	}
	var got handoffs
	json.Unmarshal(r.Body, &got)
	var order []string
	for _, n := range got.Next[:3] {
		order = append(order, n.Users...)
	}
	if !slices.Equal(order, []string{"bob", "carol", "alice"}) {
		t.Fatalf("next handoffs after adding carol = %v", order)
	}
	// The edit outlives a restart.
	h.Restart()
	final := h.API("GET", "/api/v1/schedules/ops?from=2026-03-09T10:00:00Z&to=2026-03-09T11:00:00Z")
	var f struct{ Final []struct{ Users []string } }
	json.Unmarshal(final.Body, &f)
	if len(f.Final) != 1 || !slices.Equal(f.Final[0].Users, []string{"carol"}) {
		t.Fatalf("after restart the week of Mar 9 is %+v, want carol", f.Final)
	}
	// Move the handoff to 10:00 London: the next one is at 10:00 GMT.
	r = h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"handoff": "10:00"})
	json.Unmarshal(r.Body, &got)
	if r.Code != 200 || !got.Next[0].Start.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("after moving the handoff: %d %+v", r.Code, got.Next)
	}
	// Refusals say why.
	for _, c := range []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"add": "carol"}, 409, ""},
		{map[string]any{"remove": "zed"}, 409, ""},
		{map[string]any{"add": "mallory"}, 400, "add"},
		{map[string]any{"order": []string{"alice", "bob"}}, 400, "order"},
		{map[string]any{"handoff": "25:00"}, 400, "handoff"},
		{map[string]any{}, 400, ""},
	} {
		if r := h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", c.body); r.Code != c.code || r.Field != c.field {
			t.Errorf("%v = %d %q (%s), want %d %q", c.body, r.Code, r.Field, r.Error, c.code, c.field)
		}
	}
	if r := h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/nope", map[string]any{"add": "carol"}); r.Code != 400 || r.Field != "layer" {
		t.Errorf("unknown layer = %d %q", r.Code, r.Field)
	}
	// Reorder, then remove down to one; the last person cannot go.
	if r := h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"order": []string{"carol", "bob", "alice"}}); r.Code != 200 {
		t.Fatalf("reorder = %d %s", r.Code, r.Body)
	}
	h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"remove": "carol"})
	h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"remove": "bob"})
	if r := h.APIJSON("PATCH", "/api/v1/schedules/ops/layers/weekly", map[string]any{"remove": "alice"}); r.Code != 409 {
		t.Fatalf("removing the last person = %d", r.Code)
	}
}
