package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// rawKinds are the events an "allnotifications" contact method gets: every
// alert that fires, fires again or resolves, and the incident's own
// opening and end.
var rawKinds = []string{incident.KindTriggered, incident.KindAlertAdded, incident.KindAlertRefired,
	incident.KindAlertResolved, incident.KindResolved}

// rawPager feeds every raw alert event of a person's teams to one of their
// contact methods, unmanaged: no delay, no escalation, for people who
// want a pager that sees everything.
type rawPager struct {
	person config.Person
	method string
	next   outbox.Consumer
}

func (r rawPager) Deliver(ctx context.Context, m outbox.Message) error {
	var ev incident.EventPayload
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		return outbox.Permanent(fmt.Errorf("decode event %d: %w", m.ID, err))
	}
	verb := strings.TrimPrefix(strings.TrimPrefix(ev.Event, "incident."), "alert.")
	text := fmt.Sprintf("[%s] #%d %s: %s", strings.ToUpper(ev.Incident.Severity.String()), ev.Incident.ID, verb, ev.Incident.Title)
	if ev.Detail != "" && ev.Detail != ev.Incident.Title {
		text += " (" + ev.Detail + ")"
	}
	page, err := json.Marshal(oncall.Page{Key: m.IdempotencyKey + "/" + r.person.Name, Method: r.method,
		Person: r.person, Incident: ev.Incident, Text: text})
	if err != nil {
		return err
	}
	m.Payload = page
	return r.next.Deliver(ctx, m)
}

// rawSubscriptions returns the subscriptions and consumers of every
// allnotifications method whose provider is configured.
func rawSubscriptions(cfg *config.Config, consumers map[string]outbox.Consumer) ([]outbox.Subscription, map[string]outbox.Consumer) {
	var subs []outbox.Subscription
	out := map[string]outbox.Consumer{}
	for _, p := range cfg.People {
		var teams []string
		for _, t := range cfg.Teams {
			if slices.Contains(t.Members, p.Name) {
				teams = append(teams, t.Name)
			}
		}
		for _, st := range append(slices.Clone(p.Notify), p.NotifyImportant...) {
			next, ok := consumers[oncall.NotifyConsumer(st.Method)]
			if st.Mode != "allnotifications" || !ok || len(teams) == 0 {
				continue
			}
			name := "raw:" + p.Name + ":" + st.Method
			if _, dup := out[name]; dup {
				continue
			}
			out[name] = rawPager{person: p, method: st.Method, next: next}
			subs = append(subs, outbox.Subscription{Consumer: name, Kinds: rawKinds, Teams: teams})
		}
	}
	return subs, out
}
