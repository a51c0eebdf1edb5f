package web

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// Which incidents a person sees in the console is config.ConsoleVisibility.
// By default everyone sees every team's incidents: in an outage that
// crosses teams, the responder who can see the database team's incident
// beside their own finds the cause sooner, and acting is refused anyway
// (chat.MayAct). With "teams", a person sees only the incidents of the
// teams they are a member or lead of; any other incident's room, command
// box and live updates answer as if it did not exist.

// restricted reports whether the console hides other teams' incidents.
func (c *Console) restricted() bool { return c.visibility == config.ConsoleVisibilityTeams }

// teamsOf lists the teams person is a member or lead of.
func (c *Console) teamsOf(person string) []string {
	var out []string
	for _, t := range *c.teams.Load() {
		if slices.Contains(t.Members, person) || slices.Contains(t.Leads, person) {
			out = append(out, t.Name)
		}
	}
	return out
}

// sees reports whether person may see incident inc.
func (c *Console) sees(person string, inc incident.Incident) bool {
	return !c.restricted() || slices.Contains(c.teamsOf(person), inc.Team)
}

// seesID is sees for an incident known only by its id (a live update
// names only the room). An incident's team never changes, so it is looked
// up once and kept.
func (c *Console) seesID(ctx context.Context, person string, id int64) bool {
	if !c.restricted() {
		return true
	}
	team, ok := c.teamOf.Load(id)
	if !ok {
		d, err := c.incidents.Incident(ctx, id)
		if err != nil {
			return false // unknown or unreadable: say nothing of it
		}
		c.teamOf.Store(id, d.Team)
		team = d.Team
	}
	return slices.Contains(c.teamsOf(person), team.(string))
}

// visibleList is the incident list of the console's front page for
// person: f as given, or, restricted, f for each of the person's teams,
// merged newest first and cut to f.Limit.
func (c *Console) visibleList(ctx context.Context, person string, f incident.Filter) ([]incident.Incident, error) {
	if !c.restricted() {
		list, _, err := c.incidents.List(ctx, f)
		return list, err
	}
	var all []incident.Incident
	for _, team := range c.teamsOf(person) {
		tf := f
		tf.Team = team
		list, _, err := c.incidents.List(ctx, tf)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	slices.SortFunc(all, func(a, b incident.Incident) int { return cmp.Compare(b.ID, a.ID) })
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// eventVisible reports whether a live-update event may go to person's
// page: an incident's change only if they see the incident.
func (c *Console) eventVisible(ctx context.Context, person string, e event) bool {
	if e.Kind != "incident" || !c.restricted() {
		return true
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(e.Room, "incident-"), 10, 64)
	if err != nil {
		return true // not an incident's room
	}
	return c.seesID(ctx, person, id)
}
