package triage

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestChart(t *testing.T) {
	base := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	ramp := func(n int, from float64) []Point {
		pts := make([]Point, n)
		for i := range pts {
			pts[i] = Point{T: base.Add(time.Duration(i) * time.Minute), V: from + float64(i)}
		}
		return pts
	}
	// The second series lacks the first ten minutes: a gap, not zeros.
	rep := Report{Series: []Series{{Name: "disk_used_percent > 90", Points: ramp(90, 40)}, {Name: `{instance="db-04"}`, Points: ramp(80, 20)[10:]}}}
	b, err := rep.Chart(PNG, 640, 320)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 640 || got.Y != 320 {
		t.Errorf("size %v", got)
	}
	svg, err := rep.Chart(SVG, 640, 320)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "disk_used_percent &gt; 90", "02:00"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if _, err := (Report{}).Chart(PNG, 640, 320); !errors.Is(err, ErrNoSeries) {
		t.Errorf("no series: err = %v, want ErrNoSeries", err)
	}
	if _, err := rep.Chart("gif", 640, 320); err == nil {
		t.Error("a gif was drawn")
	}
}

// The room's chart, as the chart consumer draws it (720 by 320, two
// series of two hours a minute apart), in each format.
func BenchmarkChart(b *testing.B) {
	base := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	series := func(name string, n int, from float64) Series {
		s := Series{Name: name}
		for i := range n {
			s.Points = append(s.Points, Point{T: base.Add(time.Duration(i) * time.Minute), V: from + float64(i%17)})
		}
		return s
	}
	rep := Report{Series: []Series{series("disk_used_percent > 90", 120, 40), series(`{instance="db-04"}`, 120, 20)}}
	for _, format := range []string{PNG, SVG} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if _, err := rep.Chart(format, 720, 320); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
