package chat

import (
	"fmt"
	"hash/fnv"
	"slices"
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
	// URL makes the button a link (a runbook, a dashboard) that opens in
	// the browser and runs no command; always http or https.
	URL string
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
			countField(inc),
			{"Opened", inc.CreatedAt.In(loc).Format("Mon 2 Jan 15:04 MST")},
		},
	}
	if inc.Assignee != "" {
		c.Fields = append(c.Fields, Field{"Assignee", inc.Assignee})
	}
	switch inc.Status {
	case incident.StatusTriggered:
		c.Buttons = append(c.Buttons, Button{Label: "Acknowledge", Value: "ack #" + id}, Button{Label: "Escalate", Value: "escalate #" + id, Danger: true})
		for _, d := range SnoozeChoices {
			c.Buttons = append(c.Buttons, Button{Label: "Snooze " + shortDuration(d), Value: "snooze " + shortDuration(d) + " #" + id})
		}
		c.Buttons = append(c.Buttons, Button{Label: "Resolve", Value: "resolve #" + id})
	case incident.StatusAcknowledged:
		c.Buttons = append(c.Buttons, Button{Label: "Unacknowledge", Value: "unack #" + id}, Button{Label: "Escalate", Value: "escalate #" + id, Danger: true},
			Button{Label: "Resolve", Value: "resolve #" + id})
	case incident.StatusResolved:
		// A resolved incident is labelled for the handoff report.
		c.Buttons = append(c.Buttons, Button{Label: "Reopen", Value: "reopen #" + id},
			Button{Label: "Actionable", Value: "tag actionable #" + id}, Button{Label: "Noise", Value: "tag noise #" + id},
			Button{Label: "Needs tuning", Value: "tag needs-tuning #" + id})
	}
	return c
}

// AckAll is the command of a digest's button: acknowledge every
// triggered incident paging the one who runs it.
const AckAll = "ack all"

// digestListed is how many incidents a digest card lists: Slack's
// section block takes at most ten fields, so ten, or nine and a count of
// the rest.
const digestListed = 10

// digestTitleRunes bounds an incident's title on a digest card, so ten
// of them fit every platform's message (Discord's 2,000 characters are
// the tightest).
const digestTitleRunes = 80

// digestFirst orders a digest's incidents: the most severe first, then
// the oldest (the lowest number).
func digestFirst(a, b incident.Incident) int {
	if a.Severity != b.Severity {
		return int(b.Severity) - int(a.Severity)
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// NewDigestCard renders the pages waiting for one person as one card,
// about no single incident (IncidentID is 0): titled with how many
// incidents page them (total, at least the distinct incidents listed),
// listing the most severe and oldest of listed ("#id title" and the
// severity), up to ten, or nine and "+N more", with one button,
// Acknowledge all, whose command is AckAll.
func NewDigestCard(total int, listed []incident.Incident) Card {
	incs := make([]incident.Incident, 0, len(listed))
	for _, inc := range listed {
		if !slices.ContainsFunc(incs, func(x incident.Incident) bool { return x.ID == inc.ID }) {
			incs = append(incs, inc)
		}
	}
	slices.SortStableFunc(incs, digestFirst)
	total = max(total, len(incs))
	c := Card{
		Status:  incident.StatusTriggered,
		Buttons: []Button{{Label: "Acknowledge all", Value: AckAll}},
	}
	if total == 1 {
		c.Title = "1 incident is paging you"
	} else {
		c.Title = fmt.Sprintf("%d incidents are paging you", total)
	}
	if len(incs) > 0 {
		c.Severity = incs[0].Severity.String()
	}
	shown := min(len(incs), digestListed)
	if total > digestListed {
		shown = min(len(incs), digestListed-1)
	}
	for _, inc := range incs[:shown] {
		title := inc.Title
		if r := []rune(title); len(r) > digestTitleRunes {
			title = string(r[:digestTitleRunes-1]) + "…"
		}
		c.Fields = append(c.Fields, Field{fmt.Sprintf("#%d %s", inc.ID, title), inc.Severity.String()})
	}
	if rest := total - shown; rest > 0 {
		c.Fields = append(c.Fields, Field{"More", fmt.Sprintf("+%d more", rest)})
	}
	return c
}

// countField is what a card counts: a storm's incidents, else the
// incident's alerts.
func countField(inc incident.Incident) Field {
	if inc.Children > 0 {
		return Field{"Incidents", fmt.Sprintf("%s in this storm, %s open", thousands(inc.Children), thousands(inc.OpenChildren))}
	}
	return Field{"Alerts", fmt.Sprintf("%d firing of %d", inc.FiringCount, inc.AlertCount)}
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
		h.Write([]byte(btn.URL))
	}
	return strconv.FormatUint(h.Sum64(), 16)
}
