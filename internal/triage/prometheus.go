package triage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/oncallbot/bot/internal/incident"
)

// Prometheus queries the alert's own expression over the hour before it
// fired and since, with the official client, and says where it stands:
// its value now, an hour before, and its peak.
type Prometheus struct {
	API promv1.API
	Now func() time.Time
}

// NewPrometheus returns the source for the Prometheus HTTP API at
// address.
func NewPrometheus(address string, now func() time.Time) (*Prometheus, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", address, err)
	}
	return &Prometheus{API: promv1.NewAPI(c), Now: now}, nil
}

// Name names the source.
func (*Prometheus) Name() string { return "prometheus" }

// errNoExpression is an incident whose alerts name no expression: not a
// failure of the source, nothing to ask.
var errNoExpression = errors.New("no expression")

// expression is the PromQL behind the incident's first alert that names
// one: Alertmanager's generatorURL carries it as g0.expr; an "expr" or
// "query" annotation works for other senders.
func expression(d incident.Detail) (string, time.Time) {
	for _, a := range d.Alerts {
		for _, k := range []string{"expr", "query"} {
			if e := a.Annotations[k]; e != "" {
				return e, a.StartsAt
			}
		}
		if u, err := url.Parse(a.SourceURL); err == nil {
			if e := u.Query().Get("g0.expr"); e != "" {
				return e, a.StartsAt
			}
		}
	}
	return "", time.Time{}
}

// Gather queries the expression from an hour before the alert fired to
// now, a point a minute.
func (p *Prometheus) Gather(ctx context.Context, d incident.Detail) (Evidence, error) {
	expr, started := expression(d)
	if expr == "" {
		return Evidence{}, nil
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if started.IsZero() || started.After(now) {
		started = d.CreatedAt
	}
	r := promv1.Range{Start: started.Add(-time.Hour), End: now, Step: time.Minute}
	v, _, _, err := p.API.QueryRange(ctx, expr, r)
	if err != nil {
		return Evidence{}, fmt.Errorf("query %q: %w", expr, err)
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) == 0 {
		return Evidence{Facts: []string{fmt.Sprintf("The expression %s has no data now.", expr)}}, nil
	}
	// The series that is highest now speaks for the incident.
	best, bestNow := m[0], math.Inf(-1)
	for _, s := range m {
		if n := len(s.Values); n > 0 && float64(s.Values[n-1].Value) > bestNow {
			best, bestNow = s, float64(s.Values[n-1].Value)
		}
	}
	values := best.Values
	before, peak := float64(values[0].Value), math.Inf(-1)
	for _, sp := range values {
		peak = math.Max(peak, float64(sp.Value))
	}
	fact := fmt.Sprintf("%s is %s now (%s an hour before it fired, peak %s).", expr, num(bestNow), num(before), num(peak))
	// The chart shows the few highest series; a hundred lines say nothing.
	sort.SliceStable(m, func(i, j int) bool { return last(m[i]) > last(m[j]) })
	var series []Series
	for _, s := range m[:min(len(m), maxSeries)] {
		name := expr
		if len(m) > 1 {
			name = s.Metric.String()
		}
		pts := make([]Point, len(s.Values))
		for i, sp := range s.Values {
			pts[i] = Point{T: sp.Timestamp.Time().UTC(), V: float64(sp.Value)}
		}
		series = append(series, Series{Name: name, Points: pts})
	}
	return Evidence{Facts: []string{fact}, Series: series, Value: expr + ": " + num(bestNow)}, nil
}

// maxSeries is how many series a chart draws.
const maxSeries = 5

// last is a series' latest value, -Inf when it has none.
func last(s *model.SampleStream) float64 {
	if n := len(s.Values); n > 0 {
		return float64(s.Values[n-1].Value)
	}
	return math.Inf(-1)
}

func num(f float64) string {
	if math.Abs(f) >= 1000 || f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}
