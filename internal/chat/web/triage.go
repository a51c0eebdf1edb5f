package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/triage"
)

// Triages reads incidents' triage reports (the App).
type Triages interface {
	// TriageOf returns incident id's triage, nil (and no error) when it
	// has none yet.
	TriageOf(ctx context.Context, id int64) (*triage.Report, error)
}

// SetTriages gives the console its Triage pages, one per incident; nil
// (the default) turns them off.
func (c *Console) SetTriages(t Triages) { c.triages = t }

// Chart size on the Triage page, in pixels.
const triageChartWidth, triageChartHeight = 900, 360

// triageData is what triage.html shows.
type triageData struct {
	page
	ID   int64
	Room string
	// Incident is the incident's title.
	Incident string
	// Report is nil when the incident has no triage yet.
	Report *triage.Report
	// Chart is the chart's URL, "" when the report has no series.
	Chart string
	// AINote says why there is no AI analysis, when there is none.
	AINote string
	// Links are the report's links, each with its href when it is a web
	// link.
	Links []triageLink
	// Similar are the similar incidents the person may see.
	Similar []triage.Similar
}

// triageLink is a runbook or a dashboard, shown as a link only when it is
// an http or https URL: an alert's annotations are the sender's text, and
// a javascript: or data: URL there must not become a link to click.
type triageLink struct {
	Label, URL string
	// Href is URL when it is safe to link to, else "".
	Href string
}

// webLink reports whether raw is an absolute http or https URL with a
// host.
func webLink(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return true
	}
	return false
}

// triageOf reads the incident of the path and its triage for the
// person, answering for itself (and returning ok false) when the
// incident is not one they may see, the pages are off, or the store
// fails. The report is nil when the incident has no triage yet.
func (c *Console) triageOf(w http.ResponseWriter, r *http.Request) (inc incident.Incident, rep *triage.Report, ok bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return inc, nil, false
	}
	// As the room page: an incident the person may not see is not there.
	inc, err = c.incidents.Incident(r.Context(), id)
	if err != nil || !c.sees(me(r), inc) {
		http.NotFound(w, r)
		return inc, nil, false
	}
	if c.triages == nil {
		http.Error(w, "triage is not available in this console", http.StatusNotFound)
		return inc, nil, false
	}
	rep, err = c.triages.TriageOf(r.Context(), id)
	if err != nil {
		c.log.Error("console triage", "incident", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return inc, nil, false
	}
	return inc, rep, true
}

// triagePage shows an incident's triage: what the bot found before the
// responder arrived.
func (c *Console) triagePage(w http.ResponseWriter, r *http.Request) {
	inc, rep, ok := c.triageOf(w, r)
	if !ok {
		return
	}
	data := triageData{
		page:     page{Title: "Triage · #" + strconv.FormatInt(inc.ID, 10) + " " + inc.Title, Me: me(r)},
		ID:       inc.ID,
		Room:     roomOf(inc.ID).ID,
		Incident: inc.Title,
		Report:   rep,
	}
	if rep != nil {
		if hasSeries(rep) {
			data.Chart = "/incidents/" + strconv.FormatInt(inc.ID, 10) + "/triage/chart.svg"
		}
		if rep.AI == nil {
			data.AINote = aiNote(rep)
		}
		for _, l := range rep.Links {
			tl := triageLink{Label: l.Label, URL: l.URL}
			if webLink(l.URL) {
				tl.Href = strings.TrimSpace(l.URL)
			}
			data.Links = append(data.Links, tl)
		}
		// Under console_visibility: teams, a similar incident of another
		// team is left out, as the incident list leaves it out.
		for _, s := range rep.Similar {
			if c.seesID(r.Context(), me(r), s.ID) {
				data.Similar = append(data.Similar, s)
			}
		}
	}
	c.render(w, "triage.html", data)
}

// triageChart serves the triage's chart as SVG, for the page's <img>: 404
// when the incident has no triage or its triage no series.
func (c *Console) triageChart(w http.ResponseWriter, r *http.Request) {
	inc, rep, ok := c.triageOf(w, r)
	if !ok {
		return
	}
	if rep == nil {
		http.Error(w, "this incident has no triage yet", http.StatusNotFound)
		return
	}
	svg, err := rep.Chart(triage.SVG, triageChartWidth, triageChartHeight)
	if errors.Is(err, triage.ErrNoSeries) {
		http.Error(w, "this triage has no metrics to chart", http.StatusNotFound)
		return
	}
	if err != nil {
		c.log.Error("console triage chart", "incident", inc.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.Write(svg)
}

// hasSeries reports whether rep has a point to chart.
func hasSeries(rep *triage.Report) bool {
	for _, s := range rep.Series {
		if len(s.Points) > 0 {
			return true
		}
	}
	return false
}

// aiNote says why a report has no AI analysis: none is configured (no
// "ai" source ran), or the AI failed, with its error.
func aiNote(rep *triage.Report) string {
	for _, s := range rep.Sources {
		if s.Name != "ai" {
			continue
		}
		if !s.OK {
			return "The AI analysis is not available: " + s.Error + "."
		}
		return "The AI analysis gave no answer."
	}
	return "The AI analysis is off: no AI is configured for triage."
}
