package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/oncallbot/bot/internal/oncall"
)

// Action is what an apply does to an object.
type Action string

// The actions of a plan. Obsolete and Drift change nothing: an obsolete
// object (applied before, in no file now) is deleted only with Prune, and
// drift (changed at run time since the last apply, such as a rotation
// edited from chat) is kept unless OverwriteDrift.
const (
	Create   Action = "create"
	Update   Action = "update"
	Delete   Action = "delete"
	Obsolete Action = "obsolete"
	Drift    Action = "drift"
)

// Change is one object's line of a plan.
type Change struct {
	Key
	Action Action `json:"action"`
	// Source is where the files define the object.
	Source string `json:"source,omitempty"`
	// Fields are what an update changes (desired against applied).
	Fields []FieldChange `json:"fields,omitempty"`
	// Drift is what changed at run time (live against applied); the
	// apply keeps it unless told to overwrite it.
	Drift []FieldChange `json:"drift,omitempty"`
	// KeepDrift says the apply leaves the drift in force.
	KeepDrift bool `json:"keep_drift,omitempty"`
}

// Plan is what an apply would do.
type Plan struct {
	Changes []Change `json:"changes"`
	// inSync are objects the files define as they are live, though not as
	// last applied (an export of run-time edits, applied back): nothing
	// changes, so the plan does not list them, and an apply records them
	// as applied.
	inSync []Key
}

// Changes reports whether applying the plan changes anything.
func (p Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action == Create || c.Action == Update || c.Action == Delete {
			return true
		}
	}
	return false
}

// Options shape a plan.
type Options struct {
	// Prune deletes the applied objects no file defines any more.
	Prune bool
	// OverwriteDrift puts the files' version back over run-time edits.
	OverwriteDrift bool
	// Force lets an apply delete a policy, schedule, person or team that
	// open incidents still use; the running bot moves those incidents to
	// their route's current policy. The plan itself ignores it.
	Force bool
	// Start is the plan of the file the bot starts with: an object whose
	// spec is what that file said when the bot last started is left as
	// applied, so a restart does not undo an apply made since.
	Start bool
}

// Compute plans desired (the files) against applied (the last apply) and
// live (applied with run-time edits folded in, see Live).
func Compute(desired, applied, live Set, o Options) (Plan, error) {
	keys := map[Key]bool{}
	for k := range desired {
		keys[k] = true
	}
	for k := range applied {
		keys[k] = true
	}
	sorted := make([]Key, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, compareKeys)

	var p Plan
	for _, k := range sorted {
		want, inFiles := desired[k]
		have, isApplied := applied[k]
		switch {
		case inFiles && !isApplied:
			p.Changes = append(p.Changes, Change{Key: k, Action: Create, Source: want.Source})
			continue
		case !inFiles:
			if k.Kind == KindDefaultRoute {
				continue // there is always one; a file that sets none keeps it
			}
			a := Obsolete
			if o.Prune {
				a = Delete
			}
			p.Changes = append(p.Changes, Change{Key: k, Action: a, Source: have.Source})
			continue
		}
		if o.Start && have.StartDigest != "" && have.StartDigest == startDigest(want) {
			continue // the start file has not changed this object since the bot last started
		}
		fields, err := Diff(have.Spec, want.Spec)
		if err != nil {
			return Plan{}, fmt.Errorf("%s: %w", k, err)
		}
		if k.Kind == KindRoute && have.Position != want.Position {
			fields = append(fields, FieldChange{Path: "position", Old: fmt.Sprint(have.Position), New: fmt.Sprint(want.Position)})
		}
		var drift []FieldChange
		if l, ok := live[k]; ok {
			if drift, err = Diff(have.Spec, l.Spec); err != nil {
				return Plan{}, fmt.Errorf("%s: %w", k, err)
			}
		}
		c := Change{Key: k, Source: want.Source, Fields: fields, Drift: drift}
		if len(drift) > 0 && len(fields) > 0 {
			if same, err := Diff(live[k].Spec, want.Spec); err != nil {
				return Plan{}, fmt.Errorf("%s: %w", k, err)
			} else if len(same) == 0 && (k.Kind != KindRoute || have.Position == want.Position) {
				p.inSync = append(p.inSync, k)
				continue
			}
		}
		switch {
		case len(drift) > 0 && o.OverwriteDrift:
			c.Action = Update
		case len(fields) > 0:
			c.Action, c.KeepDrift = Update, len(drift) > 0
		case len(drift) > 0:
			c.Action, c.KeepDrift = Drift, true
		default:
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// Live is applied with the run-time state folded in: each schedule's
// layers as the latest rotation edit left them.
func Live(applied Set, layers map[string]map[string]oncall.LayerState) (Set, error) {
	live := Set{}
	for k, o := range applied {
		if k.Kind == KindSchedule && len(layers[k.Name]) > 0 {
			spec, err := foldLayers(o.Spec, layers[k.Name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			o.Spec = spec
		}
		live[k] = o
	}
	return live, nil
}

func foldLayers(spec json.RawMessage, states map[string]oncall.LayerState) (json.RawMessage, error) {
	var s map[string]any
	if err := json.Unmarshal(spec, &s); err != nil {
		return nil, err
	}
	layers, _ := s["layers"].([]any)
	for _, l := range layers {
		m, ok := l.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		st, edited := states[name]
		if !edited {
			continue
		}
		people := make([]any, len(st.Participants))
		for i, p := range st.Participants {
			people[i] = p
		}
		if len(people) > 0 {
			m["participants"] = people
		} else {
			delete(m, "participants")
		}
		// The same instant written either way is no drift.
		if start, _ := m["start"].(string); !sameWall(start, st.Start) {
			m["start"] = st.Start
		}
	}
	return json.Marshal(s)
}

func sameWall(a, b string) bool {
	x, err1 := oncall.ParseWall(a)
	y, err2 := oncall.ParseWall(b)
	return err1 == nil && err2 == nil && x == y
}

// Write prints the plan for a person: one line per object, its fields
// indented beneath, and a summary line.
func (p Plan) Write(w io.Writer) error {
	var b strings.Builder
	counts := map[Action]int{}
	for _, c := range p.Changes {
		counts[c.Action]++
		mark := map[Action]string{Create: "+", Update: "~", Delete: "-", Obsolete: "?", Drift: "!"}[c.Action]
		fmt.Fprintf(&b, "%s %s %s", mark, c.Kind, c.Name)
		if c.Source != "" {
			fmt.Fprintf(&b, " (%s)", c.Source)
		}
		switch c.Action {
		case Create:
			b.WriteString(": create\n")
		case Delete:
			b.WriteString(": delete (no file defines it)\n")
		case Obsolete:
			b.WriteString(": obsolete, kept (no file defines it; --prune deletes it)\n")
		case Update:
			b.WriteString(": update\n")
		case Drift:
			b.WriteString(": changed at run time since the last apply\n")
		}
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s: %s -> %s\n", f.Path, orNone(f.Old), orNone(f.New))
		}
		if len(c.Drift) > 0 {
			how := "kept (--overwrite-drift puts the files' version back)"
			if !c.KeepDrift {
				how = "overwritten by the files' version"
			}
			fmt.Fprintf(&b, "    drift, %s:\n", how)
			for _, f := range c.Drift {
				fmt.Fprintf(&b, "      %s: %s -> %s (at run time)\n", f.Path, orNone(f.Old), orNone(f.New))
			}
		}
	}
	if !p.HasChanges() {
		b.WriteString("No changes.")
	} else {
		fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to delete.", counts[Create], counts[Update], counts[Delete])
	}
	if n := counts[Drift]; n > 0 {
		fmt.Fprintf(&b, " %d with run-time changes kept.", n)
	}
	if n := counts[Obsolete]; n > 0 {
		fmt.Fprintf(&b, " %d obsolete, kept (--prune deletes them).", n)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// After is the applied set as it will be once p is applied: what a running
// bot checks, and then runs on, before the apply is committed.
func After(applied, desired Set, p Plan) Set {
	out := Set{}
	for k, o := range applied {
		out[k] = o
	}
	for _, c := range p.Changes {
		switch c.Action {
		case Create, Update:
			out[c.Key] = desired[c.Key]
		case Delete:
			delete(out, c.Key)
		}
	}
	for _, k := range p.inSync {
		out[k] = desired[k]
	}
	return out
}

// ErrInvalid marks a configuration that does not validate or hold
// together: the caller's to fix, and nothing was changed.
var ErrInvalid = errors.New("the configuration does not validate; nothing changed")
