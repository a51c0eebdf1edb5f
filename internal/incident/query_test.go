package incident

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/ingest"
)

// ListAlerts and ListTimeline, as the API and the console call them: the
// limit defaults and is capped, a cursor continues only its own list of
// its own incident, and an unknown incident is ErrNotFound.
func TestListAlertsAndTimelinePage(t *testing.T) {
	st, router, log := openDomain(t)
	s := NewService(st, clock.NewFake(t0), router, nil, Options{Logger: log})
	ctx := context.Background()
	var alerts []ingest.Alert
	for i := range 600 {
		alerts = append(alerts, ingest.Alert{Fingerprint: fmt.Sprint("f", i), Status: ingest.StatusFiring,
			Summary: fmt.Sprint("node-", i), Labels: map[string]string{"alertname": "NodeDown"}, StartsAt: t0})
	}
	res, err := s.Ingest(ctx, "am", alerts)
	if err != nil || len(res.Incidents) != 1 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	id := res.Incidents[0]

	for _, c := range []struct {
		limit, want int
	}{{0, DefaultPageLimit}, {-5, DefaultPageLimit}, {7, 7}, {MaxPageLimit + 1, MaxPageLimit}, {1 << 30, MaxPageLimit}} {
		a, err := s.ListAlerts(ctx, id, Page{Limit: c.limit})
		if err != nil || len(a.Alerts) != c.want || a.Total != 600 || a.Next == "" {
			t.Errorf("ListAlerts limit %d = %d alerts of %d, next %q, %v; want %d of 600 and a next page", c.limit, len(a.Alerts), a.Total, a.Next, err, c.want)
		}
		e, err := s.ListTimeline(ctx, id, Page{Limit: c.limit})
		if err != nil || len(e.Events) != c.want || e.Total < 600 || e.Next == "" {
			t.Errorf("ListTimeline limit %d = %d events of %d, next %q, %v; want %d and a next page", c.limit, len(e.Events), e.Total, e.Next, err, c.want)
		}
	}

	first, err := s.ListAlerts(ctx, id, Page{Limit: MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.ListAlerts(ctx, id, Page{Limit: MaxPageLimit, Cursor: first.Next})
	if err != nil || len(last.Alerts) != 600-MaxPageLimit || last.Next != "" || last.Alerts[0].ID <= first.Alerts[MaxPageLimit-1].ID {
		t.Errorf("last page = %d alerts, next %q, %v; want the 100 after the first page and no next", len(last.Alerts), last.Next, err)
	}

	events, err := s.ListTimeline(ctx, id, Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListAlerts(ctx, id, Page{Cursor: events.Next}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("a timeline cursor for the alerts: %v, want ErrBadCursor", err)
	}
	if _, err := s.ListTimeline(ctx, id+1, Page{Cursor: events.Next}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("another incident's cursor: %v, want ErrBadCursor", err)
	}
	if _, err := s.ListAlerts(ctx, id+1, Page{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("alerts of an unknown incident: %v, want ErrNotFound", err)
	}
	if _, err := s.ListTimeline(ctx, id+1, Page{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("timeline of an unknown incident: %v, want ErrNotFound", err)
	}
	if _, err := s.Incident(ctx, id+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown incident: %v, want ErrNotFound", err)
	}
}
