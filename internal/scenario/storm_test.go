package scenario

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

// A storm of alerts joining one incident: its room hears a few lines and
// a count, and its card is edited a handful of times to the latest state,
// not a message an alert (Slack takes about one a second in a channel).
func TestThousandsOfAlertsJoiningAnIncidentAreAFewMessages(t *testing.T) {
	h := New(t, WithConfig(slackConfig))
	first := h.OnlyIncident(h.PostAlerts(Firing("alertname=NodeDown", "instance=node-0")))
	ch := h.Slack.Channel(fmt.Sprintf("inc-%d-nodedown-on-node-0", first.ID))
	if ch == nil {
		t.Fatalf("no channel for incident %d (%q)", first.ID, first.Incident.Title)
	}
	before := len(h.Slack.Messages(ch.ID))
	const storm = 800
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

// stormConfig is slackConfig with storm mode on the default route, each
// alert its own incident.
var stormConfig = strings.Replace(slackConfig, `default_route:
  team: ops
  escalation_policy: ops-default
  group_by: [alertname]`, `default_route:
  team: ops
  escalation_policy: ops-default
  group_by: [alertname, instance]
  storm: {after: 20, within: 5m}`, 1)

func nodeDown(from, to int) []byte {
	var batch []AMAlert
	for j := from; j < to; j++ {
		batch = append(batch, Firing("alertname=NodeDown", fmt.Sprintf("instance=node-%d", j)).Summary(fmt.Sprintf("node-%d is down", j)))
	}
	return AlertmanagerBody(batch...)
}

// In storm mode, past 20 new incidents in 5 minutes the next ones join
// one storm incident: one room, one page, a card that counts them; each
// is still its own incident, and acknowledging or resolving the storm
// does the same to all of them.
func TestStormModeGathersNewIncidentsIntoOneRoomAndOnePage(t *testing.T) {
	if stormConfig == slackConfig {
		t.Fatal("the storm config did not apply")
	}
	h := New(t, WithConfig(stormConfig))
	const before, storm = 20, 200
	h.Post("alertmanager", nodeDown(0, before))
	for i := before; i < before+storm; i += 10 {
		h.Post("alertmanager", nodeDown(i, i+10))
	}
	h.Advance(time.Minute)

	channels := h.Slack.Calls("conversations.create")
	if channels != before+1 {
		t.Fatalf("%d channels created, want %d (one per incident before the storm, one for the storm)", channels, before+1)
	}
	// The storm opened with the 21st new incident, which joined it.
	stormInc := h.Incident(before + 1).Incident
	list := h.API("GET", fmt.Sprintf("/api/v1/incidents?parent=%d&limit=500", stormInc.ID))
	var page struct {
		Incidents []struct {
			ID       int64 `json:"id"`
			ParentID int64 `json:"parent_id"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(list.Body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Incidents) != storm || page.Incidents[0].ParentID != stormInc.ID {
		t.Fatalf("the storm lists %d incidents (%s), want %d", len(page.Incidents), list.Body[:min(200, len(list.Body))], storm)
	}
	if stormInc.ID == 0 || stormInc.Children != storm || stormInc.OpenChildren != storm {
		t.Fatalf("storm incident %+v, want one with %d incidents", stormInc, storm)
	}
	// Each incident of the storm is its own, with its alert, and pages
	// nobody: the storm does.
	child := h.Incident(stormInc.ID + 1)
	if child.ParentID != stormInc.ID || len(child.Alerts) != 1 || slices.Contains(AllKinds(child), "escalation.step") {
		t.Fatalf("incident of the storm = %+v, kinds %v", child.Incident, Kinds(child))
	}
	if k := AllKinds(h.Incident(stormInc.ID)); !slices.Contains(k, "escalation.step") {
		t.Fatalf("the storm did not page: %v", k)
	}
	ch := h.Slack.Channel(fmt.Sprintf("inc-%d-alert-storm-ops-20-new-incidents-within-5m0s", stormInc.ID))
	if ch == nil {
		t.Fatalf("no channel for the storm")
	}
	msgs := h.Slack.Messages(ch.ID)
	if !strings.Contains(msgs[0].Blocks, fmt.Sprintf("%d in this storm", storm)) {
		t.Errorf("the storm's card does not count its incidents: %s", msgs[0].Blocks)
	}
	if len(msgs) > 12 {
		t.Errorf("%d messages in the storm's room, want a handful", len(msgs))
	}

	// Acknowledge the storm: every incident in it is acknowledged.
	if code := h.SlackPress("U0BOB", ch.ID, fmt.Sprintf("ack #%d", stormInc.ID)); code != 200 {
		t.Fatalf("press = %d", code)
	}
	h.Tick()
	if d := h.Incident(stormInc.ID + storm); d.Status != incident.StatusAcknowledged || d.AcknowledgedBy != "slack:bob" {
		t.Fatalf("last incident of the storm is %s by %q, want acknowledged by slack:bob", d.Status, d.AcknowledgedBy)
	}
	// One incident resolves by itself; then the storm is resolved by hand,
	// and takes the rest with it.
	h.Post("alertmanager", AlertmanagerBody(Firing("alertname=NodeDown", "instance=node-30").Resolved(h.Clock.Now())))
	if d := h.Incident(stormInc.ID); d.OpenChildren != storm-1 {
		t.Fatalf("storm has %d open incidents, want %d", d.OpenChildren, storm-1)
	}
	if code := h.SlackPress("U0BOB", ch.ID, fmt.Sprintf("resolve #%d", stormInc.ID)); code != 200 {
		t.Fatalf("press = %d", code)
	}
	h.Tick()
	for _, id := range []int64{stormInc.ID + 1, stormInc.ID + storm} {
		if d := h.Incident(id); d.Status != incident.StatusResolved {
			t.Errorf("incident %d of the storm is %s, want resolved", id, d.Status)
		}
	}
}

// A storm whose incidents all resolve by themselves resolves too.
func TestAStormResolvesWhenItsLastIncidentDoes(t *testing.T) {
	h := New(t, WithConfig(stormConfig))
	h.Post("alertmanager", nodeDown(0, 25))
	h.Tick()
	stormID := int64(21)
	if d := h.Incident(stormID); d.Children != 5 {
		t.Fatalf("incident %d has %d incidents, want the storm of 5", stormID, d.Children)
	}
	var resolved []AMAlert
	for j := 20; j < 25; j++ {
		resolved = append(resolved, Firing("alertname=NodeDown", fmt.Sprintf("instance=node-%d", j)).Resolved(h.Clock.Now()))
	}
	h.PostAlerts(resolved...)
	d := h.Incident(stormID)
	if d.Status != incident.StatusResolved || d.OpenChildren != 0 {
		t.Fatalf("storm is %s with %d open, want resolved", d.Status, d.OpenChildren)
	}
}
