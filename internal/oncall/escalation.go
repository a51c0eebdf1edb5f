package oncall

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// Timer kinds of the escalation engine.
const (
	// TimerEscalate moves an incident's policy to its next step.
	TimerEscalate = "escalate"
	// TimerNotify sends one notification of a person's rule.
	TimerNotify = "notify"
)

// Timeline kinds the engine writes.
const (
	KindStep          = "escalation.step"
	KindStepSkipped   = "escalation.step_skipped"
	KindRepeat        = "escalation.repeat"
	KindExhausted     = "escalation.exhausted"
	KindEscalated     = "escalation.manual"
	KindNotified      = "notify.queued"
	KindUndeliverable = "notify.undeliverable"
	KindLeadsTold     = "notify.leads_told"
	KindNotifySkipped = "notify.skipped"
	KindNotifyRetried = "notify.retried"
)

// EventPage is the outbox kind of a notification to a person.
const EventPage = "notify.page"

// Incidents is what the engine needs of the incident domain.
type Incidents interface {
	Load(tx *store.Tx, id int64) (incident.Incident, error)
	Record(tx *store.Tx, id int64, kind, actor, detail string) error
	// Recorded reports whether the timeline already has an entry of kind
	// with detail.
	Recorded(tx *store.Tx, id int64, kind, detail string) (bool, error)
	// RecordPaging records an entry that pages people, naming them.
	RecordPaging(tx *store.Tx, id int64, kind, actor, detail string, people []string) error
	// SetAssignee records who an incident is assigned to.
	SetAssignee(tx *store.Tx, id int64, person string) error
	// Retrigger puts an acknowledged incident back to triggered.
	Retrigger(tx *store.Tx, id int64) error
}

// Sender enqueues an outbox event for one consumer.
type Sender interface {
	Send(tx *store.Tx, consumer string, e outbox.Event) error
}

// NotifyConsumer names the outbox consumer of a contact method.
func NotifyConsumer(method string) string { return "notify:" + method }

// Engine runs escalation policies: durable steps and notifications as
// timer rows, every decision in the transaction of the timer that caused
// it.
type Engine struct {
	store *store.Store
	dir   *Service
	// policies are the configured policies by name; Reload swaps them.
	policies   atomic.Pointer[map[string]config.EscalationPolicy]
	incidents  Incidents
	sender     Sender
	clock      clock.Clock
	configured map[string]bool
	// roomPlatforms is EngineOptions.RoomPlatforms.
	roomPlatforms []string
	timerArmed    func()
	// importantAt is the severity from which a person's important rule
	// applies.
	importantAt ingest.Severity
	// background counts the work timers start off their transaction
	// (calendar refreshes); stop ends it, on Close.
	background sync.WaitGroup
	stop       context.Context
	cancel     context.CancelFunc
}

// EngineOptions wire an Engine.
type EngineOptions struct {
	// Methods lists the contact methods whose provider is configured;
	// the rest are recorded as undeliverable.
	Methods    []string
	TimerArmed func()
	// RoomPlatforms lists the configured chat platforms that can hold a
	// team's room (slack, telegram, discord): a room target whose team has
	// a room on none of them is undeliverable, said once per incident.
	RoomPlatforms []string
	// Store runs manual escalations.
	Store *store.Store
}

// NewEngine builds the engine from the configured policies.
func NewEngine(dir *Service, cfg *config.Config, inc Incidents, sender Sender, c clock.Clock, opts EngineOptions) *Engine {
	e := &Engine{
		store: opts.Store, dir: dir, incidents: inc, sender: sender, clock: c,
		configured: map[string]bool{}, roomPlatforms: opts.RoomPlatforms, timerArmed: opts.TimerArmed, importantAt: ingest.SeverityCritical,
	}
	e.stop, e.cancel = context.WithCancel(context.Background())
	e.Reload(cfg)
	for _, m := range opts.Methods {
		e.configured[m] = true
	}
	return e
}

// Reload puts cfg's escalation policies in force. An open incident keeps
// its place (cycle and step) and takes its policy's new version from its
// next step; the people and teams it pages come from the directory, which
// reloads itself (Service.Reload).
func (e *Engine) Reload(cfg *config.Config) {
	m := make(map[string]config.EscalationPolicy, len(cfg.EscalationPolicies))
	for _, p := range cfg.EscalationPolicies {
		m[p.Name] = p
	}
	e.policies.Store(&m)
}

// Register hands the engine's timer kinds to the runner.
func (e *Engine) Register(r *timer.Runner) {
	r.Handle(TimerEscalate, e.handleEscalate)
	r.Handle(TimerNotify, e.handleNotify)
	r.Handle(TimerGapCheck, e.checkGaps)
	r.Handle(TimerICalRefresh, e.refreshCalendars)
}

type stepPayload struct {
	Cycle int `json:"cycle"`
	Step  int `json:"step"`
}

type notifyPayload struct {
	Cycle  int    `json:"cycle"`
	Step   int    `json:"step"`
	Person string `json:"person"`
	Method string `json:"method"`
	Why    string `json:"why"`
	// Rule and Important locate the rule step, for its rate limit and
	// enable window.
	Rule      int  `json:"rule"`
	Important bool `json:"important,omitempty"`
}

// ruleStep finds the rule step a notify timer was armed for.
func (e *Engine) ruleStep(p notifyPayload) (config.NotifyStep, bool) {
	person, _ := e.dir.Person(p.Person)
	rule := person.Notify
	if p.Important {
		rule = person.NotifyImportant
	}
	if p.Rule < 0 || p.Rule >= len(rule) || rule[p.Rule].Method != p.Method {
		return config.NotifyStep{}, false
	}
	return rule[p.Rule], true
}

// policy returns the incident's policy. An incident whose policy is not
// configured still pages: its team's schedule, else the whole team.
func (e *Engine) policy(inc incident.Incident) config.EscalationPolicy {
	if p, ok := (*e.policies.Load())[inc.Policy]; ok {
		return p
	}
	target := config.Target{Team: inc.Team}
	if t, ok := e.dir.d().teams[inc.Team]; ok && t.Schedule != "" {
		target = config.Target{Schedule: t.Schedule}
	}
	return config.EscalationPolicy{Name: inc.Policy + " (implicit)", Steps: []config.EscalationStep{
		{Delay: config.Duration(15 * time.Minute), Targets: []config.Target{target}},
	}}
}

// Start begins an incident's escalation at its first step, in the
// transaction in which paging starts.
func (e *Engine) Start(tx *store.Tx, inc incident.Incident) error {
	now := e.clock.Now()
	_, err := tx.Exec(`INSERT INTO escalations (incident_id, policy, cycle, step, state, started_at, updated_at)
		VALUES (?, ?, 0, 0, 'running', ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET policy = excluded.policy, cycle = 0, step = 0, state = 'running',
		started_at = excluded.started_at, updated_at = excluded.updated_at`, inc.ID, e.policy(inc).Name, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("start escalation of incident %d: %w", inc.ID, err)
	}
	return e.runFrom(tx, inc, 0, 0, now)
}

// runFrom runs the policy from step of cycle: the first step whose
// condition holds and that finds someone notifies them and arms the next.
func (e *Engine) runFrom(tx *store.Tx, inc incident.Incident, cycle, step int, now time.Time) error {
	p := e.policy(inc)
	for {
		if step >= len(p.Steps) {
			if cycle >= p.Repeat {
				return e.exhausted(tx, inc, p)
			}
			cycle, step = cycle+1, 0
			if err := e.incidents.Record(tx, inc.ID, KindRepeat, "bot",
				fmt.Sprintf("nobody acknowledged; policy %s starts round %d of %d", p.Name, cycle+1, p.Repeat+1)); err != nil {
				return err
			}
		}
		st := p.Steps[step]
		label := fmt.Sprintf("step %d/%d", step+1, len(p.Steps))
		if p.Repeat > 0 {
			label += fmt.Sprintf(" (round %d)", cycle+1)
		}
		if why, ok := e.conditionHolds(st.When, inc, now); !ok {
			if err := e.incidents.Record(tx, inc.ID, KindStepSkipped, "bot", label+": "+why); err != nil {
				return err
			}
			step++
			continue
		}
		people, rooms := e.targets(st.Targets, now)
		if len(people) == 0 && len(rooms) == 0 {
			if err := e.incidents.Record(tx, inc.ID, KindStepSkipped, "bot", label+": nobody to page (a gap in the schedule?)"); err != nil {
				return err
			}
			step++
			continue
		}
		var names, paged []string
		for _, pw := range people {
			names = append(names, pw.person+" ("+pw.why+")")
			paged = append(paged, pw.person)
		}
		for _, r := range rooms {
			names = append(names, "room of "+r)
		}
		if err := e.incidents.RecordPaging(tx, inc.ID, KindStep, "bot", label+": "+strings.Join(names, ", "), paged); err != nil {
			return err
		}
		for _, pw := range people {
			if err := e.armRule(tx, inc, cycle, step, pw, now); err != nil {
				return err
			}
		}
		for _, r := range rooms {
			// Team rooms are chat rooms: without a chat platform they are
			// undeliverable, and said so.
			if why := e.noRoom(r); why != "" {
				if err := e.undeliverableOnce(tx, inc, "room of "+r, "chat", why); err != nil {
					return err
				}
				continue
			}
			payload, err := json.Marshal(RoomPage{Team: r, Incident: inc, Text: PageText(inc)})
			if err != nil {
				return err
			}
			if err := e.sender.Send(tx, RoomConsumer, outbox.Event{Kind: "notify.room", Team: r, OrderingKey: "room/" + r,
				IdempotencyKey: fmt.Sprintf("incident/%d/cycle/%d/step/%d/room/%s", inc.ID, cycle, step, r), Payload: payload}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`UPDATE escalations SET cycle = ?, step = ?, state = 'running', updated_at = ? WHERE incident_id = ?`,
			cycle, step, now.UnixMilli(), inc.ID); err != nil {
			return fmt.Errorf("record escalation step: %w", err)
		}
		b, _ := json.Marshal(stepPayload{Cycle: cycle, Step: step + 1})
		return e.arm(tx, TimerEscalate, inc.ID, now.Add(st.Delay.Std()), string(b), now)
	}
}

func (e *Engine) arm(tx *store.Tx, kind string, id int64, at time.Time, payload string, now time.Time) error {
	if err := timer.Arm(tx, kind, id, at, payload, now); err != nil {
		return err
	}
	if e.timerArmed != nil {
		tx.AfterCommit(e.timerArmed)
	}
	return nil
}

func (e *Engine) exhausted(tx *store.Tx, inc incident.Incident, p config.EscalationPolicy) error {
	if _, err := tx.Exec(`UPDATE escalations SET state = 'exhausted', updated_at = ? WHERE incident_id = ?`,
		e.clock.Now().UnixMilli(), inc.ID); err != nil {
		return fmt.Errorf("record exhausted escalation: %w", err)
	}
	return e.incidents.Record(tx, inc.ID, KindExhausted, "bot",
		fmt.Sprintf("policy %s ran out of steps and nobody acknowledged", p.Name))
}

// conditionHolds evaluates a step's condition; when it fails it says why.
func (e *Engine) conditionHolds(c *config.Condition, inc incident.Incident, now time.Time) (string, bool) {
	if c == nil {
		return "", true
	}
	if c.SeverityAtLeast != nil && inc.Severity < *c.SeverityAtLeast {
		return fmt.Sprintf("only for %s and above, this is %s", c.SeverityAtLeast, inc.Severity), false
	}
	if c.Window != nil {
		loc := time.UTC
		if c.TimeZone != "" {
			if l, err := time.LoadLocation(c.TimeZone); err == nil {
				loc = l
			}
		}
		w, err := ParseWindow(*c.Window)
		if err != nil {
			return "bad window: " + err.Error(), false
		}
		if !w.contains(WallOf(now, loc)) {
			return fmt.Sprintf("only between %s and %s %s", w.From, w.To, loc), false
		}
	}
	return "", true
}

type personWhy struct{ person, why string }

// targets resolves a step's targets to people (deduplicated, in order)
// and team rooms.
func (e *Engine) targets(ts []config.Target, now time.Time) ([]personWhy, []string) {
	var people []personWhy
	var rooms []string
	add := func(p, why string) {
		for _, x := range people {
			if x.person == p {
				return
			}
		}
		people = append(people, personWhy{p, why})
	}
	for _, t := range ts {
		switch {
		case t.Schedule != "":
			if sc, ok := e.dir.Schedule(t.Schedule); ok {
				for _, u := range sc.OnCall(now) {
					add(u, "on call for "+t.Schedule)
				}
			}
		case t.User != "":
			add(t.User, "named in the policy")
		case t.Team != "":
			for _, m := range e.dir.d().teams[t.Team].Members {
				add(m, "member of "+t.Team)
			}
		case t.Room != "":
			if !slices.Contains(rooms, t.Room) {
				rooms = append(rooms, t.Room)
			}
		}
	}
	return people, rooms
}

// armRule arms one notify timer for each step of the person's rule.
func (e *Engine) armRule(tx *store.Tx, inc incident.Incident, cycle, step int, pw personWhy, now time.Time) error {
	p, _ := e.dir.Person(pw.person)
	rule := p.Notify
	if inc.Severity >= e.importantAt && len(p.NotifyImportant) > 0 {
		rule = p.NotifyImportant
	}
	if len(rule) == 0 {
		rule = []config.NotifyStep{{Method: "chat"}}
	}
	for i, r := range rule {
		if r.Mode == "allnotifications" {
			continue // fed every raw alert event instead (see app)
		}
		b, _ := json.Marshal(notifyPayload{Cycle: cycle, Step: step, Person: pw.person, Method: r.Method, Why: pw.why,
			Rule: i, Important: inc.Severity >= e.importantAt && len(p.NotifyImportant) > 0})
		if r.After <= 0 {
			// At once: in this transaction, not a timer and a write of its
			// own later (in a storm, half the escalation's writes).
			if err := e.handleNotify(tx, timer.Timer{Kind: TimerNotify, IncidentID: inc.ID, Due: now, Payload: string(b)}); err != nil {
				return err
			}
			continue
		}
		if err := e.arm(tx, TimerNotify, inc.ID, now.Add(r.After.Std()), string(b), now); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) handleEscalate(tx *store.Tx, t timer.Timer) error {
	inc, err := e.incidents.Load(tx, t.IncidentID)
	if err != nil {
		return err
	}
	if inc.Status != incident.StatusTriggered {
		return nil
	}
	var p stepPayload
	if err := json.Unmarshal([]byte(t.Payload), &p); err != nil {
		return fmt.Errorf("escalate timer %d: bad payload: %w", t.ID, err)
	}
	return e.runFrom(tx, inc, p.Cycle, p.Step, e.clock.Now())
}

// RoomConsumer is the outbox consumer that pages a team's chat rooms.
const RoomConsumer = "notify:rooms"

// RoomPage is the payload of a page to a team's rooms.
type RoomPage struct {
	Team     string            `json:"team"`
	Incident incident.Incident `json:"incident"`
	Text     string            `json:"text"`
}

// Page is the payload of a notify.page outbox event: everything a
// contact-method consumer needs to reach the person.
type Page struct {
	Key string `json:"key"`
	// Subject titles a message that is about no incident (a gap warning).
	Subject  string            `json:"subject,omitempty"`
	Method   string            `json:"method"`
	Person   config.Person     `json:"person"`
	Incident incident.Incident `json:"incident"`
	Text     string            `json:"text"`
}

// PageText is the short text of a page, fit for an SMS or a call.
func PageText(inc incident.Incident) string {
	return fmt.Sprintf("[%s] #%d %s (team %s). Reply \"%d ack\" to acknowledge.",
		strings.ToUpper(inc.Severity.String()), inc.ID, inc.Title, inc.Team, inc.ID)
}

func (e *Engine) handleNotify(tx *store.Tx, t timer.Timer) error {
	inc, err := e.incidents.Load(tx, t.IncidentID)
	if err != nil {
		return err
	}
	if inc.Status != incident.StatusTriggered {
		return nil
	}
	var p notifyPayload
	if err := json.Unmarshal([]byte(t.Payload), &p); err != nil {
		return fmt.Errorf("notify timer %d: bad payload: %w", t.ID, err)
	}
	key := fmt.Sprintf("incident/%d/cycle/%d/step/%d/%s/%s", inc.ID, p.Cycle, p.Step, p.Person, p.Method)
	if rs, ok := e.ruleStep(p); ok {
		if why, ok := e.conditionHolds(rs.Enabled, inc, e.clock.Now()); !ok {
			return e.incidents.Record(tx, inc.ID, KindNotifySkipped, "bot", fmt.Sprintf("%s to %s: %s", p.Method, p.Person, why))
		}
		if limit := rs.RateLimit.Std(); limit > 0 {
			var last sql.NullInt64
			if err := tx.QueryRow(`SELECT MAX(created_at) FROM notifications WHERE person = ? AND method = ? AND state IN ('queued', 'sent', 'delivered')`,
				p.Person, p.Method).Scan(&last); err != nil {
				return fmt.Errorf("rate limit: %w", err)
			}
			if next := time.UnixMilli(last.Int64).Add(limit); last.Valid && next.After(e.clock.Now()) {
				// Within the limit: wait for it rather than drop the page;
				// an ack in the meantime makes the wait end in nothing.
				return e.arm(tx, TimerNotify, inc.ID, next, t.Payload, e.clock.Now())
			}
		}
	}
	now := e.clock.Now().UnixMilli()
	// Only the key's conflict means "already decided"; any other
	// constraint failure must be an error, never a page silently skipped.
	res, err := tx.Exec(`INSERT INTO notifications (incident_id, idempotency_key, person, method, cycle, step, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`, inc.ID, key, p.Person, p.Method, p.Cycle, p.Step, now, now)
	if err != nil {
		return fmt.Errorf("log notification: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already decided, before a restart: never page twice
	}
	if !e.configured[p.Method] {
		if _, err := tx.Exec(`UPDATE notifications SET state = 'undeliverable', detail = ? WHERE idempotency_key = ?`,
			"no "+p.Method+" provider is configured", key); err != nil {
			return fmt.Errorf("log notification: %w", err)
		}
		return e.undeliverable(tx, inc, p.Person, p.Method, "no "+p.Method+" provider is configured")
	}
	person, _ := e.dir.Person(p.Person)
	payload, err := json.Marshal(Page{Key: key, Method: p.Method, Person: person, Incident: inc, Text: PageText(inc)})
	if err != nil {
		return fmt.Errorf("encode page: %w", err)
	}
	if err := e.sender.Send(tx, NotifyConsumer(p.Method), outbox.Event{
		Kind: EventPage, Team: inc.Team, OrderingKey: "person/" + p.Person + "/" + p.Method,
		IdempotencyKey: key, Payload: payload, Urgent: true,
	}); err != nil {
		return err
	}
	return e.incidents.Record(tx, inc.ID, KindNotified, "bot", fmt.Sprintf("%s to %s (%s)", p.Method, p.Person, p.Why))
}

// undeliverable records that who could not be reached by method, and tells
// the team's leads by a method that works, or records that it could not.
// noRoom says why team's rooms cannot be paged, "" when they can: no chat
// platform at all, or none on which the team has a room.
func (e *Engine) noRoom(team string) string {
	if !e.configured["chat"] {
		return "no chat platform is configured"
	}
	t := e.dir.d().teams[team]
	for _, p := range e.roomPlatforms {
		if t.Rooms.On(p) != "" {
			return ""
		}
	}
	return "team " + team + " has no room on any configured chat platform (rooms.slack, rooms.telegram or rooms.discord)"
}

// undeliverableOnce is undeliverable said once per incident: a policy
// that repeats, or every incident of a storm, would otherwise fill the
// timeline with the same configuration problem (bot check flags it too).
func (e *Engine) undeliverableOnce(tx *store.Tx, inc incident.Incident, who, method, why string) error {
	said, err := e.incidents.Recorded(tx, inc.ID, KindUndeliverable, fmt.Sprintf("%s to %s: %s", method, who, why))
	if err != nil || said {
		return err
	}
	return e.undeliverable(tx, inc, who, method, why)
}

func (e *Engine) undeliverable(tx *store.Tx, inc incident.Incident, who, method, why string) error {
	if err := e.incidents.Record(tx, inc.ID, KindUndeliverable, "bot", fmt.Sprintf("%s to %s: %s", method, who, why)); err != nil {
		return err
	}
	return e.tellLeads(tx, inc, who, fmt.Sprintf("incident/%d/undeliverable/%s/%s", inc.ID, who, method), "notify.undeliverable",
		fmt.Sprintf("Could not reach %s by %s for #%d %s: %s", who, method, inc.ID, inc.Title, why))
}

// TellTeamLeads sends a message about no incident to the leads of team,
// each by a contact method that works, once per key, in tx: what a
// configuration reload that failed does. It returns the leads no
// configured method reaches.
func (e *Engine) TellTeamLeads(tx *store.Tx, team, key, subject, text string) ([]string, error) {
	_, unreachable, err := e.sendToLeads(tx, team, "", key, "notify.leads", subject, text, nil)
	return unreachable, err
}

// sendToLeads queues text to each lead of team but except, by their first
// working method, keyed key/lead/<name>.
func (e *Engine) sendToLeads(tx *store.Tx, team, except, key, kind, subject, text string, inc *incident.Incident) (told, unreachable []string, err error) {
	for _, lead := range e.dir.d().teams[team].Leads {
		if lead == except {
			continue
		}
		m := e.workingMethod(lead)
		if m == "" {
			unreachable = append(unreachable, lead)
			continue
		}
		person, _ := e.dir.Person(lead)
		leadKey := key + "/lead/" + lead
		page := Page{Key: leadKey, Method: m, Person: person, Text: text, Subject: subject}
		if inc != nil {
			page.Incident = *inc
		}
		payload, err := json.Marshal(page)
		if err != nil {
			return nil, nil, err
		}
		if err := e.sender.Send(tx, NotifyConsumer(m), outbox.Event{Kind: kind, Team: team,
			OrderingKey: "person/" + lead + "/" + m, IdempotencyKey: leadKey, Payload: payload}); err != nil {
			return nil, nil, err
		}
		told = append(told, lead+" by "+m)
	}
	return told, unreachable, nil
}

// TellLeads sends text to the leads of inc's team, each by a contact
// method that works, once per key (the outbox's idempotency), in tx, and
// says on the timeline who was told: what a configuration apply that
// moved the incident to another policy does.
func (e *Engine) TellLeads(tx *store.Tx, inc incident.Incident, key, text string) error {
	return e.tellLeads(tx, inc, "", key, "notify.leads", text)
}

// tellLeads is TellLeads leaving out except (the person who could not be
// reached, when it is a lead).
func (e *Engine) tellLeads(tx *store.Tx, inc incident.Incident, except, key, kind, text string) error {
	told, unreachable, err := e.sendToLeads(tx, inc.Team, except, key, kind, "", text, &inc)
	if err != nil {
		return err
	}
	if len(told) == 0 && len(unreachable) == 0 {
		return nil
	}
	detail := ""
	if len(told) > 0 {
		detail = "told " + strings.Join(told, ", ")
	}
	if len(unreachable) > 0 {
		if detail != "" {
			detail += "; "
		}
		detail += "no configured way to tell " + strings.Join(unreachable, ", ")
	}
	// Say each distinct thing once per incident, not at every failure.
	said, err := e.incidents.Recorded(tx, inc.ID, KindLeadsTold, detail)
	if err != nil || said {
		return err
	}
	return e.incidents.Record(tx, inc.ID, KindLeadsTold, "bot", detail)
}

// workingMethod returns the first method of the person's rule whose
// provider is configured, leaving out the methods in except, or "".
func (e *Engine) workingMethod(person string, except ...string) string {
	p, _ := e.dir.Person(person)
	for _, r := range append(slices.Clone(p.Notify), p.NotifyImportant...) {
		if e.configured[r.Method] && !slices.Contains(except, r.Method) {
			return r.Method
		}
	}
	return ""
}

// BeginSend marks notifications as being handed to their provider, before
// the provider is called, all in one write; it answers, per key, whether
// to send. It answers false when the page already went out (a repeated
// delivery: it is never sent twice). A page an earlier attempt marked and
// never finished (the process died mid-send) is sent again, and the
// timeline says it may arrive twice: every page at least once, at most
// one repeat per crash. A page whose incident is no longer triggered is
// dropped, and said so. Keys the engine does not log (a lead being told,
// a gap warning) always proceed.
func (e *Engine) BeginSend(ctx context.Context, keys []string) ([]bool, error) {
	proceed := make([]bool, len(keys))
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		now := e.clock.Now().UnixMilli()
		for i, key := range keys {
			ok, err := e.beginSend(tx, key, now)
			if err != nil {
				return err
			}
			proceed[i] = ok
		}
		return nil
	})
	return proceed, err
}

func (e *Engine) beginSend(tx *store.Tx, key string, now int64) (bool, error) {
	var id int64
	var person, method, state string
	var since sql.NullInt64
	err := tx.QueryRow(`SELECT incident_id, person, method, state, sending_since FROM notifications WHERE idempotency_key = ?`, key).
		Scan(&id, &person, &method, &state, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("begin send: %w", err)
	}
	if state != "queued" {
		// Sent, delivered, failed or undeliverable: decided already.
		return false, nil
	}
	// A page that waited (a provider down, a rate limit) is for an
	// incident that may have been acknowledged or resolved since: it
	// would wake someone for nothing, with a stale card.
	inc, err := e.incidents.Load(tx, id)
	if err != nil {
		return false, err
	}
	if inc.Status != incident.StatusTriggered {
		if _, err := tx.Exec(`UPDATE notifications SET state = 'failed', detail = ? WHERE idempotency_key = ?`,
			"not sent: the incident was "+string(inc.Status)+" first", key); err != nil {
			return false, err
		}
		return false, e.incidents.Record(tx, id, KindNotifySkipped, "bot",
			fmt.Sprintf("%s to %s: not sent, the incident was %s before it could go out", method, person, inc.Status))
	}
	if since.Valid {
		// The process died between marking this page and recording it
		// sent: it may have gone out, or not. A page must arrive at least
		// once, so it goes again; a person may get it twice, once per
		// crash, and the timeline says so.
		if err := e.incidents.Record(tx, id, KindNotifyRetried, "bot",
			fmt.Sprintf("%s to %s: an earlier attempt was cut off mid-send (restart); sent again, it may arrive twice", method, person)); err != nil {
			return false, err
		}
	}
	_, err = tx.Exec(`UPDATE notifications SET sending_since = ? WHERE idempotency_key = ?`, now, key)
	return err == nil, err
}

// AbortSend clears the marks of sends that failed cleanly (the provider
// said no, or could not be reached), so the retry sends.
func (e *Engine) AbortSend(ctx context.Context, keys []string) error {
	return e.store.Write(ctx, func(tx *store.Tx) error {
		for _, key := range keys {
			if _, err := tx.Exec(`UPDATE notifications SET sending_since = NULL WHERE idempotency_key = ?`, key); err != nil {
				return err
			}
		}
		return nil
	})
}

// NotificationSent marks notifications as handed to their provider, under
// the provider's id for what carried them.
func (e *Engine) NotificationSent(ctx context.Context, keys []string, providerID string) error {
	return e.store.Write(ctx, func(tx *store.Tx) error {
		now := e.clock.Now().UnixMilli()
		for _, k := range keys {
			if _, err := tx.Exec(`UPDATE notifications SET state = 'sent', sending_since = NULL, provider_id = ?, updated_at = ?
				WHERE idempotency_key = ? AND state = 'queued'`, providerID, now, k); err != nil {
				return fmt.Errorf("mark notification sent: %w", err)
			}
		}
		return nil
	})
}

// NotificationStatus records a provider's delivery report. A failure goes
// on the timeline of each incident the message was for.
func (e *Engine) NotificationStatus(ctx context.Context, providerID, status, detail string) error {
	var state string
	switch status {
	case "delivered", "completed", "answered":
		state = "delivered"
	case "failed", "undelivered", "busy", "no-answer", "canceled":
		state = "failed"
	default:
		return nil // queued, sending, sent, ringing, in-progress: nothing new
	}
	return e.store.Write(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT incident_id, person, method FROM notifications WHERE provider_id = ?`, providerID)
		if err != nil {
			return fmt.Errorf("find notifications of %s: %w", providerID, err)
		}
		type hit struct {
			id             int64
			person, method string
		}
		var hits []hit
		for rows.Next() {
			var h hit
			if err := rows.Scan(&h.id, &h.person, &h.method); err != nil {
				rows.Close()
				return err
			}
			hits = append(hits, h)
		}
		rows.Close()
		if _, err := tx.Exec(`UPDATE notifications SET state = ?, detail = ?, updated_at = ? WHERE provider_id = ?`,
			state, strings.TrimSpace(status+" "+detail), e.clock.Now().UnixMilli(), providerID); err != nil {
			return fmt.Errorf("record delivery status: %w", err)
		}
		if state != "failed" {
			return nil
		}
		for _, h := range hits {
			if err := e.incidents.Record(tx, h.id, KindUndeliverable, "bot",
				fmt.Sprintf("%s to %s: %s %s", h.method, h.person, status, detail)); err != nil {
				return err
			}
		}
		return nil
	})
}

// NotificationFailed records that a notification was given up: its log
// row says failed and its incident's timeline says why.
func (e *Engine) NotificationFailed(ctx context.Context, key, why string) error {
	return e.store.Write(ctx, func(tx *store.Tx) error {
		var id int64
		var person, method string
		err := tx.QueryRow(`SELECT incident_id, person, method FROM notifications WHERE idempotency_key = ?`, key).Scan(&id, &person, &method)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not a page of the engine's (a lead being told, say)
		}
		if err != nil {
			return fmt.Errorf("find notification: %w", err)
		}
		if _, err := tx.Exec(`UPDATE notifications SET state = 'failed', detail = ?, updated_at = ? WHERE idempotency_key = ?`,
			why, e.clock.Now().UnixMilli(), key); err != nil {
			return fmt.Errorf("record failed notification: %w", err)
		}
		return e.incidents.Record(tx, id, KindUndeliverable, "bot", fmt.Sprintf("%s to %s: %s", method, person, why))
	})
}

// LatestPaged returns the newest still-triggered incident that person was
// notified about.
func (e *Engine) LatestPaged(ctx context.Context, person string) (int64, bool) {
	var id int64
	err := e.store.Read().QueryRowContext(ctx, `SELECT n.incident_id FROM notifications n JOIN incidents i ON i.id = n.incident_id
		WHERE n.person = ? AND i.status = 'triggered' ORDER BY n.id DESC LIMIT 1`, person).Scan(&id)
	return id, err == nil
}

// ErrNotEscalatable refuses a manual escalation, saying why.
type ErrNotEscalatable struct{ Msg string }

func (e *ErrNotEscalatable) Error() string { return e.Msg }

// Escalate jumps an incident's policy to its next step now. An
// acknowledged (or snoozed) incident goes back to triggered first: the
// responder on it asks for help, and the next step must answer with an
// ack of its own, as PagerDuty does.
func (e *Engine) Escalate(ctx context.Context, id int64, actor string) error {
	return e.store.Write(ctx, func(tx *store.Tx) error {
		inc, err := e.incidents.Load(tx, id)
		if err != nil {
			return err
		}
		switch inc.Status {
		case incident.StatusAcknowledged:
			if _, err := timer.Cancel(tx, id, incident.TimerSnooze); err != nil {
				return err
			}
			if err := e.incidents.Retrigger(tx, id); err != nil {
				return err
			}
			if inc, err = e.incidents.Load(tx, id); err != nil {
				return err
			}
		case incident.StatusResolved:
			return &ErrNotEscalatable{fmt.Sprintf("incident %d is resolved", id)}
		}
		var cycle, step int
		err = tx.QueryRow(`SELECT cycle, step FROM escalations WHERE incident_id = ?`, id).Scan(&cycle, &step)
		next := step + 1
		if err != nil {
			// Paging has not started (alert_delay): escalating starts it.
			cycle, next = 0, 0
		}
		if _, err := timer.Cancel(tx, id, TimerEscalate, TimerNotify, incident.TimerPage); err != nil {
			return err
		}
		if err := e.incidents.Record(tx, id, KindEscalated, actor, "to step "+strconv.Itoa(next+1)); err != nil {
			return err
		}
		now := e.clock.Now()
		if next == 0 {
			return e.Start(tx, inc)
		}
		return e.runFrom(tx, inc, cycle, next, now)
	})
}

// Assign gives an incident to person. With page set (someone handing it
// over, not taking it), the assignee is called into the incident's rooms
// and, while the incident is triggered, paged at once by their own
// notification rules. The policy keeps climbing meanwhile: an assignee
// asleep must not stall the escalation; their ack stops both.
func (e *Engine) Assign(ctx context.Context, id int64, actor, person string, page bool) (incident.Incident, error) {
	var after incident.Incident
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		if _, ok := e.dir.Person(person); !ok {
			return &InvalidError{Field: "person", Msg: fmt.Sprintf("there is no person %q", person)}
		}
		inc, err := e.incidents.Load(tx, id)
		if err != nil {
			return err
		}
		switch {
		case inc.Status == incident.StatusResolved:
			return &RefusedError{fmt.Sprintf("incident %d is resolved; reopen it first", id)}
		case inc.Assignee == person:
			return &RefusedError{fmt.Sprintf("incident %d is already assigned to %s", id, person)}
		}
		// Each assignment is its own page, so giving the incident back to
		// someone pages them again; negative steps keep the notification
		// keys apart from the policy's.
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM timeline WHERE incident_id = ? AND kind = ?`, id, incident.KindAssigned).Scan(&n); err != nil {
			return fmt.Errorf("count assignments: %w", err)
		}
		if err := e.incidents.SetAssignee(tx, id, person); err != nil {
			return err
		}
		var paging []string
		if page {
			paging = []string{person}
		}
		if err := e.incidents.RecordPaging(tx, id, incident.KindAssigned, actor, "to "+person, paging); err != nil {
			return err
		}
		if page && inc.Status == incident.StatusTriggered {
			if err := e.armRule(tx, inc, 0, -(n + 1), personWhy{person, "assigned by " + actor}, e.clock.Now()); err != nil {
				return err
			}
		}
		after, err = e.incidents.Load(tx, id)
		return err
	})
	return after, err
}

// IsNotEscalatable reports whether err is a refusal of Escalate.
func IsNotEscalatable(err error) (*ErrNotEscalatable, bool) {
	var ne *ErrNotEscalatable
	return ne, errors.As(err, &ne)
}
