package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/report"
)

// fakeReporter answers every report with one handoff.
type fakeReporter struct{ h report.Handoff }

func (f fakeReporter) HandoffReport(context.Context, string, []string) (report.Handoff, error) {
	return f.h, nil
}

// Issue 11: /oncall report answers the card and, with it, the chart as
// an 800x400 PNG named for the team and the range's first day; when the
// chart cannot be drawn, the card alone, saying nothing of it.
func TestReportReplyCarriesTheChart(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, london)
	h := report.Handoff{Report: report.Report{Team: "ops", Range: report.Range{From: from, To: from.AddDate(0, 0, 7)},
		Days: []report.Day{{Date: "2026-03-02", Business: 2, Sleep: 1}, {Date: "2026-03-03", Off: 1}}}}
	e := &Executor{Reports: fakeReporter{h}, Teams: []config.Team{{Name: "ops", Members: []string{"alice"}}}}
	req := Request{User: "alice", Platform: "mem", PlatformUser: "alice", Team: "ops"}

	for _, c := range []struct {
		name      string
		chartFail error
		wantImage bool
	}{
		{"drawn", nil, true},
		{"not drawn", errors.New("draw the chart: no fonts"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.chartFail != nil {
				real := chartPNG
				chartPNG = func(report.Report) ([]byte, error) { return nil, c.chartFail }
				t.Cleanup(func() { chartPNG = real })
			}
			r := e.Run(context.Background(), req, "/oncall report")
			if r.Private || r.Text != h.Card() {
				t.Fatalf("reply = %+v, want the card, public:\n%s", r, h.Card())
			}
			if !c.wantImage {
				if r.Image != nil {
					t.Errorf("image %q with a chart that failed", r.Image.Name)
				}
				return
			}
			if r.Image == nil {
				t.Fatal("no image with the card")
			}
			if r.Image.Name != "handoff-ops-2026-03-02.png" || !strings.Contains(r.Image.Alt, "ops, Mon 2 Mar to Mon 9 Mar") {
				t.Errorf("image named %q, alt %q", r.Image.Name, r.Image.Alt)
			}
			img, err := png.Decode(bytes.NewReader(r.Image.Data))
			if err != nil {
				t.Fatalf("the image is not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 400 {
				t.Errorf("chart is %dx%d, want 800x400", b.Dx(), b.Dy())
			}
		})
	}
}

// A report that is refused (a bad range) is answered privately, with no
// picture.
func TestReportRefusalCarriesNoImage(t *testing.T) {
	e := &Executor{Reports: refusingReporter{}, Teams: []config.Team{{Name: "ops", Members: []string{"alice"}}}}
	r := e.Run(context.Background(), Request{User: "alice", Platform: "mem", PlatformUser: "alice", Team: "ops"}, "/oncall report ops 2025-W53")
	if !r.Private || r.Image != nil {
		t.Errorf("refusal = %+v, want private and no image", r)
	}
}

type refusingReporter struct{}

func (refusingReporter) HandoffReport(context.Context, string, []string) (report.Handoff, error) {
	return report.Handoff{}, fmt.Errorf("2025-W53 does not exist: %w", report.ErrBadRange)
}
