package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// inDir writes files (name to content; a name ending in "/" is a
// directory) into a fresh directory and makes it the working directory,
// so errors name the files as a team would see them: "ops.yaml:3:5".
func inDir(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	t.Setenv("BOT_LISTEN", "")
	t.Setenv("BOT_DB", "")
}

func routeNames(c *Config) []string {
	var out []string
	for _, r := range c.Routes {
		out = append(out, r.Name)
	}
	return out
}

const opsFile = `people:
  - name: alice
  - name: bob
teams:
  - name: ops
    members: [alice, bob]
    schedule: ops
    escalation_policy: ops-default
schedules:
  - name: ops
    time_zone: Europe/London
    layers: [{name: weekly, rotation: weekly, start: "2026-01-05 09:00", participants: [alice, bob]}]
escalation_policies:
  - name: ops-default
    steps: [{targets: [{schedule: ops}]}]
routes:
  - {name: ops-db, match: ['service="db"'], team: ops}
  - {name: ops-web, match: ['service="web"'], team: ops}
`

// web.yaml names people of ops.yaml and the policy of ops.yaml: the
// references resolve across files.
const webFile = `people:
  - name: carol
teams:
  - name: web
    members: [carol, bob]
    leads: [alice]
    escalation_policy: ops-default
routes:
  - {name: web-all, match: ['team="web"'], team: web}
`

const baseFile = `listen: 127.0.0.1:8080
default_route: {team: ops}
integrations:
  - {name: am, format: alertmanager, token: demo}
`

func TestLoadPathsMergesListsAcrossFiles(t *testing.T) {
	inDir(t, map[string]string{
		"conf/00-base.yaml":   baseFile,
		"conf/ops.yaml":       opsFile,
		"conf/web.yml":        webFile,
		"conf/README.md":      "not: [config",
		"conf/.hidden.yaml":   "not: [config", // an editor's or CI's file
		"conf/archive/x.yaml": "not: [config", // not recursive
		"extra.yaml":          "routes:\n  - {name: extra, match: ['x=\"1\"'], team: web}\n",
	})
	cases := []struct {
		name   string
		paths  []string
		routes []string
	}{
		{"a directory: its files by name", []string{"conf"}, []string{"ops-db", "ops-web", "web-all"}},
		{"files in the order given", []string{"conf/web.yml", "conf/ops.yaml", "conf/00-base.yaml"}, []string{"web-all", "ops-db", "ops-web"}},
		{"a file before a directory", []string{"extra.yaml", "conf"}, []string{"extra", "ops-db", "ops-web", "web-all"}},
		{"a directory before a file", []string{"conf", "extra.yaml"}, []string{"ops-db", "ops-web", "web-all", "extra"}},
		{"a file named twice is read once", []string{"conf/ops.yaml", "conf"}, []string{"ops-db", "ops-web", "web-all"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadPaths(tc.paths...)
			if err != nil {
				t.Fatal(err)
			}
			if got := routeNames(c); !slices.Equal(got, tc.routes) {
				t.Errorf("routes = %v, want %v (tried in this order)", got, tc.routes)
			}
			var people []string
			for _, p := range c.People {
				people = append(people, p.Name)
			}
			if slices.Sort(people); !slices.Equal(people, []string{"alice", "bob", "carol"}) {
				t.Errorf("people = %v", people)
			}
			if len(c.Teams) != 2 || len(c.Schedules) != 1 || len(c.EscalationPolicies) != 1 || len(c.Integrations) != 1 {
				t.Errorf("teams %d schedules %d policies %d integrations %d", len(c.Teams), len(c.Schedules), len(c.EscalationPolicies), len(c.Integrations))
			}
			// Defaults and checks run on the merged result.
			if c.DefaultRoute.Name != "default" || c.DefaultRoute.EscalationPolicy != "ops-default" || c.Integrations[0].DefaultSeverity == 0 {
				t.Errorf("defaults not filled: default route %+v, integration %+v", c.DefaultRoute, c.Integrations[0])
			}
			for _, r := range c.Routes {
				if r.Team == "web" && r.EscalationPolicy != "ops-default" {
					t.Errorf("route %s: policy %q, want the web team's, from another file", r.Name, r.EscalationPolicy)
				}
			}
		})
	}
}

func TestLoadPathsRefusesWhatItCannotRead(t *testing.T) {
	inDir(t, map[string]string{"empty/": "", "docs/README.md": "# no config here", "ok.yaml": "default_route: {team: ops}\n", "bad.yaml": "teams: [\n"})
	cases := []struct {
		name  string
		paths []string
		want  string
	}{
		{"no path", nil, "no file or directory given"},
		{"an empty directory", []string{"ok.yaml", "empty"}, "directory empty has no .yaml or .yml file"},
		{"a directory of other files", []string{"docs"}, "directory docs has no .yaml or .yml file"},
		{"a missing file", []string{"nope.yaml"}, "nope.yaml"},
		{"not YAML", []string{"ok.yaml", "bad.yaml"}, "bad.yaml:1: not valid YAML: did not find expected node content"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPaths(tc.paths...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestASettingInTwoFiles(t *testing.T) {
	cases := []struct {
		key, a, b string
	}{
		{"listen", "listen: 127.0.0.1:9000\n", "listen: 127.0.0.1:9001\n"},
		{"reopen_window", "reopen_window: 5m\n", "reopen_window: 5m\n"}, // the same value still says which file owns it
		{"slack", "slack: {bot_token: x, signing_secret: y}\n", "slack:\n  bot_token: z\n"},
		{"default_route", "default_route: {team: web}\n", "default_route: {team: ops}\n"},
		{"metrics_token", "metrics_token: 0123456789abcdef0\n", "metrics_token:\n"},
		{"trusted_proxies", "trusted_proxies: [10.0.0.1]\n", "trusted_proxies: [10.0.0.2]\n"},
		{"console_visibility", "console_visibility: teams\n", "console_visibility: teams\n"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			inDir(t, map[string]string{"a.yaml": "# the first file\n" + tc.a, "b.yaml": "people: [{name: bob}]\n" + tc.b})
			_, err := LoadPaths("a.yaml", "b.yaml")
			want := "b.yaml:2:1: " + tc.key + ": also set at a.yaml:2:1; a setting or single section is set in one file only"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to say %q", err, want)
			}
		})
	}
}

func TestDuplicatesNameBothPlaces(t *testing.T) {
	const base = "default_route: {team: ops}\nteams: [{name: ops}]\npeople: [{name: bob}]\n"
	cases := []struct {
		section, noun, name, item string
	}{
		{"integrations", "integration", "am", "{name: am, format: generic, token: t}"},
		{"people", "person", "carol", "{name: carol}"},
		{"teams", "team", "web", "{name: web}"},
		{"schedules", "schedule", "s", `{name: s, time_zone: UTC, layers: [{name: l, rotation: weekly, start: "2026-01-05 09:00"}]}`},
		{"escalation_policies", "escalation policy", "p", "{name: p, steps: [{targets: [{user: bob}]}]}"},
		{"routes", "route", "r", `{name: r, match: ['a="b"'], team: ops}`},
		{"webhooks", "webhook", "w", `{name: w, url: "http://x"}`},
		{"api_tokens", "api token", "ci", "{name: ci, token: t}"},
	}
	for _, tc := range cases {
		t.Run(tc.section, func(t *testing.T) {
			// a.yaml has it at 1:(len+4), inline; b.yaml at 2:5, in a block.
			inDir(t, map[string]string{
				"base.yaml": base,
				"a.yaml":    tc.section + ": [" + tc.item + "]\n",
				"b.yaml":    tc.section + ":\n  - " + tc.item + "\n",
			})
			want := "b.yaml:2:5: " + tc.section + "[0]: duplicate " + tc.noun + ` "` + tc.name + `", also defined at a.yaml:1:` + strconv.Itoa(len(tc.section)+4)
			_, err := LoadPaths("base.yaml", "a.yaml", "b.yaml")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to say %q", err, want)
			}
			// Within one file too.
			inDir(t, map[string]string{"base.yaml": base, "a.yaml": tc.section + ":\n  - " + tc.item + "\n  - " + tc.item + "\n"})
			want = "a.yaml:3:5: " + tc.section + "[1]: duplicate " + tc.noun + ` "` + tc.name + `", also defined at a.yaml:2:5`
			if _, err := LoadPaths("base.yaml", "a.yaml"); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to say %q", err, want)
			}
		})
	}
}

// Every reference is checked across files, and a wrong one names its
// file:line:column, its field and the name probably meant.
func TestReferencesNameTheirPlace(t *testing.T) {
	const defs = `people:
  - {name: bob}
  - {name: alice}
teams:
  - {name: ops, members: [bob]}
schedules:
  - name: rota
    time_zone: UTC
    layers: [{name: l, rotation: weekly, start: "2026-01-05 09:00", participants: [bob]}]
escalation_policies:
  - name: ops-default
    steps: [{targets: [{schedule: rota}]}]
default_route: {team: ops}
`
	cases := []struct {
		name, file, want string
	}{
		{"team lead", "teams:\n  - name: web\n    leads: [bbo]\n",
			`ops.yaml:3:13: teams[0].leads[0]: person "bbo" is not in people (did you mean "bob"?)`},
		{"team member, by case", "teams:\n  - name: web\n    members: [bob, Alice]\n",
			`ops.yaml:3:20: teams[0].members[1]: person "Alice" is not in people (did you mean "alice"?)`},
		{"team schedule", "teams:\n  - name: web\n    schedule: rot\n",
			`ops.yaml:3:15: teams[0].schedule: schedule "rot" is not defined in schedules (did you mean "rota"?)`},
		{"team policy", "teams:\n  - name: web\n    escalation_policy: ops-defualt\n",
			`ops.yaml:3:24: teams[0].escalation_policy: escalation_policy "ops-defualt" is not defined in escalation_policies (did you mean "ops-default"?)`},
		{"route team", "routes:\n  - name: web\n    match: ['service=\"web\"']\n    team: osp\n",
			`ops.yaml:4:11: routes[0].team: team "osp" is not defined in teams (did you mean "ops"?)`},
		{"route policy, nothing close", "routes:\n  - name: web\n    match: ['service=\"web\"']\n    team: ops\n    escalation_policy: nope\n",
			`ops.yaml:5:24: routes[0].escalation_policy: escalation_policy "nope" is not defined in escalation_policies`},
		{"target user", "escalation_policies:\n  - name: web\n    steps:\n      - targets: [{user: alcie}]\n",
			`ops.yaml:4:26: escalation_policies[0].steps[0].targets[0].user: person "alcie" is not in people (did you mean "alice"?)`},
		{"target schedule", "escalation_policies:\n  - name: web\n    steps:\n      - targets: [{schedule: rotaa}]\n",
			`ops.yaml:4:30: escalation_policies[0].steps[0].targets[0].schedule: schedule "rotaa" is not defined in schedules (did you mean "rota"?)`},
		{"target team", "escalation_policies:\n  - name: web\n    steps:\n      - targets: [{team: op}]\n",
			`ops.yaml:4:26: escalation_policies[0].steps[0].targets[0].team: team "op" is not defined in teams (did you mean "ops"?)`},
		{"target room", "escalation_policies:\n  - name: web\n    steps:\n      - targets: [{room: ops2}]\n",
			`ops.yaml:4:26: escalation_policies[0].steps[0].targets[0].room: team "ops2" is not defined in teams (did you mean "ops"?)`},
		{"layer participant", "schedules:\n  - name: web\n    time_zone: UTC\n    layers:\n      - name: l\n        rotation: weekly\n        start: \"2026-01-05 09:00\"\n        participants: [bob, carol]\n",
			`ops.yaml:8:29: schedules[0].layers[0].participants[1]: person "carol" is not in people`},
		{"console token's person", "console_tokens:\n  - {token: t, person: bobb}\n",
			`ops.yaml:2:24: console_tokens[0].person: person "bobb" is not in people (did you mean "bob"?)`},
		{"webhook's team filter (not checked before)", "webhooks:\n  - {name: w, url: \"http://x\", teams: [ops, wbe]}\n",
			`ops.yaml:2:45: webhooks[0].teams[1]: team "wbe" is not defined in teams`},
		{"api token's team scope", "api_tokens:\n  - name: ci\n    token: t\n    scopes: [\"schedule:osp\"]\n",
			`ops.yaml:4:14: api_tokens[0].scopes[0]: "schedule:osp" names no team (did you mean "schedule:ops"?)`},
		{"notify method", "people:\n  - name: carol\n    notify: [{method: sms}, {method: emial}]\n",
			`ops.yaml:3:38: people[0].notify[1].method: method "emial" is not one of [chat sms voice email webhook] (did you mean "email"?)`},
		{"notify window's zone (not checked before)", "people:\n  - name: carol\n    notify: [{method: sms, enabled: {time_zone: Mars/Olympus}}]\n",
			`ops.yaml:3:49: people[0].notify[0].enabled.time_zone: unknown time zone Mars/Olympus`},
		{"an unknown key", "teams:\n  - name: web\n    lead: [bob]\n",
			`ops.yaml:3:5: teams[0].lead: unknown key (did you mean "leads"?)`},
		{"a value of the wrong shape", "teams:\n  - name: web\n    members: bob\n",
			`ops.yaml:3:14: teams[0].members: want a list, not "bob"`},
		{"a value that does not decode", "routes:\n  - {name: r, match: ['a=\"b\"'], team: ops, alert_delay: soon}\n",
			`ops.yaml:2:57: routes[0].alert_delay: time: invalid duration "soon"`},
		{"an unset variable", "integrations:\n  - {name: am, format: alertmanager, token: \"${NO_SUCH_TOKEN_T}\"}\n",
			`ops.yaml:2:45: integrations[0].token: environment variable NO_SUCH_TOKEN_T is not set`},
		{"a key twice", "teams:\n  - name: web\n    leads: [bob]\n    leads: [alice]\n",
			`ops.yaml:4:5: teams[0].leads: set twice in this mapping, first at ops.yaml:3:5`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inDir(t, map[string]string{"defs.yaml": defs, "ops.yaml": tc.file})
			_, err := LoadPaths("defs.yaml", "ops.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to say %s", err, tc.want)
			}
		})
	}
	inDir(t, map[string]string{"defs.yaml": defs})
	if _, err := LoadPaths("defs.yaml"); err != nil {
		t.Fatalf("the definitions alone: %v", err)
	}
}

// A CI run shows every problem of every file at once, in the order of the
// files and lines.
func TestEveryProblemAtOnce(t *testing.T) {
	inDir(t, map[string]string{
		"a.yaml": `people:
  - name: bob
teams:
  - name: ops
    leads: [bbo]
default_route: {team: ops}
listen: 127.0.0.1:1
`,
		"b.yaml": `teams:
  - name: ops
    members: [alice]
routes:
  - name: r
    match: ['a="b"']
    team: opss
listen: 127.0.0.1:1
reopen_window: soon
`,
	})
	want := strings.Join([]string{
		`a.yaml:5:13: teams[0].leads[0]: person "bbo" is not in people (did you mean "bob"?)`,
		`b.yaml:2:5: teams[0]: duplicate team "ops", also defined at a.yaml:4:5`,
		`b.yaml:3:15: teams[0].members[0]: person "alice" is not in people`,
		`b.yaml:7:11: routes[0].team: team "opss" is not defined in teams (did you mean "ops"?)`,
		`b.yaml:8:1: listen: also set at a.yaml:7:1; a setting or single section is set in one file only`,
		`b.yaml:9:16: reopen_window: time: invalid duration "soon"`,
	}, "\n")
	_, err := LoadPaths("a.yaml", "b.yaml")
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.File != "a.yaml" || fe.Line != 5 || fe.Column != 13 || fe.Field != "teams[0].leads[0]" {
		t.Errorf("first FieldError = %+v", fe)
	}
}

func TestParseNamesLinesAndColumns(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"people: [{name: bob}]\nteams: [{name: ops, leads: [bbo]}]\ndefault_route: {team: ops}\n",
			`line 2 column 29: teams[0].leads[0]: person "bbo" is not in people (did you mean "bob"?)`},
		{"routes: []\n", "default_route: team is required"}, // in no file, so no position
		{"default_route: {team: ops}\nroutez: []\n", `line 2 column 1: routez: unknown key (did you mean "routes"?)`},
		{"teams: [\n", "line 1: not valid YAML: did not find expected node content"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.yaml, err, tc.want)
		}
	}
}

func TestSourceOf(t *testing.T) {
	inDir(t, map[string]string{
		"base.yaml": baseFile + "webhooks: [{name: w, url: \"http://x\"}]\napi_tokens:\n  - {name: ci, token: t}\n",
		"ops.yaml":  opsFile,
		"web.yaml":  webFile,
	})
	c, err := LoadPaths("base.yaml", "ops.yaml", "web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ kind, name, want string }{
		{KindIntegration, "am", "base.yaml:4"},
		{KindDefaultRoute, "default", "base.yaml:2"},
		{KindWebhook, "w", "base.yaml:5"},
		{KindAPIToken, "ci", "base.yaml:7"},
		{KindPerson, "bob", "ops.yaml:3"},
		{KindPerson, "carol", "web.yaml:2"},
		{KindTeam, "ops", "ops.yaml:5"},
		{KindTeam, "web", "web.yaml:4"},
		{KindSchedule, "ops", "ops.yaml:10"},
		{KindEscalationPolicy, "ops-default", "ops.yaml:14"},
		{KindRoute, "ops-web", "ops.yaml:18"},
		{KindRoute, "web-all", "web.yaml:9"},
		{KindTeam, "nope", ""},
		{"widget", "ops", ""},
	}
	for _, tc := range cases {
		if got := c.SourceOf(tc.kind, tc.name); got != tc.want {
			t.Errorf("SourceOf(%s, %s) = %q, want %q", tc.kind, tc.name, got, tc.want)
		}
	}
	p, err := Parse([]byte("routes:\n  - {match: ['a=\"b\"'], team: ops}\ndefault_route: {team: ops}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SourceOf(KindRoute, "route-1"); got != "line 2" {
		t.Errorf("after Parse, SourceOf(route, route-1) = %q, want line 2", got)
	}
	if got := (&Config{}).SourceOf(KindTeam, "ops"); got != "" {
		t.Errorf("a Config built by hand: SourceOf = %q", got)
	}
}

// A secret from ${NAME} is used expanded and remembered as written, so an
// export can write the reference back instead of the secret.
func TestSecretReferencesAreKept(t *testing.T) {
	t.Setenv("AM_TOKEN_T", "am-secret")
	t.Setenv("CI_TOKEN_T", "ci-secret")
	t.Setenv("HOOK_SECRET_T", "hook-secret")
	const file = `integrations:
  - {name: am, format: alertmanager, token: "${AM_TOKEN_T}"}
  - {name: gf, format: grafana, token: literal}
api_tokens:
  - {name: ci, token: "${CI_TOKEN_T}"}
  - {name: ops, token: plain}
webhooks:
  - {name: w, url: "http://x", secret: "v1-${HOOK_SECRET_T}"}
  - {name: v, url: "http://y", secret: s}
default_route: {team: ops}
`
	inDir(t, map[string]string{"a.yaml": "people: [{name: bob}]\n", "b.yaml": file})
	fromFiles, err := LoadPaths("a.yaml", "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromBytes, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"LoadPaths": fromFiles, "Parse": fromBytes} {
		got := []string{
			c.Integrations[0].Token, c.Integrations[0].TokenRef, c.Integrations[1].Token, c.Integrations[1].TokenRef,
			c.APITokens[0].Token, c.APITokens[0].TokenRef, c.APITokens[1].Token, c.APITokens[1].TokenRef,
			c.Webhooks[0].Secret, c.Webhooks[0].SecretRef, c.Webhooks[1].Secret, c.Webhooks[1].SecretRef,
		}
		want := []string{
			"am-secret", "${AM_TOKEN_T}", "literal", "",
			"ci-secret", "${CI_TOKEN_T}", "plain", "",
			"v1-hook-secret", "v1-${HOOK_SECRET_T}", "s", "",
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: secrets and refs = %q\nwant %q", name, got, want)
		}
	}
	// A value of the wrong kind from ${NAME} is shown as the reference:
	// errors are logged, and the value may be a secret.
	for _, bad := range []string{"reopen_window: ${AM_TOKEN_T}\n", "slack: ${AM_TOKEN_T}\n", "people: [{name: bob, notify: \"${AM_TOKEN_T}\"}]\n"} {
		_, err := Parse([]byte("default_route: {team: ops}\n" + bad))
		if err == nil || strings.Contains(err.Error(), "am-secret") || !strings.Contains(err.Error(), "${AM_TOKEN_T}") {
			t.Errorf("%s: err = %v, want it to name ${AM_TOKEN_T}, not its value", bad, err)
		}
	}
	// The reference is not a key of the file.
	if _, err := Parse([]byte("default_route: {team: ops}\nintegrations: [{name: a, format: generic, token: t, token_ref: x}]\n")); err == nil || !strings.Contains(err.Error(), "token_ref: unknown key") {
		t.Errorf("token_ref accepted: %v", err)
	}
}

// The demo loads as before, and a team's own file can sit beside it,
// naming the demo's people and policy.
func TestDemoWithATeamFile(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	demo := filepath.Join(filepath.Dir(file), "..", "..", "manifests", "demo.yaml")
	t.Setenv("BOT_LISTEN", "")
	one, err := Load(demo)
	if err != nil {
		t.Fatal(err)
	}
	team := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(team, []byte("teams:\n  - {name: web, members: [bob, carol], leads: [carol], escalation_policy: ops-default}\nroutes:\n  - {name: web, match: ['team=\"web\"'], team: web}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	both, err := LoadPaths(demo, team)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(routeNames(one), "web"); !slices.Equal(routeNames(both), want) {
		t.Errorf("routes = %v, want the demo's then the team file's: %v", routeNames(both), want)
	}
	if got := both.SourceOf(KindTeam, "web"); got != team+":2" {
		t.Errorf("SourceOf(team, web) = %q", got)
	}
}
