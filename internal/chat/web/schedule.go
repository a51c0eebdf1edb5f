package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
)

// shiftRow is one stretch of the schedule page: who is on call from
// Start to End (in the viewer's zone), and what made it so.
type shiftRow struct {
	Start, End string
	Users      []string
	// Gap says nobody is on call; Override names the override or the
	// swap that put Users there.
	Gap      bool
	Override string
}

// schedulePage is a lead's view of the weeks ahead of a team's
// schedule: who is on call when, overrides, swaps and gaps marked, in
// the viewer's own time zone.
func (c *Console) schedulePage(w http.ResponseWriter, r *http.Request) {
	team := chi.URLParam(r, "team")
	i := slices.IndexFunc(*c.teams.Load(), func(t config.Team) bool { return t.Name == team })
	if i < 0 || c.restricted() && !slices.Contains(c.teamsOf(me(r)), team) {
		http.NotFound(w, r)
		return
	}
	t := (*c.teams.Load())[i]
	sc, ok := c.oncall.Schedule(t.Schedule)
	if !ok {
		http.Error(w, "team "+team+" has no schedule", http.StatusNotFound)
		return
	}
	weeks := 4
	if v := r.URL.Query().Get("weeks"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 12 {
			http.Error(w, "weeks must be a whole number from 1 to 12", http.StatusBadRequest)
			return
		}
		weeks = n
	}
	loc := time.UTC
	if p, ok := c.oncall.Person(me(r)); ok && p.TimeZone != "" {
		if l, err := time.LoadLocation(p.TimeZone); err == nil {
			loc = l
		}
	}
	now := c.clock.Now()
	end := now.AddDate(0, 0, 7*weeks)
	overrides := sc.Overrides()
	swaps, err := c.oncall.Swaps(r.Context(), sc.Name)
	if err != nil {
		c.log.Error("console schedule: swaps", "schedule", sc.Name, "err", err)
	}
	byOverride := map[int64]oncall.Swap{}
	for _, s := range swaps {
		if s.OverrideID != 0 {
			byOverride[s.OverrideID] = s
		}
	}
	format := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 15:04") }
	var rows []shiftRow
	for _, seg := range sc.Final(now, end) {
		row := shiftRow{Start: format(seg.Start), End: format(seg.End), Users: seg.Users, Gap: len(seg.Users) == 0}
		for _, o := range overrides {
			if o.Start.Before(seg.End) && seg.Start.Before(o.End) && o.Kind != oncall.Remove && slices.Contains(seg.Users, o.User) {
				row.Override = "override: " + o.User
				if o.Replaces != "" {
					row.Override += " for " + o.Replaces
				}
				if s, ok := byOverride[o.ID]; ok {
					row.Override = "swap #" + strconv.FormatInt(s.ID, 10) + ": " + s.TakenBy + " covers " + s.Requester
				}
			}
		}
		rows = append(rows, row)
	}
	var open []oncall.Swap
	for _, s := range swaps {
		if s.State == oncall.SwapOpen && s.End.After(now) {
			open = append(open, s)
		}
	}
	type swapRow struct {
		ID                    int64
		Requester, Start, End string
	}
	var asks []swapRow
	for _, s := range open {
		asks = append(asks, swapRow{s.ID, s.Requester, format(s.Start), format(s.End)})
	}
	var teams []string
	for _, x := range *c.teams.Load() {
		if x.Schedule != "" && (!c.restricted() || slices.Contains(c.teamsOf(me(r)), x.Name)) {
			teams = append(teams, x.Name)
		}
	}
	c.render(w, "schedule.html", struct {
		page
		Team, Schedule, Zone string
		Teams                []string
		Weeks                int
		Rows                 []shiftRow
		Asks                 []swapRow
		Self                 string
	}{page{Title: "Schedule · " + team, Me: me(r)}, team, sc.Name, loc.String(), teams, weeks, rows, asks,
		"/schedules/" + url.PathEscape(team)})
}
