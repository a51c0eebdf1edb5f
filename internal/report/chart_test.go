package report

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestChartOfAWeek(t *testing.T) {
	in := week()
	in.Zone = zone("Europe/London")
	r := Compute(in)
	if len(r.Days) != 7 || r.Days[0].Date != "2026-11-23" || r.Days[0].Sleep != 2 || r.Days[1].Business != 1 {
		t.Fatalf("days = %+v", r.Days)
	}
	// Wednesday 23:30 in New York is Thursday 04:30 in London: the day
	// axis is the team's, the bucket the responder's.
	if d := r.Days[3]; d.Date != "2026-11-26" || d.Sleep != 1 || d.Business != 1 {
		t.Errorf("Thursday = %+v, want bob's sleep interruption and carol's business one", d)
	}
	b, err := r.Chart(PNG, 800, 400)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if s := img.Bounds().Size(); s.X != 800 || s.Y != 400 {
		t.Errorf("PNG is %v", s)
	}
	svg, err := r.Chart(SVG, 800, 400)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "Interruptions per day, ops", "sleep hours", "Mon 23"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if _, err := r.Chart("gif", 1, 1); err == nil {
		t.Error("a GIF was drawn")
	}
}

// BenchmarkChart draws the week's PNG. Target (issue 11): < 100 ms.
func BenchmarkChart(b *testing.B) {
	in := week()
	in.Zone = zone("Europe/London")
	r := Compute(in)
	for b.Loop() {
		if _, err := r.Chart(PNG, 800, 400); err != nil {
			b.Fatal(err)
		}
	}
}

// The HTML document escapes alert text and carries its chart inline.
func TestHTMLDocument(t *testing.T) {
	in := week()
	in.Zone = zone("Europe/London")
	in.Incidents[1].Title = `<script>alert(1)</script> on db-7`
	h := Handoff{Report: Compute(in)}
	var b strings.Builder
	if err := h.HTML(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;alert(#)&lt;/script&gt; on db-#") {
		t.Errorf("alert text is not escaped")
	}
	if !strings.Contains(out, "<svg") || !strings.Contains(out, "Mon 23 Nov 2026 00:00 GMT") {
		t.Errorf("the document lacks its chart or its times in the team's zone")
	}
}
