package triage

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/report"
)

// History finds similar past incidents in the bot's own record: the
// team's resolved incidents of the same category (as the handoff report
// groups them) over the last Window, those of the very same group (route
// and grouping labels) first, newest first within each, with how long
// they took, who resolved them, their notes and tags.
type History struct {
	DB *sql.DB
	// Window is how far back to look (default 90 days).
	Window time.Duration
	// Max is how many to list (default 5).
	Max int
}

// HistoryWindow is how far back History looks by default.
const HistoryWindow = 90 * 24 * time.Hour

// Name names the source.
func (History) Name() string { return "history" }

// Gather finds d's similar incidents.
func (h History) Gather(ctx context.Context, d incident.Detail) (Evidence, error) {
	window, most := h.Window, h.Max
	if window <= 0 {
		window = HistoryWindow
	}
	if most <= 0 {
		most = 5
	}
	// The very same group first (its own index), then the rest of the
	// category among the team's latest resolved incidents: a bounded
	// read, however long the history, and only the few kept have their
	// timelines read.
	same, err := incident.ResolvedInGroup(ctx, h.DB, d.GroupKey, most)
	if err != nil {
		return Evidence{}, err
	}
	var like []incident.History
	seen := map[int64]bool{d.ID: true}
	from := d.CreatedAt.Add(-window)
	for _, p := range same {
		if !seen[p.ID] && !p.CreatedAt.Before(from) && p.CreatedAt.Before(d.CreatedAt) {
			seen[p.ID] = true
			like = append(like, incident.History{Incident: p})
		}
	}
	if len(like) < most {
		// The category's latest, from the triage's own index; a few more
		// than needed, for those still open or in a storm.
		ids, err := candidates(ctx, h.DB, d.Team, categoryOf(d.Title), from, d.CreatedAt, 4*most)
		if err != nil {
			return Evidence{}, err
		}
		found, err := incident.ByIDs(ctx, h.DB, ids)
		if err != nil {
			return Evidence{}, err
		}
		byID := make(map[int64]incident.Incident, len(found))
		for _, p := range found {
			byID[p.ID] = p
		}
		for _, id := range ids {
			p, ok := byID[id]
			if len(like) == most {
				break
			}
			if ok && !seen[id] && p.Status == incident.StatusResolved && p.ParentID == 0 {
				seen[id] = true
				like = append(like, incident.History{Incident: p})
			}
		}
	}
	if err := incident.Courses(ctx, h.DB, like); err != nil {
		return Evidence{}, err
	}
	var out []Similar
	for _, p := range like {
		s := Similar{ID: p.ID, Title: p.Title, At: p.CreatedAt, ResolvedBy: p.ResolvedBy, SameGroup: p.GroupKey == d.GroupKey}
		if p.ResolvedAt != nil {
			s.Seconds = p.ResolvedAt.Sub(p.CreatedAt).Round(time.Second).Seconds()
		}
		for _, e := range p.Events {
			switch e.Kind {
			case incident.KindNote:
				s.Notes = append(s.Notes, e.Detail)
			case incident.KindTagged:
				s.Tag = e.Detail
			}
		}
		out = append(out, s)
	}
	return Evidence{Similar: out}, nil
}

// categories caches titles' categories: the same titles come back night
// after night, and the category's rules are regular expressions.
var categories struct {
	sync.Mutex
	of map[string]string
}

// categoryOf is report.CategoryOf with the default rules, cached; the
// cache starts over when it holds too many titles.
func categoryOf(title string) string {
	categories.Lock()
	c, ok := categories.of[title]
	categories.Unlock()
	if ok {
		return c
	}
	c = report.CategoryOf(title, nil)
	categories.Lock()
	if len(categories.of) >= 20000 || categories.of == nil {
		categories.of = make(map[string]string)
	}
	categories.of[title] = c
	categories.Unlock()
	return c
}
