package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// HTML writes the handoff document as one HTML file that needs nothing
// else: the figures, the chart inline as SVG, each responder's cost, the
// alerts to fix, paging, the trend, what carries over and the week ahead.
func (h Handoff) HTML(w io.Writer) error {
	svg, err := h.Report.Chart(SVG, 900, 360)
	if err != nil {
		return err
	}
	loc := h.location()
	funcs := template.FuncMap{
		"when":    func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST") },
		"seconds": seconds,
		"percent": percent,
		"bucket":  func(m map[Bucket]int, b string) int { return m[Bucket(b)] },
		"join":    func(s []string) string { return strings.Join(s, ", ") },
	}
	t, err := template.New("handoff").Funcs(funcs).Parse(handoffHTML)
	if err != nil {
		return fmt.Errorf("handoff template: %w", err)
	}
	// The chart is this package's own SVG, not input: it may go in as is.
	return t.Execute(w, struct {
		Handoff
		Chart template.HTML
	}{h, template.HTML(svg)})
}

const handoffHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Handoff: {{.Team}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}</style>
</head><body>
<h1>Handoff: {{.Team}}</h1>
<p>{{when .Range.From}} to {{when .Range.To}}</p>
<table>
<tr><th></th><th>this range</th><th>the one before</th></tr>
<tr><th>Incidents</th><td>{{.Response.Incidents}}</td><td>{{.Previous.Response.Incidents}}</td></tr>
<tr><th>Time to ack, median</th><td>{{seconds .Response.TimeToAck.Median}}</td><td>{{seconds .Previous.Response.TimeToAck.Median}}</td></tr>
<tr><th>Time to resolve, median</th><td>{{seconds .Response.TimeToResolve.Median}}</td><td>{{seconds .Previous.Response.TimeToResolve.Median}}</td></tr>
<tr><th>Acknowledged</th><td>{{percent .Response.AckedShare}}</td><td>{{percent .Previous.Response.AckedShare}}</td></tr>
<tr><th>Resolved with no person acting</th><td>{{percent .Noise.NoHumanShare}}</td><td>{{percent .Previous.Noise.NoHumanShare}}</td></tr>
</table>
<figure>{{.Chart}}</figure>
<h2>What it cost each responder</h2>
<table><tr><th>Person</th><th>Business</th><th>Off hours</th><th>Sleep</th><th>Nights</th><th>Hours</th><th>Weekend on call</th></tr>
{{range .People}}<tr><td>{{.Person}} ({{.Zone}})</td><td>{{bucket .Interruptions "business"}}</td><td>{{bucket .Interruptions "off"}}</td><td>{{bucket .Interruptions "sleep"}}</td><td>{{.Nights}}</td><td>{{.Hours}}</td><td>{{printf "%.0f" .WeekendOnCallHours}} h</td></tr>{{end}}
</table>
<h2>Alerts to fix</h2>
<table><tr><th>Category</th><th>Incidents</th><th>Sleep pages</th><th>Before</th></tr>
{{range .Noise.Categories}}<tr><td>{{.Name}}</td><td>{{.Incidents}}</td><td>{{.SleepPages}}</td><td>{{if .New}}new{{else}}{{.Previous}}{{end}}</td></tr>{{end}}
</table>
<h2>Paging</h2>
<table><tr><th>Method</th><th>Sent</th><th>Failed</th><th>Undeliverable</th><th>Fallbacks</th></tr>
{{range .Paging.Methods}}<tr><td>{{.Method}}</td><td>{{.Sent}}</td><td>{{.Failed}}</td><td>{{.Undeliverable}}</td><td>{{.Fallbacks}}</td></tr>{{end}}
</table>
<h2>Carrying over</h2>
<ul>{{range .CarryOver.Triggered}}<li>#{{.ID}} {{.Title}} (triggered)</li>{{end}}{{range .CarryOver.Acknowledged}}<li>#{{.ID}} {{.Title}} (acknowledged)</li>{{end}}{{range .CarryOver.AckedForDays}}<li>#{{.ID}} {{.Title}} (acknowledged for days)</li>{{end}}</ul>
<h2>The week ahead</h2>
<ul>{{range .NextWeek.Handoffs}}<li>{{when .Start}}: {{join .Users}}</li>{{end}}{{range .NextWeek.Gaps}}<li><strong>Gap</strong> {{when .Start}} to {{when .End}}</li>{{end}}{{range .NextWeek.DSTChange}}<li>Clocks change {{when .}}</li>{{end}}</ul>
<h2>Action items</h2>
<ul><li></li></ul>
</body></html>
`
