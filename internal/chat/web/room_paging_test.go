package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/ingest"
)

var (
	alertRow  = regexp.MustCompile(`<td>firing</td><td>(disk full on node-\d+)</td>`)
	nextAlert = regexp.MustCompile(`<a href="([^"]+)">Next alerts</a>`)
	nextEntry = regexp.MustCompile(`<a href="([^"]+)">Next entries</a>`)
	entryRow  = regexp.MustCompile(`<li><span class="muted">`)
)

// Issue 9, item 5: an incident's room shows its alerts and timeline a
// page at a time, with their totals, and its links reach every alert
// exactly once.
func TestRoomPagesThroughAnIncidentOfManyAlerts(t *testing.T) {
	f := newFixture(t)
	const n = 250
	var body strings.Builder
	body.WriteString(`[`)
	for i := range n {
		if i > 0 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"title":"disk full on node-%d","dedup_key":"node-%d","labels":{"alertname":"DiskFull"}}`, i, i)
	}
	body.WriteString(`]`)
	b, err := ingest.Decode("generic", []byte(body.String()), ingest.Options{DefaultSeverity: ingest.SeverityError, Now: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.incidents.Ingest(context.Background(), "generic", b.Alerts)
	if err != nil || len(res.Incidents) != 1 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	id := res.Incidents[0]
	alice := f.signIn("alice-token")

	seen := map[string]int{}
	path := fmt.Sprintf("/incidents/%d", id)
	pages := 0
	for path != "" {
		rec := f.do(request{method: "GET", path: path, cookie: alice})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		page := rec.Body.String()
		if pages == 0 && !strings.Contains(page, `Alerts <span class="muted">(250)</span>`) {
			t.Errorf("the first page does not give the total of 250 alerts")
		}
		rows := alertRow.FindAllStringSubmatch(page, -1)
		if len(rows) > roomPageSize {
			t.Fatalf("a page shows %d alerts, more than %d", len(rows), roomPageSize)
		}
		if n := len(entryRow.FindAllString(page, -1)); n > roomPageSize {
			t.Fatalf("a page shows %d timeline entries, more than %d", n, roomPageSize)
		}
		for _, r := range rows {
			seen[r[1]]++
		}
		path = ""
		if m := nextAlert.FindStringSubmatch(page); m != nil {
			path = html.UnescapeString(m[1])
		}
		if pages++; pages > 10 {
			t.Fatal("the links never end")
		}
	}
	if pages != 3 || len(seen) != n {
		t.Fatalf("%d pages reached %d distinct alerts, want 3 pages and %d", pages, len(seen), n)
	}
	for a, k := range seen {
		if k != 1 {
			t.Errorf("%s listed %d times", a, k)
		}
	}

	// The timeline pages on its own link, keeping the alerts' place.
	first := f.do(request{method: "GET", path: fmt.Sprintf("/incidents/%d", id), cookie: alice}).Body.String()
	m := nextEntry.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("no link to the next timeline entries of an incident of %d alerts", n)
	}
	next := f.do(request{method: "GET", path: html.UnescapeString(m[1]), cookie: alice})
	if next.Code != http.StatusOK || !strings.Contains(next.Body.String(), "Back to the first alerts and entries") {
		t.Fatalf("the timeline's next page = %d", next.Code)
	}

	for _, bad := range []string{"?alerts=garbage", "?timeline=garbage"} {
		if rec := f.do(request{method: "GET", path: fmt.Sprintf("/incidents/%d%s", id, bad), cookie: alice}); rec.Code != http.StatusBadRequest {
			t.Errorf("%s = %d, want 400", bad, rec.Code)
		}
	}
}
