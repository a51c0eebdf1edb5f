package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A storm of alerts joining one incident: its room hears a few lines and
// a count, and its card is edited a handful of times to the latest state,
// not 3,000 messages (Slack takes about one a second in a channel).
func TestThousandsOfAlertsJoiningAnIncidentAreAFewMessages(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	first := h.OnlyIncident(h.PostAlerts(Firing("alertname=NodeDown", "instance=node-0")))
	ch := h.Slack.Channel(fmt.Sprintf("inc-%d-nodedown-on-node-0", first.ID))
	if ch == nil {
		t.Fatalf("no channel for incident %d (%q)", first.ID, first.Incident.Title)
	}
	before := len(h.Slack.Messages(ch.ID))
	const storm = 3000
	for i := 1; i < storm; i += 10 {
		var batch []AMAlert
		for j := i; j < min(i+10, storm); j++ {
			batch = append(batch, Firing("alertname=NodeDown", fmt.Sprintf("instance=node-%d", j)))
		}
		h.Post("alertmanager", AlertmanagerBody(batch...))
	}
	h.Advance(time.Minute)
	if d := h.Incident(first.ID); d.Incident.AlertCount != storm {
		t.Fatalf("incident has %d alerts, want %d", d.Incident.AlertCount, storm)
	}
	msgs := h.Slack.Messages(ch.ID)
	added := len(msgs) - before
	if added == 0 || added > 12 {
		t.Fatalf("%d messages for %d alerts joining, want a handful", added, storm-1)
	}
	var text strings.Builder
	for _, m := range msgs[before:] {
		text.WriteString(m.Text + "\n")
	}
	if !strings.Contains(text.String(), " alerts") || !strings.Contains(text.String(), "Alert added") {
		t.Errorf("the room was not told of the alerts: %s", text.String())
	}
	card := msgs[0]
	if !strings.Contains(card.Blocks, fmt.Sprintf("%d firing of %d", storm, storm)) {
		t.Errorf("the card does not show the latest count: %s", card.Blocks)
	}
	if card.Edits == 0 || card.Edits > 12 {
		t.Errorf("the card was edited %d times, want a handful", card.Edits)
	}
}
