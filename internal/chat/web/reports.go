package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/report"
)

// Reporter makes handoff reports (the App).
type Reporter interface {
	HandoffReport(ctx context.Context, team string, args []string) (report.Handoff, error)
}

// SetReports gives the console its Reports pages.
func (c *Console) SetReports(r Reporter) { c.reports = r }

// reportArgs reads the range picker's query: week, or from and to, or
// neither (the last full on-call week).
func reportArgs(q url.Values) []string {
	switch {
	case q.Get("week") != "":
		return []string{q.Get("week")}
	case q.Get("from") != "" || q.Get("to") != "":
		return []string{q.Get("from"), q.Get("to")}
	}
	return nil
}

// reportsIndex sends a person to their first team's report.
func (c *Console) reportsIndex(w http.ResponseWriter, r *http.Request) {
	teams := c.teamsOf(me(r))
	if len(teams) == 0 {
		for _, t := range *c.teams.Load() {
			teams = append(teams, t.Name)
		}
	}
	if len(teams) == 0 {
		http.Error(w, "no teams are configured", http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/reports/"+url.PathEscape(teams[0]), http.StatusSeeOther)
}

// reportTeam is the team of the path, if the person may see it.
func (c *Console) reportTeam(w http.ResponseWriter, r *http.Request) (string, bool) {
	team := chi.URLParam(r, "team")
	known := slices.ContainsFunc((*c.teams.Load()), func(t config.Team) bool { return t.Name == team })
	if !known || c.restricted() && !slices.Contains(c.teamsOf(me(r)), team) {
		http.NotFound(w, r)
		return "", false
	}
	if c.reports == nil {
		http.Error(w, "reports are not available", http.StatusNotFound)
		return "", false
	}
	return team, true
}

func (c *Console) reportPage(w http.ResponseWriter, r *http.Request) {
	team, ok := c.reportTeam(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	h, err := c.reports.HandoffReport(r.Context(), team, reportArgs(q))
	var teams []string
	for _, t := range *c.teams.Load() {
		if !c.restricted() || slices.Contains(c.teamsOf(me(r)), t.Name) {
			teams = append(teams, t.Name)
		}
	}
	data := struct {
		page
		Team   string
		Teams  []string
		Query  url.Values
		Chart  string
		Report report.Handoff
		Error  string
	}{page: page{Title: "Report · " + team, Me: me(r)}, Team: team, Teams: teams, Query: q}
	if errors.Is(err, report.ErrBadRange) {
		data.Error = err.Error()
		c.renderCode(w, http.StatusBadRequest, "report.html", data)
		return
	}
	if err != nil {
		c.log.Error("console report", "team", team, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	data.Report = h
	data.Chart = "/reports/" + url.PathEscape(team) + "/chart.svg?" + q.Encode()
	c.render(w, "report.html", data)
}

// reportChart serves the report's chart as SVG, for the page's <img>.
func (c *Console) reportChart(w http.ResponseWriter, r *http.Request) {
	team, ok := c.reportTeam(w, r)
	if !ok {
		return
	}
	h, err := c.reports.HandoffReport(r.Context(), team, reportArgs(r.URL.Query()))
	if errors.Is(err, report.ErrBadRange) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var svg []byte
	if err == nil {
		svg, err = h.Report.Chart(report.SVG, 900, 360)
	}
	if err != nil {
		c.log.Error("console report chart", "team", team, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.Write(svg)
}

// seconds shows a report's seconds as a duration, "–" for none.
func seconds(s float64) string {
	if s == 0 {
		return "–"
	}
	return (time.Duration(s) * time.Second).String()
}

// percent shows a share.
func percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }
