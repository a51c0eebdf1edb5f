package triage

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-analyze/charts"
)

// Chart formats.
const (
	PNG = charts.ChartOutputPNG
	SVG = charts.ChartOutputSVG
)

// ErrNoSeries is Chart's answer for a report with no metrics to draw.
var ErrNoSeries = errors.New("the triage has no series to chart")

// Chart draws the report's series (the alert's expression from an hour
// before it fired) as a line chart, PNG or SVG, width by height pixels:
// the picture in the room and on the console's triage page. Series are
// aligned on the union of their timestamps; a series missing a sample
// has a gap there, not a made-up value.
func (r Report) Chart(format string, width, height int) ([]byte, error) {
	if format != PNG && format != SVG {
		return nil, fmt.Errorf("chart format %q: want png or svg", format)
	}
	var times []time.Time
	for _, s := range r.Series {
		for _, p := range s.Points {
			times = append(times, p.T)
		}
	}
	if len(times) == 0 {
		return nil, ErrNoSeries
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	at := make(map[int64]int, len(times))
	labels := make([]string, len(times))
	for i, t := range times {
		at[t.UnixNano()] = i
		labels[i] = t.UTC().Format("15:04")
	}
	data := make([][]float64, len(r.Series))
	names := make([]string, len(r.Series))
	for i, s := range r.Series {
		row := make([]float64, len(times))
		for j := range row {
			row[j] = charts.GetNullValue()
		}
		for _, p := range s.Points {
			row[at[p.T.UnixNano()]] = p.V
		}
		data[i], names[i] = row, shorten(s.Name, 60)
	}
	opt := charts.NewLineChartOptionWithData(data)
	opt.XAxis.Labels = labels
	opt.XAxis.LabelCount = min(len(labels), 7)
	opt.XAxis.BoundaryGap = charts.Ptr(false)
	opt.Legend.SeriesNames = names
	opt.Legend.Offset = charts.OffsetStr{Top: charts.PositionBottom}
	opt.Symbol = charts.Symbol{Shape: charts.SymbolNone}
	opt.ValueFormatter = func(f float64) string { return num(f) }
	opt.Title.Text = "Since an hour before it fired (UTC)"
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: format, Width: width, Height: height})
	if err := p.LineChart(opt); err != nil {
		return nil, fmt.Errorf("draw the chart: %w", err)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode the chart: %w", err)
	}
	return b, nil
}

// shorten cuts s to n characters, marking the cut.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
