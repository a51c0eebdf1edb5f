package chat

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

// Button is an action on a card. Its Value is the command a press runs,
// in the grammar of Parse, so a press and a typed command are one path.
type Button struct {
	Label string
	Value string
	// Danger marks destructive or alarming actions, which platforms show
	// in red.
	Danger bool
}

// Field is one labelled line of a card.
type Field struct{ Label, Value string }

// Card is the platform-neutral picture of an incident: every platform
// renders the same card, so every room shows the same state.
type Card struct {
	IncidentID int64
	Title      string
	Status     incident.Status
	Severity   string
	Fields     []Field
	Buttons    []Button
}

// SnoozeChoices are the snooze durations cards offer.
var SnoozeChoices = []time.Duration{30 * time.Minute, time.Hour, 4 * time.Hour}

// NewCard renders an incident.
func NewCard(inc incident.Incident, loc *time.Location) Card {
	if loc == nil {
		loc = time.UTC
	}
	id := strconv.FormatInt(inc.ID, 10)
	c := Card{
		IncidentID: inc.ID,
		Title:      fmt.Sprintf("#%d %s", inc.ID, inc.Title),
		Status:     inc.Status,
		Severity:   inc.Severity.String(),
		Fields: []Field{
			{"Status", statusLine(inc, loc)},
			{"Severity", inc.Severity.String()},
			{"Team", inc.Team},
			{"Alerts", fmt.Sprintf("%d firing of %d", inc.FiringCount, inc.AlertCount)},
			{"Opened", inc.CreatedAt.In(loc).Format("Mon 2 Jan 15:04 MST")},
		},
	}
	if inc.Assignee != "" {
		c.Fields = append(c.Fields, Field{"Assignee", inc.Assignee})
	}
	switch inc.Status {
	case incident.StatusTriggered:
		c.Buttons = append(c.Buttons, Button{"Acknowledge", "ack #" + id, false}, Button{"Escalate", "escalate #" + id, true})
		for _, d := range SnoozeChoices {
			c.Buttons = append(c.Buttons, Button{"Snooze " + shortDuration(d), "snooze " + shortDuration(d) + " #" + id, false})
		}
		c.Buttons = append(c.Buttons, Button{"Resolve", "resolve #" + id, false})
	case incident.StatusAcknowledged:
		c.Buttons = append(c.Buttons, Button{"Unacknowledge", "unack #" + id, false}, Button{"Escalate", "escalate #" + id, true},
			Button{"Resolve", "resolve #" + id, false})
	case incident.StatusResolved:
		c.Buttons = append(c.Buttons, Button{"Reopen", "reopen #" + id, false})
	}
	return c
}

func statusLine(inc incident.Incident, loc *time.Location) string {
	switch inc.Status {
	case incident.StatusAcknowledged:
		if inc.AcknowledgedAt != nil {
			return fmt.Sprintf("acknowledged by %s at %s", inc.AcknowledgedBy, inc.AcknowledgedAt.In(loc).Format("15:04 MST"))
		}
	case incident.StatusResolved:
		if inc.ResolvedAt != nil {
			return fmt.Sprintf("resolved by %s at %s", inc.ResolvedBy, inc.ResolvedAt.In(loc).Format("15:04 MST"))
		}
	}
	return string(inc.Status)
}

func shortDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
}

// Text renders the card as plain text, for platforms and logs that show
// no rich layout.
func (c Card) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]\n", c.Title, strings.ToUpper(c.Severity))
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	return b.String()
}

// Digest identifies what the card shows, so an update that would show
// the same is skipped.
func (c Card) Digest() string {
	h := fnv.New64a()
	h.Write([]byte(c.Text()))
	for _, btn := range c.Buttons {
		h.Write([]byte(btn.Value))
	}
	return strconv.FormatUint(h.Sum64(), 16)
}
