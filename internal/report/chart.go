package report

import (
	"fmt"
	"time"

	"github.com/go-analyze/charts"
)

// Chart formats.
const (
	PNG = charts.ChartOutputPNG
	SVG = charts.ChartOutputSVG
)

// Chart draws the range's interruptions per day, stacked by when they
// fell for the responder (business, off and sleep hours), as a PNG or an
// SVG of width by height pixels: the picture the chat card carries and
// the console shows.
func (r Report) Chart(format string, width, height int) ([]byte, error) {
	if format != PNG && format != SVG {
		return nil, fmt.Errorf("chart format %q: want png or svg", format)
	}
	labels := make([]string, len(r.Days))
	series := [][]float64{make([]float64, len(r.Days)), make([]float64, len(r.Days)), make([]float64, len(r.Days))}
	for i, d := range r.Days {
		if t, err := time.Parse("2006-01-02", d.Date); err == nil {
			labels[i] = t.Format("Mon 2")
		}
		series[0][i], series[1][i], series[2][i] = float64(d.Business), float64(d.Off), float64(d.Sleep)
	}
	opt := charts.NewBarChartOptionWithData(series)
	opt.CategoryAxis.Labels = labels
	opt.Legend.SeriesNames = []string{"business hours", "off hours", "sleep hours"}
	opt.StackSeries = charts.Ptr(true)
	opt.Title.Text = "Interruptions per day, " + r.Team
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: format, Width: width, Height: height})
	if err := p.BarChart(opt); err != nil {
		return nil, fmt.Errorf("draw the chart: %w", err)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode the chart: %w", err)
	}
	return b, nil
}
