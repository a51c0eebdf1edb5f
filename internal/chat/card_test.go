package chat

import (
	"slices"
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
		{incident.StatusResolved, []string{"reopen #42"}},
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
