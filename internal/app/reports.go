package app

import (
	"context"

	"github.com/oncallbot/bot/internal/report"
)

// Reports reads the handoff report over the configuration in force.
func (a *App) Reports() report.Source {
	return report.Source{DB: a.Store.Read(), OnCall: a.OnCall, Config: a.Live(), Now: a.Clock.Now}
}

// HandoffReport is team's handoff report over the range args name (see
// report.Source.ParseRange): the last full on-call week when none.
func (a *App) HandoffReport(ctx context.Context, team string, args []string) (report.Handoff, error) {
	src := a.Reports()
	r, err := src.ParseRange(team, args, a.Clock.Now())
	if err != nil {
		return report.Handoff{}, err
	}
	return src.Weekly(ctx, team, r)
}
