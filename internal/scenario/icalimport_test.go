package scenario

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLayerImportedFromACalendarURLIsRefreshed(t *testing.T) {
	var mu sync.Mutex
	who := "bob"
	cal := func() string {
		mu.Lock()
		defer mu.Unlock()
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:20260302T000000Z\r\nDTEND:20260303T000000Z\r\nSUMMARY:" + who + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/calendar")
		w.Write([]byte(cal()))
	}))
	defer src.Close()
	config := strings.Replace(BaseConfig, `      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}`,
		`      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
      - {name: imported, ical: {url: "`+src.URL+`/team.ics"}}`, 1)
	h := New(t, WithConfig(config))
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("with the imported day on call = %v, want bob", oc.OnCall)
	}
	// The calendar changes; an hour later the bot has read it again.
	mu.Lock()
	who = "carol"
	mu.Unlock()
	h.Advance(59 * time.Minute)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"bob"}) {
		t.Fatalf("before the hourly refresh on call = %v, want bob still", oc.OnCall)
	}
	h.Advance(time.Minute)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("after the refresh on call = %v, want carol", oc.OnCall)
	}
	// The source goes away: the bot keeps what it read.
	src.Close()
	h.Advance(time.Hour)
	if oc := h.teamOnCall("ops"); !slices.Equal(oc.OnCall, []string{"carol"}) {
		t.Fatalf("with the source down on call = %v, want carol kept", oc.OnCall)
	}
}

// Closing the bot ends a calendar refresh in flight and waits for it, so
// nothing reads a slow calendar, or writes to the store, after Close.
func TestClosingTheBotEndsACalendarRefreshInFlight(t *testing.T) {
	var calls atomic.Int32
	reached, ended := make(chan struct{}), make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) != 2 { // the second read is the hourly refresh
			w.Header().Set("Content-Type", "text/calendar")
			w.Write([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n" +
				"DTSTART:20260302T000000Z\r\nDTEND:20260303T000000Z\r\nSUMMARY:bob\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
			return
		}
		close(reached)
		<-r.Context().Done() // a calendar server that never answers
		close(ended)
	}))
	defer src.Close()
	config := strings.Replace(BaseConfig, `      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}`,
		`      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
      - {name: imported, ical: {url: "`+src.URL+`/team.ics"}}`, 1)
	h := New(t, WithConfig(config))
	// The hourly refresh falls due; run it without waiting for it.
	h.Clock.Advance(time.Hour)
	if _, err := h.App.Timers.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(10 * time.Second): // a bound on a hang, not a wait for a timer
		t.Fatal("the refresh never asked for the calendar")
	}
	start := time.Now()
	h.Restart()
	select {
	case <-ended:
	default:
		t.Fatal("the bot closed with its calendar refresh still running")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("closing took %s", took)
	}
}
