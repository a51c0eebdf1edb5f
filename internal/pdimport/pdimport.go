// Package pdimport brings a team's history over from PagerDuty, so the
// handoff report's trend spans the move: it reads the REST API's
// incidents and their log entries (acknowledgements, resolutions,
// escalations, notifications), maps PagerDuty's teams, services and users
// onto the bot's, and records each incident once.
package pdimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// Options say where to read and how to map.
type Options struct {
	// BaseURL is the REST API (default https://api.pagerduty.com).
	BaseURL string
	// Token is a REST API key (read-only is enough).
	Token  string
	Since  time.Time
	Until  time.Time
	Client *http.Client
	// Teams maps PagerDuty team or service names to bot teams; an
	// incident none of whose names is mapped is skipped, and counted.
	Teams map[string]string
	// Users maps PagerDuty user names (or emails) to bot people; an
	// action by someone unmapped is kept, as "pagerduty:<name>".
	Users map[string]string
}

// Result counts what an import did.
type Result struct {
	Imported      int            `json:"imported"`
	AlreadyThere  int            `json:"already_there"`
	Skipped       int            `json:"skipped"`
	UnmappedTeams map[string]int `json:"unmapped_teams"`
	Notifications int            `json:"notifications"`
}

type reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Email   string `json:"email"`
}

type pdIncident struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Summary     string      `json:"summary"`
	CreatedAt   time.Time   `json:"created_at"`
	Status      string      `json:"status"`
	ResolvedAt  *time.Time  `json:"resolved_at"`
	Service     reference   `json:"service"`
	Teams       []reference `json:"teams"`
	AlertCounts struct {
		All int `json:"all"`
	} `json:"alert_counts"`
}

type logEntry struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Agent     reference `json:"agent"`
	User      reference `json:"user"`
	Channel   struct {
		Type string `json:"type"`
	} `json:"channel"`
	// EscalationPolicy step, for escalate_log_entry and notify_log_entry
	// ("level" is not in every entry; absent means the first).
	Level int `json:"level"`
}

type client struct {
	base  string
	token string
	http  *http.Client
}

// get reads one page of the API into v, following PagerDuty's
// conventions: the Token authorization and the version 2 media type.
func (c client) get(ctx context.Context, path string, q url.Values, v any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token token="+c.token)
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// pageSize is how many records each request asks for (PagerDuty's most).
const pageSize = 100

func (c client) incidents(ctx context.Context, since, until time.Time) ([]pdIncident, error) {
	var out []pdIncident
	for offset := 0; ; offset += pageSize {
		var page struct {
			Incidents []pdIncident `json:"incidents"`
			More      bool         `json:"more"`
		}
		q := url.Values{"since": {since.UTC().Format(time.RFC3339)}, "until": {until.UTC().Format(time.RFC3339)},
			"limit": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(offset)}, "statuses[]": {"resolved"}}
		if err := c.get(ctx, "/incidents", q, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Incidents...)
		if !page.More || len(page.Incidents) == 0 {
			return out, nil
		}
	}
}

func (c client) logEntries(ctx context.Context, id string) ([]logEntry, error) {
	var out []logEntry
	for offset := 0; ; offset += pageSize {
		var page struct {
			LogEntries []logEntry `json:"log_entries"`
			More       bool       `json:"more"`
		}
		q := url.Values{"limit": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(offset)}}
		if err := c.get(ctx, "/incidents/"+url.PathEscape(id)+"/log_entries", q, &page); err != nil {
			return nil, err
		}
		out = append(out, page.LogEntries...)
		if !page.More || len(page.LogEntries) == 0 {
			return out, nil
		}
	}
}

// methods maps PagerDuty's notification channels to the bot's methods.
var methods = map[string]string{"sms": "sms", "phone": "voice", "email": "email", "push_notification": "chat", "push": "chat"}

// Import reads the resolved incidents of [Since, Until) and records those
// whose team or service is mapped, with their course and notifications.
func Import(ctx context.Context, st *store.Store, o Options) (Result, error) {
	if o.Token == "" {
		return Result{}, errors.New("a PagerDuty REST API token is required")
	}
	if !o.Until.After(o.Since) {
		return Result{}, fmt.Errorf("until (%s) is not after since (%s)", o.Until.Format(time.DateOnly), o.Since.Format(time.DateOnly))
	}
	c := client{base: strings.TrimRight(o.BaseURL, "/"), token: o.Token, http: o.Client}
	if c.base == "" {
		c.base = "https://api.pagerduty.com"
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	list, err := c.incidents(ctx, o.Since, o.Until)
	if err != nil {
		return Result{}, err
	}
	r := Result{UnmappedTeams: map[string]int{}}
	for _, inc := range list {
		team := teamOf(inc, o.Teams)
		if team == "" {
			r.Skipped++
			for _, t := range inc.Teams {
				r.UnmappedTeams[t.Summary]++
			}
			if len(inc.Teams) == 0 {
				r.UnmappedTeams[inc.Service.Summary]++
			}
			continue
		}
		entries, err := c.logEntries(ctx, inc.ID)
		if err != nil {
			return r, err
		}
		rec, sent := course(inc, team, entries, o.Users)
		var added bool
		err = st.Write(ctx, func(tx *store.Tx) error {
			id, ok, err := incident.Import(tx, rec)
			if err != nil || !ok {
				return err
			}
			added = true
			for _, s := range sent {
				if err := oncall.ImportSent(tx, id, "pagerduty/"+inc.ID+"/"+s.key, s.Sent); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return r, err
		}
		if added {
			r.Imported++
			r.Notifications += len(sent)
		} else {
			r.AlreadyThere++
		}
	}
	return r, nil
}

// teamOf is the bot team an incident maps to: its first mapped team, else
// its service.
func teamOf(inc pdIncident, teams map[string]string) string {
	for _, t := range inc.Teams {
		if b, ok := teams[t.Summary]; ok {
			return b
		}
	}
	return teams[inc.Service.Summary]
}

type keyedSent struct {
	oncall.Sent
	key string
}

// course turns an incident's log entries into its timeline and its
// notifications.
func course(inc pdIncident, team string, entries []logEntry, users map[string]string) (incident.Imported, []keyedSent) {
	title := inc.Title
	if title == "" {
		title = inc.Summary
	}
	rec := incident.Imported{Source: "pagerduty", SourceID: inc.ID, Team: team, Title: title, Alerts: inc.AlertCounts.All, CreatedAt: inc.CreatedAt}
	who := func(ref reference) string {
		if ref.Type != "user_reference" && ref.Type != "user" {
			return "pagerduty" // a service or an integration: no person acting
		}
		for _, k := range []string{ref.Summary, ref.Email} {
			if p, ok := users[k]; ok && k != "" {
				return "pagerduty:" + p
			}
		}
		return "pagerduty:" + ref.Summary
	}
	var sent []keyedSent
	resolved := false
	for _, e := range entries {
		switch e.Type {
		case "acknowledge_log_entry":
			rec.Events = append(rec.Events, incident.Event{At: e.CreatedAt, Kind: incident.KindAcknowledged, Actor: who(e.Agent)})
		case "resolve_log_entry":
			rec.Events = append(rec.Events, incident.Event{At: e.CreatedAt, Kind: incident.KindResolved, Actor: who(e.Agent)})
			resolved = true
		case "escalate_log_entry":
			rec.Events = append(rec.Events, incident.Event{At: e.CreatedAt, Kind: "escalation.step", Actor: "pagerduty",
				Detail: fmt.Sprintf("step %d/%d: escalated in PagerDuty", max(e.Level, 2), max(e.Level, 2))})
		case "assign_log_entry":
			rec.Events = append(rec.Events, incident.Event{At: e.CreatedAt, Kind: incident.KindAssigned, Actor: who(e.Agent)})
		case "notify_log_entry":
			person := e.User.Summary
			if p, ok := users[e.User.Summary]; ok {
				person = p
			} else if p, ok := users[e.User.Email]; ok {
				person = p
			}
			m, ok := methods[e.Channel.Type]
			if !ok {
				m = e.Channel.Type
			}
			sent = append(sent, keyedSent{Sent: oncall.Sent{Person: person, Method: m, State: "delivered", Step: max(e.Level-1, 0), At: e.CreatedAt}, key: e.ID})
		}
	}
	slices.SortStableFunc(rec.Events, func(a, b incident.Event) int { return a.At.Compare(b.At) })
	if !resolved && inc.ResolvedAt != nil {
		// The log's resolve entry may be past its first page; the
		// incident says when it ended.
		rec.Events = append(rec.Events, incident.Event{At: *inc.ResolvedAt, Kind: incident.KindResolved, Actor: "pagerduty"})
	}
	return rec, sent
}
