package scenario

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
)

// applyObjects is a configuration of objects only (no server settings),
// so the same text is what the bot starts with and what an apply uploads.
const applyObjects = `
api_tokens:
  - {name: admin, token: admin-secret-0123456789, scopes: [admin]}
  - {name: tester, token: api-secret}
integrations:
  - {name: alertmanager, format: alertmanager, token: am-secret}
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, webhook: "%PERSONHOOK%alice", notify: [{method: webhook, after: 0m}]}
  - {name: bob, webhook: "%PERSONHOOK%bob", notify: [{method: webhook, after: 0m}]}
  - {name: carol, webhook: "%PERSONHOOK%carol", notify: [{method: webhook, after: 0m}]}
teams:
  - {name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, escalation_policy: p}
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: w, rotation: weekly, start: "2026-02-23 09:00", participants: [alice]}]
escalation_policies:
  - name: p
    steps:
      - {delay: 10m, targets: [{schedule: ops}]}
      - {delay: 10m, targets: [{user: bob}]}
`

type applyAnswer struct {
	HasChanges bool     `json:"has_changes"`
	Applied    bool     `json:"applied"`
	Error      string   `json:"error"`
	Errors     []string `json:"errors"`
	Changes    []struct {
		Kind, Name, Action string
	} `json:"changes"`
}

// applyFiles posts files to the config API with the admin token.
func applyFiles(t *testing.T, h *Harness, path string, files map[string]string) (int, applyAnswer) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"files": files})
	r := h.do("POST", path, http.Header{"Authorization": {"Bearer admin-secret-0123456789"}, "Content-Type": {"application/json"}}, body)
	var a applyAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("POST %s = %d %s", path, r.Code, r.Body)
	}
	return r.Code, a
}

// Issue 10: an apply between two escalation steps, live. The open
// incident keeps paging; the changed policy takes effect from its next
// step; no page is lost or sent twice.
func TestAnApplyBetweenTwoStepsLosesNoPageAndSendsNoneTwice(t *testing.T) {
	h := New(t, WithConfig(applyObjects))
	uploaded := func(yaml string) map[string]string {
		return map[string]string{"objects.yaml": strings.ReplaceAll(yaml, "%PERSONHOOK%", h.Webhook.PersonURL(""))}
	}
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull")))
	h.Advance(time.Second)
	if n := len(pagesTo(h, "alice")); n != 1 {
		t.Fatalf("step 1 paged alice %d times", n)
	}

	// Five minutes in, between the steps, step 2 changes from bob to carol.
	h.Advance(5 * time.Minute)
	changed := strings.Replace(applyObjects, "{user: bob}", "{user: carol}", 1)
	code, plan := applyFiles(t, h, "/api/v1/config/plan", uploaded(changed))
	if code != http.StatusOK || !plan.HasChanges || len(plan.Changes) != 1 || plan.Changes[0].Kind != "escalation_policy" || plan.Changes[0].Action != "update" {
		t.Fatalf("plan = %d %+v", code, plan)
	}
	if code, a := applyFiles(t, h, "/api/v1/config/apply", uploaded(changed)); code != http.StatusOK || !a.Applied {
		t.Fatalf("apply = %d %+v", code, a)
	}

	h.Advance(6 * time.Minute) // step 2 falls due at 10 minutes
	if n := len(pagesTo(h, "carol")); n != 1 {
		t.Errorf("the new step 2 paged carol %d times, want once", n)
	}
	if n := len(pagesTo(h, "bob")); n != 0 {
		t.Errorf("the old step 2 paged bob %d times", n)
	}
	if n := len(pagesTo(h, "alice")); n != 1 {
		t.Errorf("alice was paged %d times: the apply paged step 1 again", n)
	}
	if dup := h.Webhook.Duplicates(); dup != 0 {
		t.Errorf("%d pages went out twice", dup)
	}
	var step2 string
	for _, e := range h.Incident(inc.ID).Timeline {
		if e.Kind == oncall.KindStep && strings.HasPrefix(e.Detail, "step 2/2") {
			step2 = e.Detail
		}
	}
	if !strings.Contains(step2, "carol") {
		t.Errorf("step 2 on the timeline = %q, want carol", step2)
	}

	// The same files again: nothing to do.
	if code, a := applyFiles(t, h, "/api/v1/config/apply", uploaded(changed)); code != http.StatusOK || a.HasChanges || a.Applied {
		t.Errorf("a second apply = %d %+v", code, a)
	}
}

// Files that do not validate change nothing and say every problem, each
// in its place; a server setting in them is refused by name.
func TestAnApplyThatDoesNotValidateChangesNothing(t *testing.T) {
	h := New(t, WithConfig(applyObjects))
	uploaded := func(yaml string) map[string]string {
		return map[string]string{"objects.yaml": strings.ReplaceAll(yaml, "%PERSONHOOK%", h.Webhook.PersonURL(""))}
	}
	cases := []struct {
		name, yaml string
		says       []string
	}{
		{"an unknown person and a typo'd key", strings.NewReplacer("{user: bob}", "{user: bbo}", "time_zone: UTC", "timezone: UTC").Replace(applyObjects),
			[]string{`objects.yaml:22:39: escalation_policies[0].steps[1].targets[0].user`, `did you mean "bob"`, `objects.yaml:16:5: schedules[0].timezone: unknown key`}},
		{"a server setting", "listen: 0.0.0.0:9000\n" + applyObjects, []string{"objects.yaml:1:1: listen"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, a := applyFiles(t, h, "/api/v1/config/apply", uploaded(c.yaml))
			if code != http.StatusBadRequest || a.Applied {
				t.Fatalf("apply = %d %+v", code, a)
			}
			all := a.Error + "\n" + strings.Join(a.Errors, "\n")
			for _, want := range c.says {
				if !strings.Contains(all, want) {
					t.Errorf("answer does not say %q:\n%s", want, all)
				}
			}
		})
	}
	// Nothing changed: the original files plan no change.
	if code, a := applyFiles(t, h, "/api/v1/config/plan", uploaded(applyObjects)); code != http.StatusOK || a.HasChanges {
		t.Fatalf("after refused applies the plan = %d %+v", code, a)
	}
}

// Issue 10: removing a policy that open incidents follow is refused unless
// forced; forced, those incidents move to their route's current policy,
// said on their timeline and to the team's leads, and page on by it.
func TestRemovingAPolicyInUseIsRefusedUnlessForced(t *testing.T) {
	withQ := strings.Replace(applyObjects, "escalation_policies:\n", "routes:\n  - {name: db, match: ['service=\"db\"'], team: ops, escalation_policy: q}\nescalation_policies:\n  - {name: q, steps: [{delay: 10m, targets: [{user: carol}]}]}\n", 1)
	h := New(t, WithConfig(withQ))
	uploaded := func(yaml string) map[string]string {
		return map[string]string{"objects.yaml": strings.ReplaceAll(yaml, "%PERSONHOOK%", h.Webhook.PersonURL(""))}
	}
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Lag", "service=db")))
	h.Advance(time.Second)
	if n := len(pagesTo(h, "carol")); n != 1 || inc.Policy != "q" {
		t.Fatalf("policy %q paged carol %d times", inc.Policy, n)
	}
	// q goes, and the route moves to p.
	withoutQ := strings.NewReplacer("  - {name: q, steps: [{delay: 10m, targets: [{user: carol}]}]}\n", "", "escalation_policy: q}", "escalation_policy: p}").Replace(withQ)
	post := func(force bool) (int, applyAnswer) {
		body, _ := json.Marshal(map[string]any{"files": uploaded(withoutQ), "prune": true, "force": force})
		r := h.do("POST", "/api/v1/config/apply", http.Header{"Authorization": {"Bearer admin-secret-0123456789"}, "Content-Type": {"application/json"}}, body)
		var a applyAnswer
		json.Unmarshal(r.Body, &a)
		return r.Code, a
	}
	code, a := post(false)
	if code != http.StatusBadRequest || len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "escalation_policy q: open incidents still use it (#1)") {
		t.Fatalf("unforced = %d %+v", code, a)
	}
	if d := h.Incident(inc.ID); d.Policy != "q" {
		t.Fatalf("the refused apply moved the incident to %q", d.Policy)
	}
	if code, a = post(true); code != http.StatusOK || !a.Applied {
		t.Fatalf("forced = %d %+v", code, a)
	}
	d := h.Incident(inc.ID)
	if d.Policy != "p" {
		t.Fatalf("after the forced apply the incident follows %q, want p", d.Policy)
	}
	moved := ""
	for _, e := range d.Timeline {
		if e.Kind == "incident.policy_moved" {
			moved = e.Detail
		}
	}
	if !strings.Contains(moved, "removed escalation_policy q") || !strings.Contains(moved, "follows escalation policy p (route db)") {
		t.Errorf("timeline says %q", moved)
	}
	h.Advance(time.Second)
	told := false
	for _, p := range pagesTo(h, "alice") {
		told = told || strings.Contains(p.Text, "removed escalation_policy q")
	}
	if !told {
		t.Errorf("the lead was not told: %+v", pagesTo(h, "alice"))
	}
	// It pages on by p: its next step is p's step 2, bob.
	h.Advance(10 * time.Minute)
	if n := len(pagesTo(h, "bob")); n != 1 {
		t.Errorf("p's next step paged bob %d times, want once", n)
	}
	if n := len(pagesTo(h, "carol")); n != 1 {
		t.Errorf("carol was paged %d times", n)
	}
}

// The objects' REST API: each PUT and DELETE goes through the same plan
// and apply, live; GET shows an object as the file writes it, secrets as
// their reference.
func TestObjectsOverREST(t *testing.T) {
	h := New(t, WithConfig(applyObjects))
	call := func(method, path, body string) Response {
		return h.do(method, path, http.Header{"Authorization": {"Bearer admin-secret-0123456789"}, "Content-Type": {"application/json"}}, []byte(body))
	}
	// A new person, then the team takes them.
	if r := call("PUT", "/api/v1/people/dave", `{"time_zone": "Europe/Berlin", "webhook": "`+h.Webhook.PersonURL("dave")+`", "notify": [{"method": "webhook", "after": "0m"}]}`); r.Code != 200 || !strings.Contains(string(r.Body), `"applied":true`) {
		t.Fatalf("PUT person = %d %s", r.Code, r.Body)
	}
	if r := call("GET", "/api/v1/people/dave", ""); r.Code != 200 || !strings.Contains(string(r.Body), `"time_zone":"Europe/Berlin"`) {
		t.Fatalf("GET person = %d %s", r.Code, r.Body)
	}
	if r := call("PUT", "/api/v1/schedules/ops", `{"time_zone": "UTC", "layers": [{"name": "w", "rotation": "weekly", "start": "2026-02-23 09:00", "participants": ["dave"]}]}`); r.Code != 200 {
		t.Fatalf("PUT schedule = %d %s", r.Code, r.Body)
	}
	if r := call("GET", "/api/v1/schedules/ops/definition", ""); r.Code != 200 || !strings.Contains(string(r.Body), `"participants":["dave"]`) {
		t.Fatalf("GET schedule definition = %d %s", r.Code, r.Body)
	}
	// Live: dave is paged by the next incident.
	h.PostAlerts(Firing("alertname=New"))
	h.Advance(time.Second)
	if n := len(pagesTo(h, "dave")); n != 1 {
		t.Fatalf("dave, on call since the PUT, was paged %d times", n)
	}
	// The integration's token is never shown; a PUT that leaves it out
	// keeps it.
	if r := call("GET", "/api/v1/integrations/alertmanager", ""); r.Code != 200 || strings.Contains(string(r.Body), "am-secret") || !strings.Contains(string(r.Body), `"token":"(secret)"`) {
		t.Fatalf("GET integration = %d %s", r.Code, r.Body)
	}
	if r := call("PUT", "/api/v1/integrations/alertmanager", `{"format": "alertmanager", "default_severity": "warning"}`); r.Code != 200 {
		t.Fatalf("PUT integration = %d %s", r.Code, r.Body)
	}
	if res := h.PostAlerts(Firing("alertname=StillAuthenticated")); len(res.Incidents) != 1 {
		t.Fatalf("the kept token no longer authenticates: %+v", res)
	}
	cases := []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"a reference to nobody", "PUT", "/api/v1/teams/ops", `{"members": ["zed"], "schedule": "ops"}`, 400, `person "zed" is not in people`},
		{"an unknown field", "PUT", "/api/v1/people/erin", `{"timezone": "UTC"}`, 400, "timezone"},
		{"names that disagree", "PUT", "/api/v1/people/erin", `{"name": "frank"}`, 400, "the body names frank"},
		{"an unknown object", "GET", "/api/v1/teams/nope", "", 404, `team "nope" is not in the configuration`},
		{"deleting an unknown object", "DELETE", "/api/v1/webhooks/nope", "", 404, "is not in the configuration"},
		{"deleting a person a team still names", "DELETE", "/api/v1/people/alice", "", 400, `person "alice" is not in people`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(c.method, c.path, c.body)
			var said struct {
				Error  string   `json:"error"`
				Errors []string `json:"errors"`
			}
			json.Unmarshal(r.Body, &said)
			if r.Code != c.code || !strings.Contains(said.Error+"\n"+strings.Join(said.Errors, "\n"), c.says) {
				t.Errorf("= %d %s, want %d saying %q", r.Code, r.Body, c.code, c.says)
			}
		})
	}
	if r := call("GET", "/api/v1/people", ""); r.Code != 200 || strings.Count(string(r.Body), `"name":`) != 4 {
		t.Errorf("GET people = %d %s", r.Code, r.Body)
	}
}

// A rotation edited at run time (the API here; chat takes the same path)
// is drift: the plan of the unchanged files shows it and changes nothing,
// an apply keeps it, and the export carries it.
func TestARunTimeRotationEditIsDriftThatAnApplyKeeps(t *testing.T) {
	h := New(t, WithConfig(applyObjects))
	files := map[string]string{"objects.yaml": strings.ReplaceAll(applyObjects, "%PERSONHOOK%", h.Webhook.PersonURL(""))}
	r := h.do("PATCH", "/api/v1/schedules/ops/layers/w", http.Header{"Authorization": {"Bearer api-secret"}, "Content-Type": {"application/json"}}, []byte(`{"add": "carol"}`))
	if r.Code != http.StatusOK {
		t.Fatalf("rotation edit = %d %s", r.Code, r.Body)
	}
	body, _ := json.Marshal(map[string]any{"files": files})
	pr := h.do("POST", "/api/v1/config/plan", http.Header{"Authorization": {"Bearer admin-secret-0123456789"}, "Content-Type": {"application/json"}}, body)
	var p struct {
		HasChanges bool `json:"has_changes"`
		Changes    []struct {
			Kind, Name, Action string
			KeepDrift          bool `json:"keep_drift"`
			Drift              []struct{ Path, New string }
		} `json:"changes"`
	}
	if err := json.Unmarshal(pr.Body, &p); err != nil || p.HasChanges || len(p.Changes) != 1 {
		t.Fatalf("plan after a rotation edit = %d %s", pr.Code, pr.Body)
	}
	c := p.Changes[0]
	if c.Kind != "schedule" || c.Action != "drift" || !c.KeepDrift || len(c.Drift) != 1 || c.Drift[0].Path != "layers[w].participants" || c.Drift[0].New != "[alice, carol]" {
		t.Fatalf("drift = %+v", c)
	}
	// An apply of the files elsewhere (bob's time zone) keeps the edit.
	changed := strings.Replace(files["objects.yaml"], `{name: bob, webhook`, `{name: bob, time_zone: Europe/Paris, webhook`, 1)
	if code, a := applyFiles(t, h, "/api/v1/config/apply", map[string]string{"objects.yaml": changed}); code != 200 || !a.Applied {
		t.Fatalf("apply = %d %+v", code, a)
	}
	on := h.API("GET", "/api/v1/schedules/ops/definition")
	if !strings.Contains(string(on.Body), `"participants":["alice","carol"]`) {
		t.Fatalf("after the apply the rotation is %s", on.Body)
	}
}
