package triage

import (
	"context"
	"database/sql"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/report"
)

// History finds similar past incidents in the bot's own record: the
// team's resolved incidents of the same category (as the handoff report
// groups them) over the last Window, newest first, with how long they
// took, who resolved them, their notes and tags.
type History struct {
	DB *sql.DB
	// Window is how far back to look (default 90 days).
	Window time.Duration
	// Max is how many to list (default 5).
	Max int
}

// Name names the source.
func (History) Name() string { return "history" }

// Gather finds d's similar incidents.
func (h History) Gather(ctx context.Context, d incident.Detail) (Evidence, error) {
	window, most := h.Window, h.Max
	if window <= 0 {
		window = 90 * 24 * time.Hour
	}
	if most <= 0 {
		most = 5
	}
	past, err := incident.Histories(ctx, h.DB, d.Team, d.CreatedAt.Add(-window), d.CreatedAt)
	if err != nil {
		return Evidence{}, err
	}
	category := report.CategoryOf(d.Title, nil)
	var out []Similar
	for _, p := range past {
		if p.ID == d.ID || p.Status != incident.StatusResolved || report.CategoryOf(p.Title, nil) != category {
			continue
		}
		s := Similar{ID: p.ID, Title: p.Title, At: p.CreatedAt, ResolvedBy: p.ResolvedBy}
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
	sortSimilar(out)
	if len(out) > most {
		out = out[:most]
	}
	return Evidence{Similar: out}, nil
}
