package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// base is a small setup; the tests edit it.
const base = `
api_tokens: [{name: ci, token: "${PLAN_TEST_API_TOKEN}", scopes: [read]}]
integrations:
  - {name: am, format: alertmanager, token: am-literal-secret-0001}
people:
  - {name: alice, time_zone: Europe/London}
  - {name: bob, time_zone: America/New_York}
  - {name: carol, time_zone: Australia/Sydney}
teams:
  - {name: ops, members: [alice, bob], leads: [alice], schedule: ops, escalation_policy: ops-default}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
escalation_policies:
  - name: ops-default
    steps:
      - {delay: 5m, targets: [{schedule: ops}]}
      - {delay: 10m, targets: [{team: ops}]}
routes:
  - {name: db, match: ['service="db"'], team: ops, alert_delay: 2m}
  - {name: staging, match: ['env="staging"'], team: ops, severity_max: warning}
default_route: {team: ops}
webhooks:
  - {name: events, url: "https://hooks.example.com/x", secret: "${PLAN_TEST_HOOK_SECRET}"}
`

const (
	apiSecret  = "api-secret-from-env-0001"
	hookSecret = "hook-secret-from-env-0001"
)

type fixture struct {
	t   *testing.T
	st  *store.Store
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("PLAN_TEST_API_TOKEN", apiSecret)
	t.Setenv("PLAN_TEST_HOOK_SECRET", hookSecret)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, dir: t.TempDir()}
}

// files writes the files and loads them as `bot plan -f` does.
func (f *fixture) files(files map[string]string) *config.Config {
	f.t.Helper()
	dir := f.t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
	c, err := config.LoadPaths(dir)
	if err != nil {
		f.t.Fatalf("load: %v", err)
	}
	return c
}

// plan plans c against the database.
func (f *fixture) plan(c *config.Config, o Options) (Plan, Set) {
	p, desired, _ := f.planWith(c, o)
	return p, desired
}

func (f *fixture) planWith(c *config.Config, o Options) (Plan, Set, Digester) {
	f.t.Helper()
	ctx := context.Background()
	d, err := DigesterOf(ctx, f.st.Read())
	if err != nil {
		f.t.Fatal(err)
	}
	desired, err := FromConfig(c, d)
	if err != nil {
		f.t.Fatal(err)
	}
	applied, err := Applied(ctx, f.st.Read())
	if err != nil {
		f.t.Fatal(err)
	}
	live, err := LiveSet(ctx, f.st.Read(), applied)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := Compute(desired, applied, live, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return p, desired, d
}

// apply plans c and applies it.
func (f *fixture) apply(c *config.Config, o Options) Plan {
	f.t.Helper()
	ctx := context.Background()
	p, desired, d := f.planWith(c, o)
	applied, _ := Applied(ctx, f.st.Read())
	layers, err := LayerStatesOf(ctx, f.st.Read())
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.st.Write(ctx, func(tx *store.Tx) error {
		return Apply(tx, p, desired, applied, ApplyOptions{Options: o, Actor: "test", Now: now, Digester: d, Layers: layers})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func text(t *testing.T, p Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func find(p Plan, kind, name string) (Change, bool) {
	for _, c := range p.Changes {
		if c.Kind == kind && c.Name == name {
			return c, true
		}
	}
	return Change{}, false
}

func TestFirstPlanCreatesEverythingAndASecondApplyChangesNothing(t *testing.T) {
	f := newFixture(t)
	c := f.files(map[string]string{"bot.yaml": base})
	p := f.apply(c, Options{})
	want := map[string]int{KindIntegration: 1, KindPerson: 3, KindTeam: 1, KindSchedule: 1, KindEscalationPolicy: 1,
		KindRoute: 2, KindDefaultRoute: 1, KindWebhook: 1, KindAPIToken: 1}
	got := map[string]int{}
	for _, ch := range p.Changes {
		if ch.Action != Create {
			t.Errorf("%s: %s, want create", ch.Key, ch.Action)
		}
		got[ch.Kind]++
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d %s objects created, want %d", got[k], k, n)
		}
	}
	if c, _ := find(p, KindTeam, "ops"); !strings.HasSuffix(c.Source, "bot.yaml:10") {
		t.Errorf("team ops's source = %q, want bot.yaml:10", c.Source)
	}
	again, _ := f.plan(c, Options{})
	if again.HasChanges() || len(again.Changes) != 0 {
		t.Fatalf("a second plan of the same files:\n%s", text(t, again))
	}
	if s := text(t, again); s != "No changes.\n" {
		t.Errorf("no-change plan says %q", s)
	}
}

func TestPlanSaysWhatChangesFieldByField(t *testing.T) {
	f := newFixture(t)
	f.apply(f.files(map[string]string{"bot.yaml": base}), Options{})

	changed := strings.NewReplacer(
		"{name: ops, members: [alice, bob], leads: [alice]", "{name: ops, members: [alice, bob, carol], leads: [alice, bob]",
		"- {delay: 10m, targets: [{team: ops}]}", "- {delay: 15m, targets: [{team: ops}]}",
		// The routes swap places: the order they are tried in changes.
		"  - {name: db, match: ['service=\"db\"'], team: ops, alert_delay: 2m}\n  - {name: staging, match: ['env=\"staging\"'], team: ops, severity_max: warning}",
		"  - {name: staging, match: ['env=\"staging\"'], team: ops, severity_max: warning}\n  - {name: db, match: ['service=\"db\"'], team: ops, alert_delay: 2m}",
		"webhooks:\n  - {name: events, url: \"https://hooks.example.com/x\", secret: \"${PLAN_TEST_HOOK_SECRET}\"}\n", "",
		"  - {name: carol, time_zone: Australia/Sydney}", "  - {name: carol, time_zone: Australia/Sydney}\n  - {name: dave, time_zone: Europe/Berlin}",
		"am-literal-secret-0001", "am-literal-secret-0002",
	).Replace(base)
	c := f.files(map[string]string{"bot.yaml": changed})
	p, _ := f.plan(c, Options{})
	cases := []struct {
		kind, name string
		action     Action
		fields     []FieldChange
	}{
		{KindTeam, "ops", Update, []FieldChange{{"leads", "[alice]", "[alice, bob]"}, {"members", "[alice, bob]", "[alice, bob, carol]"}}},
		{KindEscalationPolicy, "ops-default", Update, []FieldChange{{"steps", "[{delay: 5m, targets: [{schedule: ops}]}, {delay: 10m, targets: [{team: ops}]}]",
			"[{delay: 5m, targets: [{schedule: ops}]}, {delay: 15m, targets: [{team: ops}]}]"}}},
		{KindRoute, "db", Update, []FieldChange{{"position", "1", "2"}}},
		{KindRoute, "staging", Update, []FieldChange{{"position", "2", "1"}}},
		{KindPerson, "dave", Create, nil},
		{KindWebhook, "events", Obsolete, nil},
		{KindIntegration, "am", Update, []FieldChange{{"token", "(secret)", "(secret) (changed)"}}},
	}
	for _, c := range cases {
		got, ok := find(p, c.kind, c.name)
		if !ok || got.Action != c.action {
			t.Errorf("%s %s: %+v, want %s", c.kind, c.name, got, c.action)
			continue
		}
		if len(got.Fields) != len(c.fields) {
			t.Errorf("%s %s fields = %+v, want %+v", c.kind, c.name, got.Fields, c.fields)
			continue
		}
		for i := range c.fields {
			if got.Fields[i] != c.fields[i] {
				t.Errorf("%s %s field %d = %+v, want %+v", c.kind, c.name, i, got.Fields[i], c.fields[i])
			}
		}
	}
	if _, ok := find(p, KindPerson, "alice"); ok {
		t.Error("an unchanged person is in the plan")
	}
	out := text(t, p)
	for _, want := range []string{"~ team ops (", "    members: [alice, bob] -> [alice, bob, carol]", "+ person dave (",
		"? webhook events", "obsolete, kept", "Plan: 1 to create, 5 to update, 0 to delete. 1 obsolete, kept (--prune deletes them)."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q:\n%s", want, out)
		}
	}

	// With --prune the obsolete webhook is deleted; applied, nothing is left
	// to do.
	pruned := f.apply(c, Options{Prune: true})
	if ch, _ := find(pruned, KindWebhook, "events"); ch.Action != Delete {
		t.Fatalf("with --prune the webhook is %s", ch.Action)
	}
	if again, _ := f.plan(c, Options{Prune: true}); again.HasChanges() {
		t.Fatalf("after the apply:\n%s", text(t, again))
	}
}

// A rotation edited from chat since the last apply is drift: the plan
// says so, an apply keeps it, and --overwrite-drift puts the file back.
func TestDriftFromAChatRotationEditIsShownAndKept(t *testing.T) {
	f := newFixture(t)
	c := f.files(map[string]string{"bot.yaml": base})
	f.apply(c, Options{})
	edit := func(people []string) {
		err := f.st.Write(context.Background(), func(tx *store.Tx) error {
			return oncall.SetLayerState(tx, "ops", "weekly", people, "2026-02-23 09:00", "slack:alice", "add carol", now)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	edit([]string{"alice", "bob", "carol"})

	p, _ := f.plan(c, Options{})
	ch, _ := find(p, KindSchedule, "ops")
	if ch.Action != Drift || !ch.KeepDrift || p.HasChanges() {
		t.Fatalf("schedule ops after a chat edit: %+v (changes %v)", ch, p.HasChanges())
	}
	if len(ch.Drift) != 1 || ch.Drift[0].Path != "layers[weekly].participants" || ch.Drift[0].New != "[alice, bob, carol]" {
		t.Fatalf("drift = %+v", ch.Drift)
	}
	if out := text(t, p); !strings.Contains(out, "! schedule ops") || !strings.Contains(out, "drift, kept") {
		t.Errorf("plan text:\n%s", out)
	}

	// The file changes another field of the schedule: the update goes
	// through and the chat edit stays in force.
	zone := f.files(map[string]string{"bot.yaml": strings.Replace(base, "    time_zone: Europe/London\n    layers:", "    time_zone: Europe/Dublin\n    layers:", 1)})
	p = f.apply(zone, Options{})
	if ch, _ := find(p, KindSchedule, "ops"); ch.Action != Update || !ch.KeepDrift {
		t.Fatalf("update with drift = %+v", ch)
	}
	layers, _ := oncall.LayerStates(context.Background(), f.st.Read())
	if got := layers["ops"]["weekly"].Participants; len(got) != 3 {
		t.Fatalf("the chat edit did not survive the apply: %v", got)
	}

	// --overwrite-drift: the file's rotation is the latest state again.
	p = f.apply(zone, Options{OverwriteDrift: true})
	if ch, _ := find(p, KindSchedule, "ops"); ch.Action != Update || ch.KeepDrift {
		t.Fatalf("overwrite = %+v", ch)
	}
	layers, _ = oncall.LayerStates(context.Background(), f.st.Read())
	if st := layers["ops"]["weekly"]; len(st.Participants) != 2 || st.By != "test" {
		t.Fatalf("after --overwrite-drift the layer is %+v", st)
	}
	if again, _ := f.plan(zone, Options{}); len(again.Changes) != 0 {
		t.Fatalf("after overwriting:\n%s", text(t, again))
	}

	// A file that changes an edited layer's rotation, with no drift left,
	// wins over the old edit rows.
	four := f.files(map[string]string{"bot.yaml": strings.Replace(strings.Replace(base, "    time_zone: Europe/London\n    layers:", "    time_zone: Europe/Dublin\n    layers:", 1),
		"participants: [alice, bob]}", "participants: [bob, alice]}", 1)})
	f.apply(four, Options{})
	layers, _ = oncall.LayerStates(context.Background(), f.st.Read())
	if got := layers["ops"]["weekly"].Participants; len(got) != 2 || got[0] != "bob" {
		t.Fatalf("the file's new order lost to an old edit: %v", got)
	}
}

// The start file is applied at every start; it does not undo an apply
// made since (an object it has not changed is left alone), and what it
// does change wins.
func TestStartFileDoesNotUndoALaterApply(t *testing.T) {
	f := newFixture(t)
	start := f.files(map[string]string{"bot.yaml": base})
	f.apply(start, Options{Start: true})

	// CI applies a change to team ops.
	ci := f.files(map[string]string{"bot.yaml": strings.Replace(base, "members: [alice, bob]", "members: [alice, bob, carol]", 1)})
	f.apply(ci, Options{})

	// The bot restarts with its unchanged start file.
	if p := f.apply(start, Options{Start: true}); p.HasChanges() {
		t.Fatalf("a restart with the same file planned:\n%s", text(t, p))
	}
	applied, _ := Applied(context.Background(), f.st.Read())
	if !strings.Contains(string(applied[Key{KindTeam, "ops"}].Spec), "carol") {
		t.Fatal("the restart undid CI's apply")
	}
	// The start file is edited: its change is applied at the next start.
	edited := f.files(map[string]string{"bot.yaml": strings.Replace(base, "leads: [alice]", "leads: [bob]", 1)})
	p := f.apply(edited, Options{Start: true})
	if ch, ok := find(p, KindTeam, "ops"); !ok || ch.Action != Update {
		t.Fatalf("an edited start file: %+v", p.Changes)
	}
}

// No secret's value reaches a plan, its JSON, an export, or the applied
// specs; a change of one shows only that it changed.
func TestSecretsNeverShow(t *testing.T) {
	f := newFixture(t)
	c := f.files(map[string]string{"bot.yaml": base})
	p := f.apply(c, Options{})
	js, _ := json.Marshal(p)
	applied, _ := Applied(context.Background(), f.st.Read())
	var specs strings.Builder
	for _, o := range applied {
		specs.Write(o.Spec)
	}
	dir := filepath.Join(f.dir, "export")
	env, err := Export(applied, dir)
	if err != nil {
		t.Fatal(err)
	}
	var exported strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		exported.Write(b)
	}
	for name, s := range map[string]string{"plan": text(t, p), "plan JSON": string(js), "specs": specs.String(), "export": exported.String()} {
		for _, secret := range []string{apiSecret, hookSecret, "am-literal-secret-0001"} {
			if strings.Contains(s, secret) {
				t.Errorf("the %s holds a secret", name)
			}
		}
	}
	if !strings.Contains(exported.String(), "${PLAN_TEST_API_TOKEN}") || !strings.Contains(exported.String(), "${PLAN_TEST_HOOK_SECRET}") {
		t.Errorf("the export does not write secrets back as their references:\n%s", exported.String())
	}
	if len(env) != 1 || !strings.HasPrefix(env[0], "BOT_INTEGRATION_AM_TOKEN ") {
		t.Errorf("the literal secret is not named for the export's reader: %v", env)
	}
	// The applied set keeps the values, for the running bot.
	if got := applied[Key{KindIntegration, "am"}].Secrets["token"].Value; got != "am-literal-secret-0001" {
		t.Errorf("the applied integration token = %q", got)
	}
}

// Exporting the applied configuration, run-time edits folded in, then
// planning the export shows no change; for the demo configuration too.
func TestExportThenPlanShowsNoChange(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	demo, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "manifests", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"small": base, "demo": string(demo)} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.apply(f.files(map[string]string{"bot.yaml": body}), Options{})
			if name == "small" {
				// A chat edit: the export carries it, and so plans no drift.
				err := f.st.Write(context.Background(), func(tx *store.Tx) error {
					return oncall.SetLayerState(tx, "ops", "weekly", []string{"bob", "alice", "carol"}, "2026-02-23 09:00", "slack:alice", "edit", now)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			applied, _ := Applied(ctx, f.st.Read())
			live, err := LiveSet(ctx, f.st.Read(), applied)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(f.dir, "export")
			env, err := Export(live, dir)
			if err != nil {
				t.Fatal(err)
			}
			// The literal secrets the export names come from the environment.
			for _, e := range env {
				name := strings.Fields(e)[0]
				var k Key
				for key, o := range applied {
					for field := range o.Secrets {
						if "BOT_"+notEnvChar.ReplaceAllString(strings.ToUpper(key.Kind+"_"+key.Name+"_"+field), "_") == name {
							k = key
							t.Setenv(name, o.Secrets[field].Value)
						}
					}
				}
				if k.Kind == "" {
					t.Fatalf("no secret behind %s", name)
				}
			}
			// The export holds objects only: the demo's server settings
			// stay in its file.
			c, err := config.LoadPaths(dir)
			if err != nil {
				t.Fatalf("the export does not load: %v", err)
			}
			p, _ := f.plan(c, Options{Prune: true})
			if len(p.Changes) != 0 {
				t.Fatalf("planning the export:\n%s", text(t, p))
			}
		})
	}
}
