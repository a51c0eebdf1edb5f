package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/oncallbot/bot/internal/config"
)

// ErrNoObject is an object the applied configuration does not have.
var ErrNoObject = errors.New("no such object")

// Public is an object's spec as the API shows it: each secret written as
// the ${NAME} it came from, or "(secret)"; never its value.
func Public(o Object) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(o.Spec, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Key, err)
	}
	for _, f := range secretFields[o.Kind] {
		s, ok := m[f].(map[string]any)
		if !ok {
			continue
		}
		ref, _ := s["ref"].(string)
		if ref == "" {
			ref = "(secret)"
		}
		m[f] = ref
	}
	return json.Marshal(m)
}

// Put returns c with the object of kind and name replaced by the one spec
// defines (JSON in the file's own terms, as Public shows it), or added
// last of its kind. A spec's name, when it has one, must be name; a secret
// left out, or given as "(secret)" or its ${NAME}, keeps the value it had.
func Put(c *config.Config, kind, name string, spec json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(spec, &m); err != nil {
		return fmt.Errorf("the body is not a JSON object: %w", err)
	}
	if n, ok := m["name"]; ok && n != name && kind != KindDefaultRoute {
		return fmt.Errorf("name: the body names %v, the path %q", n, name)
	}
	if kind != KindDefaultRoute {
		m["name"] = name
	}
	keep := func(field string) bool { // a secret not given anew
		v, _ := m[field].(string)
		if v == "" || v == "(secret)" || envRef(v) {
			delete(m, field)
			return true
		}
		return false
	}
	o := Object{Key: Key{kind, name}}
	var err error
	if o.Spec, err = json.Marshal(m); err != nil {
		return err
	}
	switch kind {
	case KindIntegration:
		keepToken := keep("token")
		token, _ := m["token"].(string)
		var v config.Integration
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		i := slices.IndexFunc(c.Integrations, func(x config.Integration) bool { return x.Name == name })
		v.Token = token
		if keepToken && i >= 0 {
			v.Token, v.TokenRef = c.Integrations[i].Token, c.Integrations[i].TokenRef
		}
		c.Integrations = put(c.Integrations, i, v)
	case KindAPIToken:
		keepToken := keep("token")
		token, _ := m["token"].(string)
		var v config.APIToken
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		i := slices.IndexFunc(c.APITokens, func(x config.APIToken) bool { return x.Name == name })
		v.Token = token
		if keepToken && i >= 0 {
			v.Token, v.TokenRef = c.APITokens[i].Token, c.APITokens[i].TokenRef
		}
		c.APITokens = put(c.APITokens, i, v)
	case KindWebhook:
		keepSecret := keep("secret")
		secret, _ := m["secret"].(string)
		var v config.Webhook
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		i := slices.IndexFunc(c.Webhooks, func(x config.Webhook) bool { return x.Name == name })
		v.Secret = secret
		if keepSecret && i >= 0 {
			v.Secret, v.SecretRef = c.Webhooks[i].Secret, c.Webhooks[i].SecretRef
		}
		c.Webhooks = put(c.Webhooks, i, v)
	case KindPerson:
		var v config.Person
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.People = put(c.People, slices.IndexFunc(c.People, func(x config.Person) bool { return x.Name == name }), v)
	case KindTeam:
		var v config.Team
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.Teams = put(c.Teams, slices.IndexFunc(c.Teams, func(x config.Team) bool { return x.Name == name }), v)
	case KindSchedule:
		var v config.Schedule
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.Schedules = put(c.Schedules, slices.IndexFunc(c.Schedules, func(x config.Schedule) bool { return x.Name == name }), v)
	case KindEscalationPolicy:
		var v config.EscalationPolicy
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.EscalationPolicies = put(c.EscalationPolicies, slices.IndexFunc(c.EscalationPolicies, func(x config.EscalationPolicy) bool { return x.Name == name }), v)
	case KindRoute:
		var v config.Route
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.Routes = put(c.Routes, slices.IndexFunc(c.Routes, func(x config.Route) bool { return x.Name == name }), v)
	case KindDefaultRoute:
		var v config.Route
		if err := decodeSpec(o, &v); err != nil {
			return err
		}
		c.DefaultRoute = v
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}

// Remove returns whether c had the object of kind and name, and takes it
// out.
func Remove(c *config.Config, kind, name string) bool {
	drop := func(n int, del func()) bool {
		if n < 0 {
			return false
		}
		del()
		return true
	}
	switch kind {
	case KindIntegration:
		i := slices.IndexFunc(c.Integrations, func(x config.Integration) bool { return x.Name == name })
		return drop(i, func() { c.Integrations = slices.Delete(c.Integrations, i, i+1) })
	case KindAPIToken:
		i := slices.IndexFunc(c.APITokens, func(x config.APIToken) bool { return x.Name == name })
		return drop(i, func() { c.APITokens = slices.Delete(c.APITokens, i, i+1) })
	case KindWebhook:
		i := slices.IndexFunc(c.Webhooks, func(x config.Webhook) bool { return x.Name == name })
		return drop(i, func() { c.Webhooks = slices.Delete(c.Webhooks, i, i+1) })
	case KindPerson:
		i := slices.IndexFunc(c.People, func(x config.Person) bool { return x.Name == name })
		return drop(i, func() { c.People = slices.Delete(c.People, i, i+1) })
	case KindTeam:
		i := slices.IndexFunc(c.Teams, func(x config.Team) bool { return x.Name == name })
		return drop(i, func() { c.Teams = slices.Delete(c.Teams, i, i+1) })
	case KindSchedule:
		i := slices.IndexFunc(c.Schedules, func(x config.Schedule) bool { return x.Name == name })
		return drop(i, func() { c.Schedules = slices.Delete(c.Schedules, i, i+1) })
	case KindEscalationPolicy:
		i := slices.IndexFunc(c.EscalationPolicies, func(x config.EscalationPolicy) bool { return x.Name == name })
		return drop(i, func() { c.EscalationPolicies = slices.Delete(c.EscalationPolicies, i, i+1) })
	case KindRoute:
		i := slices.IndexFunc(c.Routes, func(x config.Route) bool { return x.Name == name })
		return drop(i, func() { c.Routes = slices.Delete(c.Routes, i, i+1) })
	}
	return false
}

func put[T any](list []T, i int, v T) []T {
	if i >= 0 {
		list[i] = v
		return list
	}
	return append(list, v)
}

func envRef(s string) bool { return len(s) > 3 && s[0] == '$' && s[1] == '{' && s[len(s)-1] == '}' }
