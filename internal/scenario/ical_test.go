package scenario

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func decodeFeed(t *testing.T, body []byte) []ical.Event {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("feed is not iCalendar: %v\n%s", err, body)
	}
	return cal.Events()
}

func TestScheduleAndUserCalendarFeeds(t *testing.T) {
	h := New(t)
	var list struct {
		Schedules []struct {
			Name    string `json:"name"`
			ICalURL string `json:"ical_url"`
		} `json:"schedules"`
	}
	json.Unmarshal(h.API("GET", "/api/v1/schedules").Body, &list)
	feed := list.Schedules[0].ICalURL
	if !strings.HasPrefix(feed, h.Server.URL+"/ical/schedules/ops.ics?token=") {
		t.Fatalf("ical_url = %q", feed)
	}
	path := strings.TrimPrefix(feed, h.Server.URL)
	r := h.do("GET", path, nil, nil) // no API token: the URL is the credential
	if r.Code != 200 {
		t.Fatalf("feed = %d %s", r.Code, r.Body)
	}
	events := decodeFeed(t, r.Body)
	if len(events) < 9 {
		t.Fatalf("feed has %d events, want two months of weekly shifts", len(events))
	}
	first := events[0]
	start, _ := first.DateTimeStart(time.UTC)
	end, _ := first.DateTimeEnd(time.UTC)
	summary, _ := first.Props.Text(ical.PropSummary)
	if summary != "On call: alice (ops)" || !start.Equal(time.Date(2026, 2, 23, 9, 0, 0, 0, time.UTC)) ||
		!end.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("first event %q %v - %v", summary, start, end)
	}
	// London goes to summer time on 2026-03-29: the handoff stays at 09:00
	// local, 08:00 UTC.
	for _, e := range events {
		s, _ := e.DateTimeStart(time.UTC)
		if s.After(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)) && s.Hour() != 8 {
			t.Fatalf("summer handoff at %v UTC", s)
		}
	}
	// UIDs are stable across fetches, so calendars update in place.
	again := decodeFeed(t, h.do("GET", path, nil, nil).Body)
	uid1, _ := events[1].Props.Text(ical.PropUID)
	uid2, _ := again[1].Props.Text(ical.PropUID)
	if uid1 == "" || uid1 != uid2 {
		t.Fatalf("UIDs %q and %q", uid1, uid2)
	}
	for _, bad := range []string{"/ical/schedules/ops.ics", "/ical/schedules/ops.ics?token=guess",
		"/ical/users/alice.ics?" + strings.SplitN(path, "?", 2)[1]} {
		if r := h.do("GET", bad, nil, nil); r.Code != 401 {
			t.Fatalf("%s = %d, want 401 (a schedule's token opens nothing else)", bad, r.Code)
		}
	}
	// A person's feed, from the URL the API gives.
	var shifts struct {
		ICalURL string `json:"ical_url"`
	}
	json.Unmarshal(h.API("GET", "/api/v1/users/bob/shifts").Body, &shifts)
	r = h.do("GET", strings.TrimPrefix(shifts.ICalURL, h.Server.URL), nil, nil)
	if r.Code != 200 {
		t.Fatalf("bob's feed = %d", r.Code)
	}
	for _, e := range decodeFeed(t, r.Body) {
		if s, _ := e.Props.Text(ical.PropSummary); s != "On call: bob (ops)" {
			t.Fatalf("bob's feed has %q", s)
		}
	}
}
