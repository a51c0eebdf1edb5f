package app

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/plan"
	"github.com/oncallbot/bot/internal/store"
)

// StrandedIncident is an open incident that uses an object a plan
// deletes.
type StrandedIncident struct {
	inc incident.Incident
	// why names what it uses: "escalation_policy p", "schedule ops"...
	why []string
}

// strandedBy lists the open incidents that use what p deletes.
func (a *App) strandedBy(ctx context.Context, p plan.Plan, cfg *config.Config) ([]StrandedIncident, error) {
	if !deletes(p) {
		return nil, nil
	}
	open, err := a.Incidents.Open(ctx)
	if err != nil {
		return nil, err
	}
	return StrandedBy(open, p, cfg), nil
}

// deletes reports whether p deletes anything an incident can use.
func deletes(p plan.Plan) bool {
	for _, c := range p.Changes {
		if c.Action == plan.Delete && slices.Contains([]string{plan.KindEscalationPolicy, plan.KindSchedule, plan.KindPerson, plan.KindTeam}, c.Kind) {
			return true
		}
	}
	return false
}

// StrandedBy lists the open incidents that use what p deletes, as cfg (the
// configuration in force) says they do: their policy, their team, their
// assignee, or a schedule or person their policy pages.
func StrandedBy(open []incident.Incident, p plan.Plan, cfg *config.Config) []StrandedIncident {
	deleted := map[string][]string{}
	for _, c := range p.Changes {
		if c.Action == plan.Delete {
			deleted[c.Kind] = append(deleted[c.Kind], c.Name)
		}
	}
	policies := map[string]config.EscalationPolicy{}
	for _, pol := range cfg.EscalationPolicies {
		policies[pol.Name] = pol
	}
	teamSchedule := map[string]string{}
	for _, t := range cfg.Teams {
		teamSchedule[t.Name] = t.Schedule
	}
	var out []StrandedIncident
	for _, inc := range open {
		var why []string
		uses := func(kind, name string) {
			if slices.Contains(deleted[kind], name) && !slices.Contains(why, kind+" "+name) {
				why = append(why, kind+" "+name)
			}
		}
		uses(plan.KindEscalationPolicy, inc.Policy)
		uses(plan.KindTeam, inc.Team)
		uses(plan.KindPerson, inc.Assignee)
		uses(plan.KindSchedule, teamSchedule[inc.Team])
		for _, st := range policies[inc.Policy].Steps {
			for _, t := range st.Targets {
				uses(plan.KindSchedule, t.Schedule)
				uses(plan.KindPerson, t.User)
			}
		}
		if len(why) > 0 {
			out = append(out, StrandedIncident{inc: inc, why: why})
		}
	}
	return out
}

// RefuseStranded is the error of an apply without Force that would strand
// open incidents: each object, with the incidents that use it.
func RefuseStranded(list []StrandedIncident) error {
	users := map[string][]string{}
	var order []string
	for _, s := range list {
		for _, w := range s.why {
			if _, ok := users[w]; !ok {
				order = append(order, w)
			}
			users[w] = append(users[w], "#"+strconv.FormatInt(s.inc.ID, 10))
		}
	}
	var lines []string
	for _, w := range order {
		lines = append(lines, fmt.Sprintf("%s: open incidents still use it (%s); resolve them, or apply with force to move them to their route's current policy",
			w, strings.Join(users[w], ", ")))
	}
	return fmt.Errorf("%w: %s", plan.ErrInvalid, strings.Join(lines, "\n"))
}

// moveStranded moves each stranded incident to its route's policy in next
// (the default route's when its route is gone), in tx, said on its
// timeline and to its team's leads. Its escalation keeps its place.
func (a *App) moveStranded(tx *store.Tx, list []StrandedIncident, next *config.Config) error {
	for _, s := range list {
		route := next.DefaultRoute
		for _, r := range next.Routes {
			if r.Name == s.inc.Route {
				route = r
			}
		}
		why := fmt.Sprintf("a configuration apply removed %s; the incident follows escalation policy %s (route %s) from its next step",
			strings.Join(s.why, ", "), route.EscalationPolicy, route.Name)
		if err := a.Incidents.MovePolicy(tx, s.inc.ID, route.EscalationPolicy, why); err != nil {
			return err
		}
		s.inc.Policy = route.EscalationPolicy
		key := fmt.Sprintf("incident/%d/policy-moved/%s", s.inc.ID, route.EscalationPolicy)
		if err := a.Engine.TellLeads(tx, s.inc, key, fmt.Sprintf("#%d %s: %s.", s.inc.ID, s.inc.Title, why)); err != nil {
			return err
		}
	}
	return nil
}
