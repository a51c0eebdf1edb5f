package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Markdown writes the handoff document: the figures against the range
// before, each responder's cost, the alerts to fix, and an empty "Action
// items" section for the meeting to fill.
func (h Handoff) Markdown(w io.Writer) error {
	var b strings.Builder
	loc := h.location()
	fmt.Fprintf(&b, "# Handoff: %s, %s to %s\n\n", h.Team, h.Range.From.In(loc).Format("Mon 2 Jan 2006 15:04"), h.Range.To.In(loc).Format("Mon 2 Jan 2006 15:04 MST"))
	r, p := h.Response, h.Previous.Response
	sumNow, sumPrev := summary(h.Report), summary(h.Previous)
	b.WriteString("| | this range | the one before |\n|---|---|---|\n")
	row := func(name, now, prev string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", name, now, prev) }
	row("Incidents", strconv.Itoa(r.Incidents)+arrow(float64(r.Incidents), float64(p.Incidents)), strconv.Itoa(p.Incidents))
	row("Interruptions", strconv.Itoa(sumNow.Interruptions)+arrow(float64(sumNow.Interruptions), float64(sumPrev.Interruptions)), strconv.Itoa(sumPrev.Interruptions))
	row("In sleep hours", strconv.Itoa(sumNow.SleepPages)+arrow(float64(sumNow.SleepPages), float64(sumPrev.SleepPages)), strconv.Itoa(sumPrev.SleepPages))
	row("Time to ack, median", seconds(r.TimeToAck.Median)+arrow(r.TimeToAck.Median, p.TimeToAck.Median), seconds(p.TimeToAck.Median))
	row("Time to resolve, median", seconds(r.TimeToResolve.Median)+arrow(r.TimeToResolve.Median, p.TimeToResolve.Median), seconds(p.TimeToResolve.Median))
	row("Acknowledged", percent(r.AckedShare), percent(p.AckedShare))
	row("Resolved with no person acting", percent(h.Noise.NoHumanShare), percent(h.Previous.Noise.NoHumanShare))
	row("Alerts per incident", fmt.Sprintf("%.1f", h.Noise.DedupRatio), fmt.Sprintf("%.1f", h.Previous.Noise.DedupRatio))
	fmt.Fprintf(&b, "\nEscalated past the first step: %d by timeout, %d by hand. Reassigned: %d. Reopened: %d. Flapping: %d. Snoozed: %s. Resolved by their alerts before anyone acked: %d.\n",
		r.EscalatedTimeout, r.EscalatedManual, r.Reassigned, r.Reopened, h.Noise.Flapping, seconds(r.SnoozedSeconds), r.AutoResolved)

	b.WriteString("\n## What it cost each responder\n\n| | business | off hours | sleep | nights | hours | weekend on call | overrides and swaps |\n|---|---|---|---|---|---|---|---|\n")
	for _, pc := range h.People {
		fmt.Fprintf(&b, "| %s (%s) | %d | %d | %d | %d | %d | %.0f h | %.0f h |\n", pc.Person, pc.Zone, pc.Interruptions[Business],
			pc.Interruptions[Off], pc.Interruptions[Sleep], pc.Nights, pc.Hours, pc.WeekendOnCallHours, pc.CoveredHours)
	}

	b.WriteString("\n## Alerts to fix\n\n| category | incidents | sleep pages | the range before |\n|---|---|---|---|\n")
	for i, c := range h.Noise.Categories {
		if i == 10 {
			fmt.Fprintf(&b, "| … %d more | | | |\n", len(h.Noise.Categories)-10)
			break
		}
		before := strconv.Itoa(c.Previous)
		if c.New {
			before = "new"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", mdEscape(c.Name), c.Incidents, c.SleepPages, before)
	}

	b.WriteString("\n## Paging\n\n| method | sent | failed | undeliverable | fallbacks | page to ack, median |\n|---|---|---|---|---|---|\n")
	for _, m := range h.Paging.Methods {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", m.Method, m.Sent, m.Failed, m.Undeliverable, m.Fallbacks, seconds(m.PageToAck.Median))
	}

	b.WriteString("\n## Trend\n\n| range | incidents | interruptions | in sleep hours | time to ack, median |\n|---|---|---|---|---|\n")
	for _, s := range h.Trend {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", s.Range.From.In(loc).Format("2 Jan"), s.Incidents, s.Interruptions, s.SleepPages, seconds(s.MedianAck))
	}
	b.WriteString("\n## Carrying over\n\n")
	pending := func(label string, list []Pending) {
		for _, p := range list {
			fmt.Fprintf(&b, "- #%d %s (%s since %s)\n", p.ID, mdEscape(p.Title), label, p.Since.In(loc).Format("Mon 2 Jan 15:04"))
		}
	}
	pending("triggered", h.CarryOver.Triggered)
	pending("acknowledged", h.CarryOver.Acknowledged)
	pending("acknowledged for days", h.CarryOver.AckedForDays)
	if len(h.CarryOver.Triggered)+len(h.CarryOver.Acknowledged)+len(h.CarryOver.AckedForDays) == 0 {
		b.WriteString("Nothing is open.\n")
	}
	b.WriteString("\n## The week ahead\n\n")
	for _, s := range h.NextWeek.Handoffs {
		fmt.Fprintf(&b, "- %s: %s\n", s.Start.In(loc).Format("Mon 2 Jan 15:04"), strings.Join(s.Users, ", "))
	}
	for _, g := range h.NextWeek.Gaps {
		fmt.Fprintf(&b, "- **Gap**: nobody on call %s to %s\n", g.Start.In(loc).Format("Mon 2 Jan 15:04"), g.End.In(loc).Format("Mon 2 Jan 15:04"))
	}
	for _, d := range h.NextWeek.DSTChange {
		fmt.Fprintf(&b, "- Clocks change %s (%s)\n", d.In(loc).Format("Mon 2 Jan 15:04 MST"), loc)
	}
	b.WriteString("\n## Action items\n\n- \n")
	_, err := io.WriteString(w, b.String())
	return err
}

// CSV writes one row per responder and measure, for a spreadsheet.
func (h Handoff) CSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"team", "from", "to", "person", "time_zone", "business", "off", "sleep", "nights", "hours", "weekend_on_call_hours", "covered_hours"})
	for _, p := range h.People {
		c.Write([]string{h.Team, h.Range.From.UTC().Format(time.RFC3339), h.Range.To.UTC().Format(time.RFC3339), p.Person, p.Zone,
			strconv.Itoa(p.Interruptions[Business]), strconv.Itoa(p.Interruptions[Off]), strconv.Itoa(p.Interruptions[Sleep]),
			strconv.Itoa(p.Nights), strconv.Itoa(p.Hours), strconv.FormatFloat(p.WeekendOnCallHours, 'f', -1, 64),
			strconv.FormatFloat(p.CoveredHours, 'f', -1, 64)})
	}
	c.Flush()
	return c.Error()
}

// arrow marks a figure against the one before: up, down, or level.
func arrow(now, before float64) string {
	switch {
	case now > before:
		return " ↑"
	case now < before:
		return " ↓"
	}
	return ""
}

func seconds(s float64) string {
	if s == 0 {
		return "–"
	}
	return (time.Duration(s) * time.Second).String()
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// mdEscape keeps a category (alert text) from being read as table or
// markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`).Replace(s)
}

// Card is the short chat form: the five figures that matter, each with an
// arrow against the range before, and the top alert to fix.
func (h Handoff) Card() string {
	now, prev := summary(h.Report), summary(h.Previous)
	loc := h.location()
	var b strings.Builder
	fmt.Fprintf(&b, "Handoff report for %s, %s to %s\n", h.Team, h.Range.From.In(loc).Format("Mon 2 Jan 15:04"), h.Range.To.In(loc).Format("Mon 2 Jan 15:04 MST"))
	fmt.Fprintf(&b, "• Incidents: %d%s (before: %d)\n", now.Incidents, arrow(float64(now.Incidents), float64(prev.Incidents)), prev.Incidents)
	fmt.Fprintf(&b, "• Interruptions: %d%s, %d in sleep hours%s\n", now.Interruptions, arrow(float64(now.Interruptions), float64(prev.Interruptions)),
		now.SleepPages, arrow(float64(now.SleepPages), float64(prev.SleepPages)))
	fmt.Fprintf(&b, "• Time to ack, median: %s%s (before: %s)\n", seconds(now.MedianAck), arrow(now.MedianAck, prev.MedianAck), seconds(prev.MedianAck))
	fmt.Fprintf(&b, "• Resolved with no person acting: %s%s\n", percent(now.NoHumanShare), arrow(now.NoHumanShare, prev.NoHumanShare))
	if len(h.Noise.Categories) > 0 {
		c := h.Noise.Categories[0]
		fmt.Fprintf(&b, "• Top alert: %s (%d incidents, %d sleep pages)", c.Name, c.Incidents, c.SleepPages)
	} else {
		b.WriteString("• No alerts.")
	}
	if n := len(h.Noise.Untagged); n > 0 {
		fmt.Fprintf(&b, "\n%d resolved incidents are untagged: /oncall tag actionable|noise|needs-tuning #N", n)
	}
	return b.String()
}

// location is the team's zone, for showing times.
func (r Report) location() *time.Location {
	if loc, err := time.LoadLocation(r.Zone); err == nil {
		return loc
	}
	return time.UTC
}
