package chat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	incident.KindStormJoined:    "Joined the storm",
	incident.KindJoinedStorm:    "Joined a storm",
	incident.KindTriaged:        "Triage",
	incident.KindTriageAI:       "AI analysis",
	oncall.KindStep:             "Escalation",
	oncall.KindStepSkipped:      "Escalation step skipped",
	oncall.KindRepeat:           "Escalation repeats",
	oncall.KindExhausted:        "Escalation ran out",
	oncall.KindEscalated:        "Escalated",
	oncall.KindNotified:         "Notified",
	oncall.KindUndeliverable:    "Could not notify",
	oncall.KindLeadsTold:        "Leads told",
	oncall.KindNotifySkipped:    "Notification skipped",
	oncall.KindNotifyRetried:    "Notification sent again",
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

// Limits of one message that tells a run of events: every platform takes
// this much (Discord's 2,000 characters are the tightest).
const (
	maxRunLines = 12
	maxRunChars = 1800
)

// countedKinds are the events a storm repeats by the thousand, with the
// word that counts them: past the first few they are counted, not listed.
// Everything else (a state change, an escalation step, a note) is always
// its own line.
var countedKinds = map[string]string{
	incident.KindAlertAdded:    "alerts",
	incident.KindAlertResolved: "alerts",
	incident.KindAlertRefired:  "alerts",
	incident.KindStormJoined:   "incidents joined",
}

// runText is what a room is told of a run of updates, in one message: a
// line per event (an update may stand for several, see
// incident.EventPayload.Lines), counted events past the first few of
// their word ("+2,997 alerts"), within maxRunLines and maxRunChars, and
// everyone the run pages, to call in. A new incident's triggered event
// says nothing: its card is its first word.
func runText(evs []incident.EventPayload) (string, []string) {
	var lines []string
	var paging []string
	seen := map[string]int{}   // word -> events of it listed
	hidden := map[string]int{} // word -> events of it counted
	var words []string         // in the order first hidden
	count := func(word string, n int) {
		if n == 0 {
			return
		}
		if hidden[word] == 0 {
			words = append(words, word)
		}
		hidden[word] += n
	}
	for _, ev := range evs {
		each := ev.Lines
		if len(each) == 0 {
			each = []incident.EventLine{{Event: ev.Event, Actor: ev.Actor, Detail: ev.Detail, Paging: ev.Paging}}
		}
		for _, l := range each {
			for _, p := range l.Paging {
				if !slices.Contains(paging, p) {
					paging = append(paging, p)
				}
			}
			if l.Event == incident.KindTriggered {
				continue
			}
			word, counted := countedKinds[l.Event]
			if counted && l.More > 0 {
				count(word, l.More)
				continue
			}
			if counted {
				if seen[word]++; seen[word] > 3 {
					count(word, 1)
					continue
				}
			}
			if line := timelineLine(incident.EventPayload{Event: l.Event, Actor: l.Actor, Detail: l.Detail}); line != "" {
				lines = append(lines, line)
			}
		}
	}
	budget := maxRunLines - len(words) // room for the counts
	var b strings.Builder
	shown := 0
	for _, l := range lines {
		if shown == budget || b.Len()+len(l)+1 > maxRunChars-40*(len(words)+1) {
			break
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(l)
		shown++
	}
	if rest := len(lines) - shown; rest > 0 {
		fmt.Fprintf(&b, "\n+%d more", rest)
	}
	for _, w := range words {
		fmt.Fprintf(&b, "\n+%s %s", thousands(hidden[w]), w)
	}
	return b.String(), paging
}

// thousands writes n with commas: 2,997.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
