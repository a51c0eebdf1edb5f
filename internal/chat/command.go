// Package chat is the platform-neutral side of the bot's chat: one command
// grammar for every platform (Slack slash command, Telegram command,
// Discord application command, the web console's box), the rules of who
// may do what, and the execution of a command against the incident and
// on-call domains. Platform adapters translate to and from it; none of
// their quirks reach this package.
package chat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Verb names a command.
type Verb string

// The commands.
const (
	VerbAck      Verb = "ack"
	VerbUnack    Verb = "unack"
	VerbResolve  Verb = "resolve"
	VerbReopen   Verb = "reopen"
	VerbEscalate Verb = "escalate"
	VerbSnooze   Verb = "snooze"
	VerbNote     Verb = "note"
	VerbAssign   Verb = "assign"
	VerbWho      Verb = "who"
	VerbSchedule Verb = "schedule"
	VerbSwap     Verb = "swap"
	VerbCover    Verb = "cover"
	VerbAccept   Verb = "accept"
	VerbTake     Verb = "take"
	VerbRotation Verb = "rotation"
	VerbOverride Verb = "override"
	VerbLink     Verb = "link"
	VerbReport   Verb = "report"
	VerbTag      Verb = "tag"
	VerbTriage   Verb = "triage"
	VerbHelp     Verb = "help"
)

// Tags are the labels a responder puts on an incident, for the handoff
// report: it was worth waking for, it was noise, or its alert needs
// tuning.
var Tags = []string{"actionable", "noise", "needs-tuning"}

// Command is a parsed command line.
type Command struct {
	Verb Verb
	// Incident is the incident named (#42 or 42), or 0 when the room
	// implies it.
	Incident int64
	// All is "ack all": every triggered incident that paged the asker,
	// wherever it is typed (a digest's button runs it).
	All bool
	// Duration is snooze's length, cover's, or schedule's days.
	Duration time.Duration
	// Team is who's and schedule's team, when named.
	Team string
	// Text is note's text.
	Text string
	// Person is the subject of rotation, override and assign commands;
	// assign keeps it as typed (a name, "me", or a platform mention such
	// as <@U123>) for the executor to resolve.
	Person string
	// Op is the rotation operation: add, remove, order, handoff.
	Op string
	// Args holds the rest: rotation order's names, swap's and override's
	// times, accept's swap id, link's name.
	Args []string
}

// ParseError is a command line that does not parse; Usage says how.
type ParseError struct{ Msg, Usage string }

func (e *ParseError) Error() string {
	if e.Usage == "" {
		return e.Msg
	}
	return e.Msg + ". Usage: " + e.Usage
}

var usages = map[Verb]string{
	VerbAck:      "ack [#incident] | ack all   (all: every triggered incident paging you)",
	VerbUnack:    "unack [#incident]",
	VerbResolve:  "resolve [#incident]",
	VerbReopen:   "reopen [#incident]",
	VerbEscalate: "escalate [#incident]",
	VerbSnooze:   "snooze <30m|2h|1d> [#incident]",
	VerbNote:     "note [#incident] <text>",
	VerbAssign:   "assign <@who|me> [#incident]",
	VerbWho:      "who [team]",
	VerbSchedule: "schedule [team] [days]",
	VerbSwap:     "swap <from> <to>   (times as 2026-03-07T10:00, in your time zone)",
	VerbCover:    "cover [duration]   (ask cover from now; default: the rest of your shift)",
	VerbAccept:   "accept <swap number>",
	VerbTake:     "take   (take the current shift yourself)",
	VerbRotation: "rotation add <person> [position] | rotation remove <person> | rotation order <a,b,c> | rotation handoff <09:00>",
	VerbOverride: "override <person> <from> <to> [instead-of-person]",
	VerbLink:     "link <your name in the bot> [code]",
	VerbReport:   "report [team] [last|this|2026-W48|2026-11-23 2026-11-30]",
	VerbTag:      "tag <actionable|noise|needs-tuning> [#incident]",
	VerbTriage:   "triage [#incident]   (dig again: similar incidents, links, what changed)",
	VerbHelp:     "help",
}

var aliases = map[string]Verb{
	"ack": VerbAck, "acknowledge": VerbAck, "unack": VerbUnack, "unacknowledge": VerbUnack,
	"resolve": VerbResolve, "reopen": VerbReopen, "escalate": VerbEscalate, "esc": VerbEscalate,
	"snooze": VerbSnooze, "note": VerbNote, "assign": VerbAssign, "reassign": VerbAssign, "who": VerbWho, "oncall": VerbWho, "schedule": VerbSchedule,
	"swap": VerbSwap, "cover": VerbCover, "accept": VerbAccept, "take": VerbTake,
	"rotation": VerbRotation, "override": VerbOverride, "link": VerbLink, "help": VerbHelp, "?": VerbHelp,
	"report": VerbReport, "tag": VerbTag, "label": VerbTag, "triage": VerbTriage,
}

// Help is the text of the help command.
func Help() string {
	order := []Verb{VerbAck, VerbUnack, VerbResolve, VerbReopen, VerbEscalate, VerbSnooze, VerbNote, VerbAssign,
		VerbWho, VerbSchedule, VerbSwap, VerbCover, VerbAccept, VerbTake, VerbRotation, VerbOverride, VerbLink, VerbReport, VerbTag, VerbTriage, VerbHelp}
	var b strings.Builder
	b.WriteString("Commands (in an incident's room the incident is implied):\n")
	for _, v := range order {
		b.WriteString("  /oncall " + usages[v] + "\n")
	}
	return b.String()
}

// incidentArg reads "#42" or "42".
func incidentArg(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	return n, err == nil && n > 0
}

// ParseDuration reads Go durations plus days ("1d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	if d, rest, ok := strings.Cut(s, "d"); ok {
		days, err := strconv.Atoi(d)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a duration like 30m, 2h or 1d", s)
		}
		extra := time.Duration(0)
		if rest != "" {
			if extra, err = time.ParseDuration(rest); err != nil {
				return 0, fmt.Errorf("%q is not a duration like 30m, 2h or 1d", s)
			}
		}
		return time.Duration(days)*24*time.Hour + extra, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30m, 2h or 1d", s)
	}
	return d, nil
}

// Parse reads a command line: "/oncall ack #42", "ack", "snooze 30m",
// "note the disk is full". A leading "/oncall" (or "/oncall@botname", as
// Telegram groups send it) is optional.
func Parse(line string) (Command, error) {
	fields := strings.FieldsFunc(line, unicode.IsSpace)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "/") {
		name, _, _ := strings.Cut(strings.TrimPrefix(fields[0], "/"), "@")
		if name == "oncall" {
			fields = fields[1:]
		} else {
			fields[0] = name // "/ack" on platforms with one command per verb
		}
	}
	if len(fields) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	verb, ok := aliases[strings.ToLower(fields[0])]
	if !ok {
		return Command{}, &ParseError{Msg: fmt.Sprintf("unknown command %q; try /oncall help", fields[0])}
	}
	c := Command{Verb: verb}
	args := fields[1:]
	bad := func(format string, a ...any) (Command, error) {
		return Command{}, &ParseError{Msg: fmt.Sprintf(format, a...), Usage: "/oncall " + usages[verb]}
	}
	switch verb {
	case VerbAck, VerbUnack, VerbResolve, VerbReopen, VerbEscalate, VerbTriage:
		switch len(args) {
		case 0:
		case 1:
			if verb == VerbAck && strings.EqualFold(args[0], "all") {
				c.All = true
				break
			}
			if c.Incident, ok = incidentArg(args[0]); !ok {
				return bad("%q is not an incident number", args[0])
			}
		default:
			return bad("too many words")
		}
	case VerbSnooze:
		if len(args) == 0 || len(args) > 2 {
			return bad("say for how long")
		}
		d, err := ParseDuration(args[0])
		if err != nil {
			return bad("%v", err)
		}
		c.Duration = d
		if len(args) == 2 {
			if c.Incident, ok = incidentArg(args[1]); !ok {
				return bad("%q is not an incident number", args[1])
			}
		}
	case VerbNote:
		if len(args) > 0 && strings.HasPrefix(args[0], "#") {
			if c.Incident, ok = incidentArg(args[0]); !ok {
				return bad("%q is not an incident number", args[0])
			}
			args = args[1:]
		}
		if len(args) == 0 {
			return bad("a note needs some text")
		}
		c.Text = strings.Join(args, " ")
	case VerbAssign:
		for _, a := range args {
			if strings.HasPrefix(a, "#") {
				if c.Incident != 0 {
					return bad("name one incident")
				}
				if c.Incident, ok = incidentArg(a); !ok {
					return bad("%q is not an incident number", a)
				}
				continue
			}
			if c.Person != "" {
				return bad("assign to one person")
			}
			c.Person = a
		}
		if c.Person == "" {
			return bad("say who to assign it to")
		}
	case VerbWho:
		if len(args) > 1 {
			return bad("too many words")
		}
		if len(args) == 1 {
			c.Team = args[0]
		}
	case VerbSchedule:
		c.Duration = 7 * 24 * time.Hour
		for _, a := range args {
			if n, err := strconv.Atoi(a); err == nil {
				if n < 1 || n > 62 {
					return bad("show 1 to 62 days, not %d", n)
				}
				c.Duration = time.Duration(n) * 24 * time.Hour
			} else if c.Team == "" {
				c.Team = a
			} else {
				return bad("too many words")
			}
		}
	case VerbSwap:
		if len(args) != 2 {
			return bad("give the start and the end of the range to cover")
		}
		c.Args = args
	case VerbCover:
		if len(args) > 1 {
			return bad("too many words")
		}
		if len(args) == 1 {
			d, err := ParseDuration(args[0])
			if err != nil {
				return bad("%v", err)
			}
			c.Duration = d
		}
	case VerbAccept:
		if len(args) != 1 {
			return bad("name the swap to accept")
		}
		if _, ok := incidentArg(args[0]); !ok {
			return bad("%q is not a swap number", args[0])
		}
		c.Args = args
	case VerbTake, VerbHelp:
		if len(args) > 0 {
			return bad("%s takes no arguments", verb)
		}
	case VerbRotation:
		if len(args) < 2 {
			return bad("say what to change")
		}
		c.Op = strings.ToLower(args[0])
		switch c.Op {
		case "add":
			if len(args) > 3 {
				return bad("too many words")
			}
			c.Person = strings.TrimPrefix(args[1], "@")
			if len(args) == 3 {
				if _, err := strconv.Atoi(args[2]); err != nil {
					return bad("position %q is not a number", args[2])
				}
				c.Args = args[2:]
			}
		case "remove":
			if len(args) != 2 {
				return bad("name one person to remove")
			}
			c.Person = strings.TrimPrefix(args[1], "@")
		case "order":
			for _, a := range args[1:] {
				for _, n := range strings.Split(a, ",") {
					if n = strings.TrimPrefix(strings.TrimSpace(n), "@"); n != "" {
						c.Args = append(c.Args, n)
					}
				}
			}
		case "handoff":
			if len(args) != 2 {
				return bad("give the new handoff time, like 09:00")
			}
			c.Args = args[1:]
		default:
			return bad("%q is not add, remove, order or handoff", c.Op)
		}
	case VerbOverride:
		if len(args) != 3 && len(args) != 4 {
			return bad("give the person, the start and the end")
		}
		c.Person = strings.TrimPrefix(args[0], "@")
		c.Args = args[1:]
	case VerbLink:
		if len(args) != 1 && len(args) != 2 {
			return bad("give your name in the bot, then the code you were sent")
		}
		c.Args = args
	case VerbReport:
		if len(args) > 0 && !rangeWord(args[0]) {
			c.Team, args = args[0], args[1:]
		}
		if len(args) > 2 {
			return bad("too many words")
		}
		if len(args) > 0 {
			c.Args = args
		}
	case VerbTag:
		for _, a := range args {
			if strings.HasPrefix(a, "#") {
				if c.Incident, ok = incidentArg(a); !ok {
					return bad("%q is not an incident number", a)
				}
				continue
			}
			if c.Text != "" {
				return bad("one tag at a time")
			}
			c.Text = strings.ToLower(a)
		}
		if !slices.Contains(Tags, c.Text) {
			return bad("tag it %s", strings.Join(Tags, ", "))
		}
	}
	return c, nil
}

// rangeWord reports whether a report argument names a range (last, this,
// an ISO week or a date) rather than a team.
func rangeWord(s string) bool {
	if s == "last" || s == "this" {
		return true
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return true
	}
	return len(s) == 8 && s[4:6] == "-W"
}
