package chat

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
)

func TestCardButtonsFollowTheStatusAndParse(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	inc := incident.Incident{ID: 42, Title: "disk full", Team: "ops", Severity: ingest.SeverityCritical,
		AlertCount: 2, FiringCount: 1, CreatedAt: at}
	cases := []struct {
		status incident.Status
		want   []string
	}{
		{incident.StatusTriggered, []string{"ack #42", "escalate #42", "snooze 30m #42", "snooze 1h #42", "snooze 4h #42", "resolve #42"}},
		{incident.StatusAcknowledged, []string{"unack #42", "escalate #42", "resolve #42"}},
		{incident.StatusResolved, []string{"reopen #42", "tag actionable #42", "tag noise #42", "tag needs-tuning #42"}},
	}
	for _, c := range cases {
		inc.Status = c.status
		card := NewCard(inc, time.UTC)
		var values []string
		for _, b := range card.Buttons {
			values = append(values, b.Value)
			// Every button is a command of the grammar.
			cmd, err := Parse(b.Value)
			if err != nil || cmd.Incident != 42 {
				t.Fatalf("button %q does not parse to a command on #42: %+v %v", b.Value, cmd, err)
			}
		}
		if !slices.Equal(values, c.want) {
			t.Errorf("%s buttons = %v, want %v", c.status, values, c.want)
		}
	}
	a := NewCard(inc, time.UTC)
	inc.FiringCount = 2
	if NewCard(inc, time.UTC).Digest() == a.Digest() {
		t.Fatal("a changed card has the same digest")
	}
	if NewCard(inc, time.UTC).Digest() != NewCard(inc, time.UTC).Digest() {
		t.Fatal("the same card has two digests")
	}
}

func TestDigestCard(t *testing.T) {
	inc := func(id int64, sev ingest.Severity, title string) incident.Incident {
		return incident.Incident{ID: id, Title: title, Severity: sev, Status: incident.StatusTriggered, Team: "ops"}
	}
	many := func(n int) []incident.Incident {
		var out []incident.Incident
		for id := int64(1); id <= int64(n); id++ {
			out = append(out, inc(id, ingest.SeverityWarning, fmt.Sprint("disk ", id)))
		}
		return out
	}
	long := strings.Repeat("x", 200)
	cases := []struct {
		name     string
		total    int
		listed   []incident.Incident
		title    string
		severity string
		fields   []string // "label: value"
	}{
		{name: "one", total: 1, listed: []incident.Incident{inc(7, ingest.SeverityError, "db down")},
			title: "1 incident is paging you", severity: "error", fields: []string{"#7 db down: error"}},
		{name: "the most severe first, then the oldest", total: 3,
			listed:   []incident.Incident{inc(4, ingest.SeverityWarning, "b"), inc(9, ingest.SeverityCritical, "c"), inc(2, ingest.SeverityWarning, "a")},
			title:    "3 incidents are paging you",
			severity: "critical", fields: []string{"#9 c: critical", "#2 a: warning", "#4 b: warning"}},
		{name: "ten fit", total: 10, listed: many(10), title: "10 incidents are paging you", severity: "warning",
			fields: []string{"#1 disk 1: warning", "#2 disk 2: warning", "#3 disk 3: warning", "#4 disk 4: warning", "#5 disk 5: warning",
				"#6 disk 6: warning", "#7 disk 7: warning", "#8 disk 8: warning", "#9 disk 9: warning", "#10 disk 10: warning"}},
		{name: "past ten, nine and a count", total: 12, listed: many(12), title: "12 incidents are paging you", severity: "warning",
			fields: []string{"#1 disk 1: warning", "#2 disk 2: warning", "#3 disk 3: warning", "#4 disk 4: warning", "#5 disk 5: warning",
				"#6 disk 6: warning", "#7 disk 7: warning", "#8 disk 8: warning", "#9 disk 9: warning", "More: +3 more"}},
		{name: "a total beyond what is listed", total: 500, listed: many(2), title: "500 incidents are paging you", severity: "warning",
			fields: []string{"#1 disk 1: warning", "#2 disk 2: warning", "More: +498 more"}},
		{name: "an incident twice is listed once", total: 0, listed: []incident.Incident{inc(1, ingest.SeverityError, "a"), inc(1, ingest.SeverityError, "a")},
			title: "1 incident is paging you", severity: "error", fields: []string{"#1 a: error"}},
		{name: "long titles are cut", total: 1, listed: []incident.Incident{inc(1, ingest.SeverityNone, long)},
			title: "1 incident is paging you", severity: "none", fields: []string{"#1 " + long[:79] + "…: none"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			card := NewDigestCard(c.total, c.listed)
			if card.IncidentID != 0 || card.Title != c.title || card.Severity != c.severity || card.Status != incident.StatusTriggered {
				t.Errorf("card = %q [%s] %s #%d, want %q [%s]", card.Title, card.Severity, card.Status, card.IncidentID, c.title, c.severity)
			}
			var fields []string
			for _, f := range card.Fields {
				fields = append(fields, f.Label+": "+f.Value)
			}
			if !slices.Equal(fields, c.fields) {
				t.Errorf("fields =\n%q\nwant\n%q", fields, c.fields)
			}
			if len(card.Fields) > 10 {
				t.Errorf("%d fields: Slack takes ten", len(card.Fields))
			}
			if len(card.Buttons) != 1 || card.Buttons[0].Label != "Acknowledge all" {
				t.Fatalf("buttons = %+v", card.Buttons)
			}
			if cmd, err := Parse(card.Buttons[0].Value); err != nil || cmd.Verb != VerbAck || !cmd.All {
				t.Errorf("the button %q is not ack all: %+v %v", card.Buttons[0].Value, cmd, err)
			}
		})
	}
	if NewDigestCard(3, many(3)).Digest() == NewDigestCard(4, many(4)).Digest() {
		t.Error("a digest that grew has the same digest")
	}
}
