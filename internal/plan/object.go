// Package plan is configuration as code: the objects a configuration
// defines (integrations, routes, people, teams, schedules, escalation
// policies, webhooks, API tokens), the applied set of them kept in the
// database as the one source of truth, and the plan that compares what the
// files want with what was applied and what is live, then applies it in
// one transaction. See docs/adr/0003-configuration-as-code.md.
package plan

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/oncallbot/bot/internal/config"
)

// Object kinds, in the order a plan lists them: what others refer to
// first.
const (
	KindIntegration      = "integration"
	KindPerson           = "person"
	KindSchedule         = "schedule"
	KindTeam             = "team"
	KindEscalationPolicy = "escalation_policy"
	KindRoute            = "route"
	KindDefaultRoute     = "default_route"
	KindWebhook          = "webhook"
	KindAPIToken         = "api_token"
)

var kindOrder = []string{KindIntegration, KindPerson, KindSchedule, KindTeam, KindEscalationPolicy,
	KindRoute, KindDefaultRoute, KindWebhook, KindAPIToken}

// Key names an object.
type Key struct{ Kind, Name string }

func (k Key) String() string { return k.Kind + " " + k.Name }

func compareKeys(a, b Key) int {
	if c := cmp.Compare(slices.Index(kindOrder, a.Kind), slices.Index(kindOrder, b.Kind)); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// Object is one definition: its spec is the canonical JSON of the
// definition in the file's own terms (YAML keys, zero values left out),
// with each secret replaced by a keyed digest and the ${NAME} it came
// from, never its value.
type Object struct {
	Key
	Spec json.RawMessage
	// Position is the object's place among those of its kind in the
	// files (1 for the first). For routes it is part of the definition
	// (they are tried in order); for the rest it only keeps the files'
	// order where a list is shown, and a plan ignores it.
	Position int
	// Source is where the object is defined ("ops.yaml:12"), "" when not
	// known.
	Source string
	// Secrets are the values the spec holds digests of, by field, for an
	// apply to keep; never printed.
	Secrets map[string]Secret `json:"-"`
	// StartDigest, on an applied object, is specDigest of the object as
	// the file the bot started with last defined it ("" if it did not).
	StartDigest string `json:"-"`
}

// startDigest identifies an object's definition (a route's place
// included), to tell whether the start file changed it since the bot last
// started.
func startDigest(o Object) string {
	b := []byte(o.Spec)
	if o.Kind == KindRoute {
		b = append([]byte(fmt.Sprintf("%d:", o.Position)), b...)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// Secret is a secret field's value and the ${NAME} it came from ("" when
// written literally).
type Secret struct {
	Value string
	Ref   string
}

// Set is a configuration's objects.
type Set map[Key]Object

// Keys lists the set's keys in plan order.
func (s Set) Keys() []Key {
	keys := make([]Key, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

// Digester makes the keyed digest a spec holds for a secret: the same
// value gives the same digest in one database, and a digest tells nothing
// of the value to whoever lacks the key.
type Digester []byte

// Digest returns the digest of value.
func (d Digester) Digest(value string) string {
	m := hmac.New(sha256.New, d)
	m.Write([]byte(value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:32]
}

// secretSpec is how a spec holds a secret.
type secretSpec struct {
	Digest string `json:"digest"`
	Ref    string `json:"ref,omitempty"`
}

// FromConfig returns the objects c defines. Secrets become digests made
// with d.
func FromConfig(c *config.Config, d Digester) (Set, error) {
	set := Set{}
	add := func(kind, name string, position int, def any, secrets map[string]Secret) error {
		spec, err := canonical(def)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, name, err)
		}
		if len(secrets) > 0 {
			var m map[string]any
			if err := json.Unmarshal(spec, &m); err != nil {
				return err
			}
			for field, s := range secrets {
				m[field] = secretSpec{Digest: d.Digest(s.Value), Ref: s.Ref}
			}
			if spec, err = json.Marshal(m); err != nil {
				return err
			}
		}
		k := Key{kind, name}
		if _, dup := set[k]; dup {
			return fmt.Errorf("%s is defined twice", k)
		}
		set[k] = Object{Key: k, Spec: spec, Position: position, Source: c.SourceOf(kind, name), Secrets: secrets}
		return nil
	}
	var errs []error
	try := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i, in := range c.Integrations {
		def := in
		def.Token = ""
		try(add(KindIntegration, in.Name, i+1, def, map[string]Secret{"token": {Value: in.Token, Ref: in.TokenRef}}))
	}
	for i, p := range c.People {
		try(add(KindPerson, p.Name, i+1, p, nil))
	}
	for i, s := range c.Schedules {
		try(add(KindSchedule, s.Name, i+1, s, nil))
	}
	for i, t := range c.Teams {
		try(add(KindTeam, t.Name, i+1, t, nil))
	}
	for i, p := range c.EscalationPolicies {
		try(add(KindEscalationPolicy, p.Name, i+1, p, nil))
	}
	for i, r := range c.Routes {
		try(add(KindRoute, r.Name, i+1, r, nil))
	}
	try(add(KindDefaultRoute, "default", 0, c.DefaultRoute, nil))
	for i, w := range c.Webhooks {
		def := w
		def.Secret = ""
		var secrets map[string]Secret
		if w.Secret != "" {
			secrets = map[string]Secret{"secret": {Value: w.Secret, Ref: w.SecretRef}}
		}
		try(add(KindWebhook, w.Name, i+1, def, secrets))
	}
	for i, t := range c.APITokens {
		def := t
		def.Token = ""
		try(add(KindAPIToken, t.Name, i+1, def, map[string]Secret{"token": {Value: t.Token, Ref: t.TokenRef}}))
	}
	if len(errs) > 0 {
		return nil, errorsJoin(errs)
	}
	return set, nil
}

// canonical is def's spec: marshalled as the file writes it, zero values
// dropped (so a default left out and a default written out are the same
// spec), as JSON with sorted keys.
func canonical(def any) (json.RawMessage, error) {
	b, err := yaml.Marshal(def)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	v = prune(v)
	if v == nil {
		v = map[string]any{}
	}
	return json.Marshal(v)
}

// prune drops zero values from maps (empty strings, zeros, nulls, empty
// lists and maps) and keeps list elements in place.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			if x = prune(x); !isZero(x) {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(t) == 0 {
			return nil
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = prune(x)
			if out[i] == nil {
				out[i] = map[string]any{}
			}
		}
		return out
	}
	return v
}

func isZero(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case int:
		return t == 0
	case float64:
		return t == 0
	case bool:
		// Kept: objects' only booleans are optional ones (a route's
		// triage), where false is a setting and not a default.
		return false
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}
