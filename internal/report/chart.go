package report

import (
	"fmt"
	"strconv"
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
	// Interruptions are whole: an axis of 0, 1, 2... rather than 0.40.
	most := 1.0
	for i := range r.Days {
		most = max(most, series[0][i]+series[1][i]+series[2][i])
	}
	opt.ValueAxis[0].Min = charts.Ptr(0.0)
	opt.ValueAxis[0].Max = charts.Ptr(most + 1)
	opt.ValueAxis[0].Unit = max(1, float64(int(most+1)/5))
	opt.ValueFormatter = func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) }
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
