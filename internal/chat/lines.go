package chat

import (
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// phrases say timeline kinds in words for the people in a room.
var phrases = map[string]string{
	incident.KindAcknowledged:   "Acknowledged",
	incident.KindUnacknowledged: "Unacknowledged, paging again",
	incident.KindResolved:       "Resolved",
	incident.KindReopened:       "Reopened",
	incident.KindSnoozed:        "Snoozed",
	incident.KindNote:           "Note",
	incident.KindAssigned:       "Assigned",
	incident.KindAlertAdded:     "Alert added",
	incident.KindAlertResolved:  "Alert resolved",
	incident.KindAlertRefired:   "Alert firing again",
	incident.KindSeverityRaised: "Severity raised",
	incident.KindPaging:         "Paging started",
	incident.KindNotPaged:       "Not paged",
	oncall.KindStep:             "Escalation",
	oncall.KindStepSkipped:      "Escalation step skipped",
	oncall.KindRepeat:           "Escalation repeats",
	oncall.KindExhausted:        "Escalation ran out",
	oncall.KindEscalated:        "Escalated",
	oncall.KindNotified:         "Notified",
	oncall.KindUndeliverable:    "Could not notify",
	oncall.KindLeadsTold:        "Leads told",
	oncall.KindNotifySkipped:    "Notification skipped",
}

// timelineLine is what a room's thread is told of an event: what
// happened, who did it when a person did, and the detail.
func timelineLine(ev incident.EventPayload) string {
	line, ok := phrases[ev.Event]
	if !ok {
		line = ev.Event
	}
	if ev.Actor != "" && ev.Actor != "bot" {
		line += " by " + ev.Actor
	}
	if ev.Detail != "" {
		line += ": " + ev.Detail
	}
	return line
}
