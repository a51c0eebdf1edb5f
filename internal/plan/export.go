package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/oncallbot/bot/internal/config"
)

// sections are the file's list sections, by kind, in the order an export
// writes them.
var sections = []struct{ kind, key, file string }{
	{KindIntegration, "integrations", "integrations.yaml"},
	{KindPerson, "people", "people.yaml"},
	{KindSchedule, "schedules", "schedules.yaml"},
	{KindTeam, "teams", "teams.yaml"},
	{KindEscalationPolicy, "escalation_policies", "escalation_policies.yaml"},
	{KindRoute, "routes", "routes.yaml"},
	{KindWebhook, "webhooks", "webhooks.yaml"},
	{KindAPIToken, "api_tokens", "api_tokens.yaml"},
}

// secretFields are the spec fields that hold secrets, by kind.
var secretFields = map[string][]string{
	KindIntegration: {"token"},
	KindWebhook:     {"secret"},
	KindAPIToken:    {"token"},
}

// Export writes set as YAML files in dir, one per section
// (people.yaml, teams.yaml...; the default route goes with the routes),
// that LoadPaths and apply accept. A secret is written as the ${NAME} it
// came from, or, when it was written literally, as a ${NAME} made from
// its object, which the returned list names so whoever applies the export
// sets them; its value is never written.
func Export(set Set, dir string) (envNeeded []string, err error) {
	files, env, err := ExportFiles(set)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// ExportFiles is Export's files by name, in memory (for the API).
func ExportFiles(set Set) (files map[string][]byte, envNeeded []string, err error) {
	files = map[string][]byte{}
	for _, sec := range sections {
		var items []*yaml.Node
		var objs []Object
		for _, k := range set.Keys() {
			if k.Kind == sec.kind {
				objs = append(objs, set[k])
			}
		}
		slices.SortStableFunc(objs, func(a, b Object) int { return a.Position - b.Position })
		for _, o := range objs {
			n, env, err := exportNode(o)
			if err != nil {
				return nil, nil, err
			}
			envNeeded = append(envNeeded, env...)
			items = append(items, n)
		}
		doc := &yaml.Node{Kind: yaml.MappingNode}
		if len(items) > 0 {
			doc.Content = append(doc.Content, scalar(sec.key), &yaml.Node{Kind: yaml.SequenceNode, Content: items})
		}
		if sec.kind == KindRoute {
			if d, ok := set[Key{KindDefaultRoute, "default"}]; ok {
				n, _, err := exportNode(d)
				if err != nil {
					return nil, nil, err
				}
				doc.Content = append(doc.Content, scalar("default_route"), n)
			}
		}
		if len(doc.Content) == 0 {
			continue
		}
		b, err := yaml.Marshal(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}})
		if err != nil {
			return nil, nil, err
		}
		header := "# Exported by `bot export`: the applied configuration, run-time rotation edits folded in.\n"
		files[sec.file] = append([]byte(header), b...)
	}
	return files, envNeeded, nil
}

var notEnvChar = regexp.MustCompile(`[^A-Z0-9_]+`)

// exportNode renders an object's spec as a YAML mapping, name first,
// secrets as ${NAME}.
func exportNode(o Object) (*yaml.Node, []string, error) {
	var m map[string]any
	if err := json.Unmarshal(o.Spec, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.Key, err)
	}
	var env []string
	for _, f := range secretFields[o.Kind] {
		s, ok := m[f].(map[string]any)
		if !ok {
			continue
		}
		ref, _ := s["ref"].(string)
		if ref == "" {
			name := "BOT_" + notEnvChar.ReplaceAllString(strings.ToUpper(o.Kind+"_"+o.Name+"_"+f), "_")
			ref = "${" + name + "}"
			env = append(env, name+" ("+o.Kind+" "+o.Name+" "+f+")")
		}
		m[f] = ref
	}
	var n yaml.Node
	if err := n.Encode(m); err != nil {
		return nil, nil, err
	}
	nameFirst(&n)
	return &n, env, nil
}

// nameFirst moves a mapping's "name" key to the front, recursively, so an
// export reads as a person would write it.
func nameFirst(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" && i > 0 {
				k, v := n.Content[i], n.Content[i+1]
				n.Content = append(n.Content[:i], n.Content[i+2:]...)
				n.Content = append([]*yaml.Node{k, v}, n.Content...)
				break
			}
		}
	}
	for _, c := range n.Content {
		nameFirst(c)
	}
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// Objects fills c's object sections (integrations, people, schedules,
// teams, escalation policies, routes in order, the default route,
// webhooks, API tokens) from set, secrets from the values set holds.
// Server settings of c are left as they are.
func Objects(c *config.Config, set Set) error {
	c.Integrations, c.People, c.Schedules, c.Teams = nil, nil, nil, nil
	c.EscalationPolicies, c.Routes, c.Webhooks, c.APITokens = nil, nil, nil, nil
	var routes []Object
	keys := set.Keys()
	// The files' order within each kind (the kinds' order does not matter
	// here): shown lists follow it, and routes are tried in it.
	slices.SortStableFunc(keys, func(a, b Key) int {
		if a.Kind != b.Kind {
			return compareKeys(a, b)
		}
		if c := set[a].Position - set[b].Position; c != 0 {
			return c
		}
		return compareKeys(a, b)
	})
	for _, k := range keys {
		o := set[k]
		var err error
		switch k.Kind {
		case KindIntegration:
			var v config.Integration
			if err = decodeSpec(o, &v); err == nil {
				v.Token, v.TokenRef = o.Secrets["token"].Value, o.Secrets["token"].Ref
				c.Integrations = append(c.Integrations, v)
			}
		case KindPerson:
			var v config.Person
			if err = decodeSpec(o, &v); err == nil {
				c.People = append(c.People, v)
			}
		case KindSchedule:
			var v config.Schedule
			if err = decodeSpec(o, &v); err == nil {
				c.Schedules = append(c.Schedules, v)
			}
		case KindTeam:
			var v config.Team
			if err = decodeSpec(o, &v); err == nil {
				c.Teams = append(c.Teams, v)
			}
		case KindEscalationPolicy:
			var v config.EscalationPolicy
			if err = decodeSpec(o, &v); err == nil {
				c.EscalationPolicies = append(c.EscalationPolicies, v)
			}
		case KindRoute:
			routes = append(routes, o)
		case KindDefaultRoute:
			err = decodeSpec(o, &c.DefaultRoute)
		case KindWebhook:
			var v config.Webhook
			if err = decodeSpec(o, &v); err == nil {
				v.Secret, v.SecretRef = o.Secrets["secret"].Value, o.Secrets["secret"].Ref
				c.Webhooks = append(c.Webhooks, v)
			}
		case KindAPIToken:
			var v config.APIToken
			if err = decodeSpec(o, &v); err == nil {
				v.Token, v.TokenRef = o.Secrets["token"].Value, o.Secrets["token"].Ref
				c.APITokens = append(c.APITokens, v)
			}
		default:
			err = fmt.Errorf("unknown kind")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	slices.SortStableFunc(routes, func(a, b Object) int { return a.Position - b.Position })
	for _, o := range routes {
		var v config.Route
		if err := decodeSpec(o, &v); err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		c.Routes = append(c.Routes, v)
	}
	return nil
}

// decodeSpec reads a spec into its config type through YAML, as the file
// would be read (durations as "5m", severities by name); secret fields are
// left empty for the caller to fill.
func decodeSpec(o Object, v any) error {
	var m map[string]any
	if err := json.Unmarshal(o.Spec, &m); err != nil {
		return err
	}
	for _, f := range secretFields[o.Kind] {
		delete(m, f)
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
