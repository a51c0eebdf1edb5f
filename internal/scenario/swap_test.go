package scenario

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

type swapView struct {
	ID         int64  `json:"id"`
	Requester  string `json:"requester"`
	State      string `json:"state"`
	TakenBy    string `json:"taken_by"`
	OverrideID int64  `json:"override_id"`
}

func (h *Harness) requestSwap(schedule, who string, start, end time.Time) swapView {
	h.T.Helper()
	r := h.APIJSON("POST", "/api/v1/schedules/"+schedule+"/swaps", map[string]any{"requester": who, "start": start, "end": end})
	if r.Code != 201 {
		h.T.Fatalf("request swap = %d %s", r.Code, r.Body)
	}
	var sw swapView
	json.Unmarshal(r.Body, &sw)
	return sw
}

func TestSwapAcceptedSendsTheNextPageToTheNewPerson(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	// alice is on call this week; she asks for cover of the next 4 hours.
	now := h.Clock.Now()
	sw := h.requestSwap("ops", "alice", now, now.Add(4*time.Hour))
	if sw.State != "open" {
		t.Fatalf("new swap = %+v", sw)
	}
	// The first teammate to accept wins; a second is told it is taken.
	r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw.ID)+"/accept", map[string]string{"user": "bob"})
	if r.Code != 200 {
		t.Fatalf("bob accepts = %d %s", r.Code, r.Body)
	}
	r = h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw.ID)+"/accept", map[string]string{"user": "carol"})
	if r.Code != 409 || !strings.Contains(r.Error, "already taken by bob") {
		t.Fatalf("second accept = %d %s", r.Code, r.Body)
	}
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("after the swap on call = %v", oc.OnCall)
	}
	// The next page goes to bob (his rule: SMS at once), not alice.
	h.PostAlerts(Firing("alertname=Disk"))
	h.Advance(10 * time.Minute)
	if got := h.Twilio.Messages(bobPhone); len(got) != 1 {
		t.Fatalf("bob got %d SMS, want the page", len(got))
	}
	if got := h.Twilio.Messages(alicePhone); len(got) != 0 {
		t.Fatalf("alice was paged during her covered hours: %+v", got)
	}
	// After the swap's range, alice is back.
	h.Advance(4 * time.Hour)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"alice"}) {
		t.Fatalf("after the swap ended on call = %v", oc.OnCall)
	}
	var list struct{ Swaps []swapView }
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops/swaps").Body, &list)
	if len(list.Swaps) != 1 || list.Swaps[0].State != "taken" || list.Swaps[0].TakenBy != "bob" || list.Swaps[0].OverrideID == 0 {
		t.Fatalf("swaps = %+v", list.Swaps)
	}
}

func TestSwapRulesAndExpiry(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	now := h.Clock.Now()
	// bob is not on call this week: nothing to cover.
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps", map[string]any{"requester": "bob", "start": now, "end": now.Add(time.Hour)}); r.Code != 409 {
		t.Fatalf("swap of nothing = %d %s", r.Code, r.Body)
	}
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps", map[string]any{"requester": "stranger", "start": now, "end": now.Add(time.Hour)}); r.Code != 400 || r.Field != "requester" {
		t.Fatalf("stranger's swap = %d %s", r.Code, r.Body)
	}
	sw := h.requestSwap("ops", "alice", now, now.Add(time.Hour))
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw.ID)+"/accept", map[string]string{"user": "alice"}); r.Code != 409 {
		t.Fatalf("self-accept = %d", r.Code)
	}
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw.ID)+"/cancel", map[string]string{"user": "bob"}); r.Code != 409 {
		t.Fatalf("cancel by a non-lead teammate = %d", r.Code)
	}
	// Nobody takes it: after its range it reads as expired and can no
	// longer be accepted.
	h.Advance(61 * time.Minute)
	var list struct{ Swaps []swapView }
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops/swaps").Body, &list)
	if list.Swaps[0].State != "expired" {
		t.Fatalf("swap after its range = %+v", list.Swaps[0])
	}
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw.ID)+"/accept", map[string]string{"user": "bob"}); r.Code != 409 || !strings.Contains(r.Error, "expired") {
		t.Fatalf("accepting an expired swap = %d %s", r.Code, r.Body)
	}
	// A lead may cancel an open swap.
	sw2 := h.requestSwap("ops", "alice", h.Clock.Now(), h.Clock.Now().Add(time.Hour))
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/swaps/"+itoa(sw2.ID)+"/cancel", map[string]string{"user": "lead"}); r.Code != 200 {
		t.Fatalf("lead cancels = %d %s", r.Code, r.Body)
	}
}

func TestTakeTheCurrentShift(t *testing.T) {
	h := New(t, WithConfig(phoneConfig))
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/take", map[string]string{"user": "bob"}); r.Code != 201 {
		t.Fatalf("take = %d %s", r.Code, r.Body)
	}
	// alice's week ends Monday 09:00 (she started Feb 23): bob holds it
	// until then, when the rotation goes on as before (his own week).
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("after take on call = %v", oc.OnCall)
	}
	var list struct {
		Overrides []struct {
			User     string
			Start    time.Time
			End      time.Time
			Replaces string
		}
	}
	json.Unmarshal(h.API("GET", "/api/v1/schedules/ops/overrides").Body, &list)
	if len(list.Overrides) != 1 || list.Overrides[0].User != "bob" || !list.Overrides[0].Start.Equal(Start) ||
		!list.Overrides[0].End.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("take made overrides %+v, want bob from now to alice's handoff", list.Overrides)
	}
	if r := h.APIJSON("POST", "/api/v1/schedules/ops/take", map[string]string{"user": "lead"}); r.Code != 409 {
		t.Fatalf("take by someone without shifts = %d", r.Code)
	}
	var shifts struct {
		Shifts []struct {
			Schedule   string
			Start, End time.Time
		}
	}
	json.Unmarshal(h.API("GET", "/api/v1/users/bob/shifts").Body, &shifts)
	if len(shifts.Shifts) == 0 || !shifts.Shifts[0].Start.Equal(Start) {
		t.Fatalf("bob's shifts = %+v", shifts)
	}
}
