package chat

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/report"
)

// Incidents is what commands do to incidents.
type Incidents interface {
	Acknowledge(ctx context.Context, id int64, actor string) (incident.Incident, error)
	Unacknowledge(ctx context.Context, id int64, actor string) (incident.Incident, error)
	Resolve(ctx context.Context, id int64, actor string) (incident.Incident, error)
	Reopen(ctx context.Context, id int64, actor string) (incident.Incident, error)
	Snooze(ctx context.Context, id int64, actor string, d time.Duration) (incident.Incident, error)
	AddNote(ctx context.Context, id int64, actor, text string) (incident.Incident, error)
	// Tag labels an incident for the handoff report.
	Tag(ctx context.Context, id int64, actor, tag string) (incident.Incident, error)
	Get(ctx context.Context, id int64) (incident.Detail, error)
}

// Triager triages an incident again and returns its summary.
type Triager interface {
	Retriage(ctx context.Context, id int64) (summary string, err error)
}

// Reporter makes a team's handoff report over the range args name.
type Reporter interface {
	HandoffReport(ctx context.Context, team string, args []string) (report.Handoff, error)
}

// Escalator moves an incident's escalation on now.
type Escalator interface {
	Escalate(ctx context.Context, id int64, actor string) error
}

// Assigner gives an incident to a person; page calls them in and pages
// them, for a hand-over (not for someone taking it themselves).
type Assigner interface {
	Assign(ctx context.Context, id int64, actor, person string, page bool) (incident.Incident, error)
}

// Paged lists the triggered incidents that paged a person, oldest first:
// what "ack all" acknowledges.
type Paged interface {
	PagedTriggered(ctx context.Context, person string) ([]int64, error)
}

// Request is one command as an adapter hands it over, already verified.
type Request struct {
	// User is the bot user behind the platform user, "" when the config
	// does not say (a link made with /oncall link may).
	User string
	// PlatformUser is the platform's id of who typed the command. It is
	// "" only in the web console, whose adapter signed User in itself.
	PlatformUser string
	// Platform names where the command came from ("slack", "web"...), for
	// the actor recorded on the timeline.
	Platform string
	// Team is the team of the room the command was typed in, if any.
	Team string
	// Incident is the incident of the room, if it is an incident's room.
	Incident int64
	// Direct is set when the command came from a one-to-one chat with
	// the bot (a DM), not from a group or a channel.
	Direct bool
}

// Reply is what the bot answers; Private replies go to the asker only.
type Reply struct {
	Text    string
	Private bool
	// Incident is set when the command changed one, so the adapter can
	// refresh its cards (every card is refreshed through the outbox too).
	Incident int64
	// Unanswered is set when the bot takes no commands from the asker
	// where they asked (see Answered). Text is then a short refusal
	// for the asker alone: an adapter that could only say it to the whole
	// chat says nothing instead.
	Unanswered bool
	// Image is a picture that goes with Text (the handoff report's
	// chart), which each adapter uploads the way its platform takes
	// files, into the chat where the command was typed; nil for most
	// replies. Text stands on its own: an adapter that cannot show the
	// picture answers Text alone.
	Image *Image
}

// Image is a picture a reply carries.
type Image struct {
	// Name is the file's name, its extension saying its format
	// ("handoff-ops-2026-03-02.png").
	Name string
	Data []byte
	// Alt says in words what the picture shows, for whoever cannot see
	// it (Slack's alt text, the comment of an upload).
	Alt string
}

// Executor runs commands with the rules of who may do what.
type Executor struct {
	Incidents Incidents
	Escalator Escalator
	Assigner  Assigner
	OnCall    *oncall.Service
	// Teams are the teams the executor starts with. Set it before the
	// first command; later, Reload replaces it, since a command may be
	// reading it at any moment.
	Teams []config.Team
	Clock interface{ Now() time.Time }
	// Links resolves and makes /oncall link links; nil disables linking.
	Links *Linker
	// Paged lists what "ack all" acknowledges; nil refuses it.
	Paged Paged
	// Reports makes /oncall report's reports; nil says there are none.
	Reports Reporter
	// Triage runs /oncall triage; nil says triage is off.
	Triage Triager

	// reloaded is the teams Reload put in force, preferred to Teams once
	// set: swapped whole, so a command that loaded it keeps its version.
	reloaded atomic.Pointer[[]config.Team]
}

// Reload puts cfg's teams in force for the commands that start from now:
// who may act on a team's incidents, which team a command names or its
// room implies, who may swap shifts and edit rotations. A command already
// running finishes with the teams it started with. The rest (the
// incidents, the on-call service, links, the clock) is kept: those
// follow a reload themselves.
func (e *Executor) Reload(cfg *config.Config) {
	teams := slices.Clone(cfg.Teams)
	e.reloaded.Store(&teams)
}

// teams is the version of the teams one command runs with, loaded once
// so that every check of the command answers from the same one.
func (e *Executor) teams() teamList {
	if t := e.reloaded.Load(); t != nil {
		return *t
	}
	return e.Teams
}

// teamList is the teams of one configuration.
type teamList []config.Team

// named finds a team by name.
func (ts teamList) named(name string) (config.Team, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return config.Team{}, false
}

// of lists the teams a user belongs to, as member or lead.
func (ts teamList) of(user string) []config.Team {
	var out []config.Team
	for _, t := range ts {
		if slices.Contains(t.Members, user) || slices.Contains(t.Leads, user) {
			out = append(out, t)
		}
	}
	return out
}

func private(format string, a ...any) Reply {
	return Reply{Text: fmt.Sprintf(format, a...), Private: true}
}

// unanswered is the one refusal of a command from where the bot does not
// listen. It names no team, room or person, and tells a newcomer where
// linking works.
const unanswered = "This bot answers only in its team rooms and to people it knows. To link your account, run /oncall link <your name in the bot> in your team's room."

// Answered is the rule of where the bot takes commands from a platform
// user: in the chats the config names (a team's room) or the bot opened
// (an incident's room), and in a DM with a person it knows (from the
// config, or linked). Anywhere else (a stranger's DM, a group the bot was
// added to) a command is not run, so the schedule, who is on call and
// people's names stay inside the teams; a newcomer links from a team's
// room. req.User must already be resolved through links. The console
// (no PlatformUser) signs its people in itself.
func Answered(req Request) bool {
	switch {
	case req.Team != "" || req.Incident != 0:
		return true
	case req.PlatformUser == "":
		return req.User != ""
	default:
		return req.Direct && req.User != ""
	}
}

// Run parses and executes one command line. Where the bot does not take
// commands from the asker (Answered), it runs nothing and answers with an
// Unanswered refusal, whatever the line.
func (e *Executor) Run(ctx context.Context, req Request, line string) Reply {
	if req.User == "" {
		req.User, _ = e.Links.Person(ctx, req.Platform, req.PlatformUser)
	}
	if !Answered(req) {
		return Reply{Text: unanswered, Private: true, Unanswered: true}
	}
	c, err := Parse(line)
	if err != nil {
		return private("%v", err)
	}
	ts := e.teams()
	switch c.Verb {
	case VerbHelp:
		return private("%s", Help())
	case VerbWho:
		return e.who(ts, req, c)
	case VerbSchedule:
		return e.schedule(ts, req, c)
	case VerbLink:
		return e.link(ctx, req, c)
	case VerbReport:
		return e.report(ctx, ts, req, c)
	}
	if req.User == "" {
		return private("I don't know who you are on %s. Run /oncall link <your name in the bot>: I will send you a code to prove it; or ask a lead to add your %s ID to your entry in the bot's config.", req.Platform, req.Platform)
	}
	actor := req.Platform + ":" + req.User
	switch c.Verb {
	case VerbAck, VerbUnack, VerbResolve, VerbReopen, VerbEscalate, VerbSnooze, VerbNote, VerbAssign, VerbTag, VerbTriage:
		if c.All {
			return e.ackAll(ctx, ts, req, actor)
		}
		return e.incidentCommand(ctx, ts, req, c, actor)
	case VerbRotation, VerbOverride:
		return e.leadCommand(ctx, ts, req, c, actor)
	default: // swap, cover, accept, take
		return e.shiftCommand(ctx, ts, req, c)
	}
}

func (e *Executor) link(ctx context.Context, req Request, c Command) Reply {
	if e.Links == nil || req.PlatformUser == "" {
		return private("Linking is not available here; ask a lead to add your %s ID to your entry in the bot's config.", req.Platform)
	}
	person := strings.TrimPrefix(c.Args[0], "@")
	if len(c.Args) == 1 {
		method, err := e.Links.Start(ctx, req.Platform, req.PlatformUser, person)
		if err != nil {
			return e.linkRefusal(req, err)
		}
		return private("I sent a code to %s by %s. Finish here with: /oncall link %s <code>", person, method, person)
	}
	if err := e.Links.Finish(ctx, req.Platform, req.PlatformUser, person, c.Args[1]); err != nil {
		return e.linkRefusal(req, err)
	}
	return private("Linked: on %s you are %s.", req.Platform, person)
}

// linkRefusal words a failed link step: the Linker's refusal as it is,
// anything else (the database) generic, and logged since nobody else
// will see it.
func (e *Executor) linkRefusal(req Request, err error) Reply {
	var r *linkRefusal
	if errors.As(err, &r) {
		return private("%s.", capitalize(r.msg))
	}
	e.Links.log().Error("link", "platform", req.Platform, "platform_user", req.PlatformUser, "err", err)
	return private("Linking did not work; try again.")
}

// capitalize starts a sentence made of a refusal.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// refusal words a domain error for the asker; anything unexpected stays
// generic (and is the adapter's to log).
func refusal(err error) string {
	var conflict *incident.ConflictError
	var refused *oncall.RefusedError
	var invalid *oncall.InvalidError
	switch {
	case errors.Is(err, incident.ErrNotFound):
		return "there is no such incident"
	case errors.As(err, &conflict):
		return conflict.Msg
	case errors.As(err, &refused):
		return refused.Msg
	case errors.As(err, &invalid):
		return invalid.Msg
	case errors.Is(err, oncall.ErrUnknown):
		return err.Error()
	}
	if ne, ok := oncall.IsNotEscalatable(err); ok {
		return ne.Msg
	}
	return "that did not work; try again"
}

var pastTense = map[Verb]string{VerbAck: "acknowledged", VerbUnack: "unacknowledged", VerbResolve: "resolved",
	VerbReopen: "reopened", VerbEscalate: "escalated", VerbSnooze: "snoozed", VerbNote: "noted", VerbAssign: "assigned"}

func (e *Executor) incidentCommand(ctx context.Context, ts teamList, req Request, c Command, actor string) Reply {
	id := c.Incident
	if id == 0 {
		id = req.Incident
	}
	if id == 0 {
		return private("Which incident? Name it (%s #42), or use the command in the incident's room.", c.Verb)
	}
	d, err := e.Incidents.Get(ctx, id)
	if err != nil {
		return private("Incident #%d: %s.", id, refusal(err))
	}
	if !MayAct(ts, d.Team, req.User) {
		return private("Only members of team %s may %s incident #%d; you are not one.", d.Team, c.Verb, id)
	}
	var assignee string
	switch c.Verb {
	case VerbAssign:
		var msg string
		if assignee, msg = e.resolvePerson(ctx, req, c.Person); msg != "" {
			return private("%s", msg)
		}
		_, err = e.Assigner.Assign(ctx, id, actor, assignee, assignee != req.User)
	case VerbAck:
		_, err = e.Incidents.Acknowledge(ctx, id, actor)
	case VerbUnack:
		_, err = e.Incidents.Unacknowledge(ctx, id, actor)
	case VerbResolve:
		_, err = e.Incidents.Resolve(ctx, id, actor)
	case VerbReopen:
		_, err = e.Incidents.Reopen(ctx, id, actor)
	case VerbEscalate:
		err = e.Escalator.Escalate(ctx, id, actor)
	case VerbSnooze:
		_, err = e.Incidents.Snooze(ctx, id, actor, c.Duration)
	case VerbNote:
		_, err = e.Incidents.AddNote(ctx, id, actor, c.Text)
	case VerbTag:
		_, err = e.Incidents.Tag(ctx, id, actor, c.Text)
	case VerbTriage:
		if e.Triage == nil {
			return private("Triage is not configured here (a triage section in the bot's configuration turns it on).")
		}
		summary, terr := e.Triage.Retriage(ctx, id)
		if terr != nil {
			return private("Incident #%d: the triage did not run; try again.", id)
		}
		return Reply{Text: "Triage of #" + strconv.FormatInt(id, 10) + ": " + summary, Incident: id}
	}
	if err != nil {
		return private("Incident #%d: %s.", id, refusal(err))
	}
	text := fmt.Sprintf("Incident #%d %s by %s.", id, pastTense[c.Verb], req.User)
	switch {
	case c.Verb == VerbTag:
		text = fmt.Sprintf("Incident #%d tagged %s by %s, for the handoff report.", id, c.Text, req.User)
	case c.Verb == VerbSnooze:
		text = fmt.Sprintf("Incident #%d snoozed by %s for %s; paging starts again then unless it is resolved.", id, req.User, c.Duration)
	case c.Verb == VerbAssign && assignee == req.User:
		text = fmt.Sprintf("%s took incident #%d.", req.User, id)
	case c.Verb == VerbAssign && d.Status == incident.StatusTriggered:
		text = fmt.Sprintf("Incident #%d assigned to %s by %s; %s is being paged.", id, assignee, req.User, assignee)
	case c.Verb == VerbAssign:
		text = fmt.Sprintf("Incident #%d assigned to %s by %s.", id, assignee, req.User)
	}
	return Reply{Text: text, Incident: id}
}

// MayAct is the rule of who may act on an incident of team: its members
// and its leads. Every way in (chat, the console, a phone) applies it.
func MayAct(teams []config.Team, team, user string) bool {
	if user == "" {
		return false
	}
	for _, t := range teams {
		if t.Name == team {
			return slices.Contains(t.Members, user) || slices.Contains(t.Leads, user)
		}
	}
	return false
}

// ackAllWorkers bounds the acknowledgements ack all runs at once. They
// share the store's group commits, so a storm's hundreds are done within
// the few seconds a platform gives a button press for its answer.
const ackAllWorkers = 16

// ackAllListed bounds the incident numbers a reply to ack all lists per
// line; the rest are counted (Telegram shows a button's answer in 200
// characters).
const ackAllListed = 10

// ackAll acknowledges every triggered incident that paged the asker, each
// under the rules of a single ack (members and leads of its team only),
// and answers with the count and the refusals, grouped by reason.
func (e *Executor) ackAll(ctx context.Context, ts teamList, req Request, actor string) Reply {
	if e.Paged == nil {
		return private("ack all is not available here; name the incident: /oncall ack #42.")
	}
	ids, err := e.Paged.PagedTriggered(ctx, req.User)
	if err != nil {
		return private("Could not find the incidents paging you: %s.", refusal(err))
	}
	if len(ids) == 0 {
		return private("No triggered incident is paging you: nothing to acknowledge.")
	}
	// why[i] is "" when ids[i] was acknowledged, else the refusal.
	why := make([]string, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, ackAllWorkers)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := e.Incidents.Get(ctx, id)
			switch {
			case err != nil:
				why[i] = refusal(err)
			case !MayAct(ts, d.Team, req.User):
				why[i] = fmt.Sprintf("only members of team %s may", d.Team)
			default:
				if _, err := e.Incidents.Acknowledge(ctx, id, actor); err != nil {
					why[i] = refusal(err)
				}
			}
		}()
	}
	wg.Wait()
	var acked []int64
	var reasons []string
	refused := map[string][]int64{}
	for i, id := range ids {
		if why[i] == "" {
			acked = append(acked, id)
			continue
		}
		if refused[why[i]] == nil {
			reasons = append(reasons, why[i])
		}
		refused[why[i]] = append(refused[why[i]], id)
	}
	var b strings.Builder
	switch len(acked) {
	case 0:
		b.WriteString("Acknowledged none of the incidents paging you.")
	case 1:
		fmt.Fprintf(&b, "Acknowledged 1 incident: %s.", idList(acked))
	default:
		fmt.Fprintf(&b, "Acknowledged %d incidents: %s.", len(acked), idList(acked))
	}
	for _, r := range reasons {
		fmt.Fprintf(&b, "\nNot acknowledged, %s: %s.", r, idList(refused[r]))
	}
	return private("%s", b.String())
}

// idList writes incident numbers as "#3, #4 and 5 more".
func idList(ids []int64) string {
	var parts []string
	for _, id := range ids[:min(len(ids), ackAllListed)] {
		parts = append(parts, "#"+strconv.FormatInt(id, 10))
	}
	s := strings.Join(parts, ", ")
	if rest := len(ids) - ackAllListed; rest > 0 {
		s += fmt.Sprintf(" and %d more", rest)
	}
	return s
}

// mention matches a platform's mention of a user: Slack's <@U123> or
// <@U123|name>, Discord's <@123> or <@!123>.
var mention = regexp.MustCompile(`^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$`)

// resolvePerson finds the bot's person a command names: "me", a name
// (with or without @), or a mention of a platform account known from the
// config or a link. When it cannot, the message says why.
func (e *Executor) resolvePerson(ctx context.Context, req Request, who string) (string, string) {
	if strings.EqualFold(who, "me") {
		return req.User, ""
	}
	if m := mention.FindStringSubmatch(who); m != nil {
		for _, p := range e.OnCall.People() {
			if PlatformID(p, req.Platform) == m[1] {
				return p.Name, ""
			}
		}
		if p, ok := e.Links.Person(ctx, req.Platform, m[1]); ok {
			return p, ""
		}
		return "", fmt.Sprintf("I don't know who %s is in the bot: they can run /oncall link, or use their name.", who)
	}
	name := strings.TrimPrefix(who, "@")
	if _, ok := e.OnCall.Person(name); !ok {
		return "", fmt.Sprintf("There is no person %q in the bot.", name)
	}
	return name, ""
}

// teamFor picks the team a command is about: the one named, the room's,
// or the asker's only team.
func (e *Executor) teamFor(ts teamList, req Request, named string) (config.Team, string) {
	for _, n := range []string{named, req.Team} {
		if n == "" {
			continue
		}
		if t, ok := ts.named(n); ok {
			return t, ""
		}
		return config.Team{}, fmt.Sprintf("There is no team %q.", n)
	}
	mine := ts.of(req.User)
	switch len(mine) {
	case 1:
		return mine[0], ""
	case 0:
		var names []string
		for _, t := range ts {
			names = append(names, t.Name)
		}
		return config.Team{}, "Which team? One of: " + strings.Join(names, ", ") + "."
	}
	var names []string
	for _, t := range mine {
		names = append(names, t.Name)
	}
	return config.Team{}, "Which team? You are in " + strings.Join(names, ", ") + "."
}

// when formats an instant in the schedule's zone.
func when(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 2 Jan 15:04 MST") }

func (e *Executor) who(ts teamList, req Request, c Command) Reply {
	t, msg := e.teamFor(ts, req, c.Team)
	if msg != "" {
		return private("%s", msg)
	}
	oc, err := e.OnCall.TeamOnCall(t.Name, 3)
	if err != nil {
		return private("%s", refusal(err))
	}
	sc, ok := e.OnCall.Schedule(oc.Schedule)
	if !ok {
		return Reply{Text: fmt.Sprintf("Team %s has no schedule: nobody is on call.", t.Name)}
	}
	var b strings.Builder
	if len(oc.Users) == 0 {
		fmt.Fprintf(&b, "Nobody is on call for %s right now", t.Name)
	} else {
		fmt.Fprintf(&b, "On call for %s: %s", t.Name, strings.Join(oc.Users, ", "))
	}
	if !oc.Until.IsZero() {
		fmt.Fprintf(&b, " (until %s)", when(oc.Until, sc.Zone))
	}
	b.WriteString(".")
	for _, n := range oc.Next {
		who := strings.Join(n.Users, ", ")
		if who == "" {
			who = "nobody (a gap)"
		}
		fmt.Fprintf(&b, "\nNext: %s from %s", who, when(n.Start, sc.Zone))
	}
	return Reply{Text: b.String()}
}

func (e *Executor) schedule(ts teamList, req Request, c Command) Reply {
	t, msg := e.teamFor(ts, req, c.Team)
	if msg != "" {
		return private("%s", msg)
	}
	sc, ok := e.OnCall.Schedule(t.Schedule)
	if !ok {
		return private("Team %s has no schedule.", t.Name)
	}
	now := e.Clock.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "Schedule %s, the next %d days (%s):", sc.Name, int(c.Duration.Hours()/24), sc.Zone)
	for _, seg := range sc.Final(now, now.Add(c.Duration)) {
		who := strings.Join(seg.Users, ", ")
		if who == "" {
			who = "NOBODY (gap)"
		}
		fmt.Fprintf(&b, "\n%s - %s  %s", when(seg.Start, sc.Zone), when(seg.End, sc.Zone), who)
	}
	return Reply{Text: b.String()}
}

// localTime reads "2026-03-07T10:00" in the asker's zone, else the
// schedule's.
func (e *Executor) localTime(s, user string, fallback *time.Location) (time.Time, error) {
	loc := fallback
	if p, ok := e.OnCall.Person(user); ok && p.TimeZone != "" {
		if l, err := time.LoadLocation(p.TimeZone); err == nil {
			loc = l
		}
	}
	w, err := oncall.ParseWall(s)
	if err != nil {
		return time.Time{}, err
	}
	first, _ := oncall.Resolve(w, loc)
	return first, nil
}

func (e *Executor) shiftCommand(ctx context.Context, ts teamList, req Request, c Command) Reply {
	t, msg := e.teamFor(ts, req, "")
	if msg != "" {
		return private("%s", msg)
	}
	if !slices.Contains(t.Members, req.User) && !slices.Contains(t.Leads, req.User) {
		return private("Only members of team %s may %s its shifts.", t.Name, c.Verb)
	}
	sc, ok := e.OnCall.Schedule(t.Schedule)
	if !ok {
		return private("Team %s has no schedule.", t.Name)
	}
	now := e.Clock.Now()
	switch c.Verb {
	case VerbTake:
		o, err := e.OnCall.TakeShift(ctx, sc.Name, req.User)
		if err != nil {
			return private("%s.", refusal(err))
		}
		return Reply{Text: fmt.Sprintf("%s took the %s shift until %s.", req.User, t.Name, when(o.End, sc.Zone))}
	case VerbAccept:
		id, _ := strconv.ParseInt(strings.TrimPrefix(c.Args[0], "#"), 10, 64)
		sw, err := e.OnCall.AcceptSwap(ctx, sc.Name, id, req.User)
		if err != nil {
			return private("Swap %d: %s.", id, refusal(err))
		}
		return Reply{Text: fmt.Sprintf("%s covers %s from %s to %s (swap %d).", req.User, sw.Requester,
			when(sw.Start, sc.Zone), when(sw.End, sc.Zone), sw.ID)}
	}
	var start, end time.Time
	if c.Verb == VerbSwap {
		var err error
		if start, err = e.localTime(c.Args[0], req.User, sc.Zone); err != nil {
			return private("%v. Usage: /oncall %s", err, usages[VerbSwap])
		}
		if end, err = e.localTime(c.Args[1], req.User, sc.Zone); err != nil {
			return private("%v. Usage: /oncall %s", err, usages[VerbSwap])
		}
	} else { // cover: from now, for the duration or the rest of the shift
		start, end = now, now.Add(c.Duration)
		if c.Duration == 0 {
			for _, seg := range sc.NextShifts(req.User, now, 35*24*time.Hour, 1) {
				if !seg.Start.After(now) {
					end = seg.End
				}
			}
			if !end.After(start) {
				return private("You are not on call now; use /oncall %s for a later shift.", usages[VerbSwap])
			}
		}
	}
	sw, err := e.OnCall.RequestSwap(ctx, sc.Name, req.User, start, end, "")
	if err != nil {
		return private("%s.", refusal(err))
	}
	return Reply{Text: fmt.Sprintf("%s asks for cover from %s to %s. Teammates: /oncall accept %d",
		req.User, when(sw.Start, sc.Zone), when(sw.End, sc.Zone), sw.ID)}
}

func (e *Executor) leadCommand(ctx context.Context, ts teamList, req Request, c Command, actor string) Reply {
	t, msg := e.teamFor(ts, req, "")
	if msg != "" {
		return private("%s", msg)
	}
	if !slices.Contains(t.Leads, req.User) {
		return private("Only the leads of team %s (%s) may change its rotation.", t.Name, strings.Join(t.Leads, ", "))
	}
	sc, ok := e.OnCall.Schedule(t.Schedule)
	if !ok {
		return private("Team %s has no schedule.", t.Name)
	}
	if c.Verb == VerbOverride {
		start, err := e.localTime(c.Args[0], req.User, sc.Zone)
		if err != nil {
			return private("%v. Usage: /oncall %s", err, usages[VerbOverride])
		}
		end, err := e.localTime(c.Args[1], req.User, sc.Zone)
		if err != nil {
			return private("%v. Usage: /oncall %s", err, usages[VerbOverride])
		}
		n := oncall.NewOverride{Kind: oncall.Replace, User: c.Person, Start: start, End: end}
		if len(c.Args) == 3 {
			n.Replaces = strings.TrimPrefix(c.Args[2], "@")
		}
		if _, err := e.OnCall.AddOverride(ctx, sc.Name, n, actor); err != nil {
			return private("%s.", refusal(err))
		}
		return e.handoffsReply(sc, fmt.Sprintf("Override made: %s on call from %s to %s.", c.Person, when(start, sc.Zone), when(end, sc.Zone)))
	}
	// The team's rotation is its schedule's first layer that is not
	// imported from a calendar.
	layer := ""
	for _, l := range sc.Layers {
		if l.Shifts == nil {
			layer = l.Name
			break
		}
	}
	if layer == "" {
		return private("Schedule %s has no rotation to edit.", sc.Name)
	}
	change := oncall.LayerChange{}
	switch c.Op {
	case "add":
		change.Add = c.Person
		if len(c.Args) == 1 {
			change.Position, _ = strconv.Atoi(c.Args[0])
		}
	case "remove":
		change.Remove = c.Person
	case "order":
		change.Order = c.Args
	case "handoff":
		h, err := oncall.ParseClock(c.Args[0])
		if err != nil {
			return private("%v.", err)
		}
		change.Handoff = &h
	}
	if _, err := e.OnCall.EditLayer(ctx, sc.Name, layer, change, actor); err != nil {
		return private("%s.", refusal(err))
	}
	sc, _ = e.OnCall.Schedule(sc.Name)
	return e.handoffsReply(sc, fmt.Sprintf("Rotation %s changed (%s).", layer, change))
}

// handoffsReply answers a change with the schedule's next handoffs, so the
// lead sees what it did.
func (e *Executor) handoffsReply(sc *oncall.Schedule, head string) Reply {
	var b strings.Builder
	b.WriteString(head)
	for _, h := range sc.Handoffs(e.Clock.Now(), 35*24*time.Hour, 5) {
		who := strings.Join(h.Users, ", ")
		if who == "" {
			who = "nobody (a gap)"
		}
		fmt.Fprintf(&b, "\nNext: %s from %s", who, when(h.Start, sc.Zone))
	}
	return Reply{Text: b.String()}
}

// report answers /oncall report with the short card: the five figures
// that matter, each against the range before.
func (e *Executor) report(ctx context.Context, ts teamList, req Request, c Command) Reply {
	if e.Reports == nil {
		return private("Reports are not available here.")
	}
	t, msg := e.teamFor(ts, req, c.Team)
	if msg != "" {
		return private("%s", msg)
	}
	h, err := e.Reports.HandoffReport(ctx, t.Name, c.Args)
	if errors.Is(err, report.ErrBadRange) {
		return private("%s. Usage: /oncall %s", capitalize(err.Error()), usages[VerbReport])
	}
	if err != nil {
		return private("The report could not be made; try again.")
	}
	// The card stands alone: a chart that cannot be drawn leaves it as it
	// is, with no word about a picture nobody asked for by name.
	return Reply{Text: h.Card(), Image: ReportImage(t.Name, h)}
}

// ReportImage is the handoff report's chart as the picture its card
// carries, nil when it cannot be drawn.
func ReportImage(team string, h report.Handoff) *Image {
	png, err := chartPNG(h.Report)
	if err != nil {
		return nil
	}
	loc := h.Range.From.Location()
	return &Image{
		Name: fmt.Sprintf("handoff-%s-%s.png", team, h.Range.From.In(loc).Format("2006-01-02")),
		Data: png,
		Alt: fmt.Sprintf("Interruptions per day for %s, %s to %s, stacked by business, off and sleep hours",
			team, h.Range.From.In(loc).Format("Mon 2 Jan"), h.Range.To.In(loc).Format("Mon 2 Jan")),
	}
}

// The report card's chart is 800 by 400 pixels: a day's bar and label
// stay readable over a month, and at 2:1 chat clients show it inline
// whole.
const chartWidth, chartHeight = 800, 400

// chartPNG draws the card's chart. It is a variable so that a test can
// make it fail, which a real report does not.
var chartPNG = func(r report.Report) ([]byte, error) { return r.Chart(report.PNG, chartWidth, chartHeight) }
