package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FieldChange is one field of an object that an update changes, in the
// file's terms: Path like "members" or "layers[weekly].participants", Old
// and New as compact YAML-ish values ("" when absent). A secret shows only
// that it changed.
type FieldChange struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Diff lists the fields that differ between two specs, in path order.
func Diff(old, new json.RawMessage) ([]FieldChange, error) {
	var a, b any
	if len(old) > 0 {
		if err := json.Unmarshal(old, &a); err != nil {
			return nil, fmt.Errorf("old spec: %w", err)
		}
	}
	if len(new) > 0 {
		if err := json.Unmarshal(new, &b); err != nil {
			return nil, fmt.Errorf("new spec: %w", err)
		}
	}
	var out []FieldChange
	diffValue("", a, b, &out)
	return out, nil
}

func diffValue(path string, a, b any, out *[]FieldChange) {
	if equal(a, b) {
		return
	}
	am, aMap := a.(map[string]any)
	bm, bMap := b.(map[string]any)
	switch {
	case isSecret(a) && isSecret(b) && digestOf(a) == digestOf(b):
		return // the same value, whichever ${NAME} it now comes from
	case isSecret(a) || isSecret(b):
		*out = append(*out, secretChange(path, a, b))
		return
	case aMap && bMap:
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			diffValue(join(path, k), am[k], bm[k], out)
		}
		return
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if (aList || a == nil) && (bList || b == nil) && named(al) && named(bl) && (len(al) > 0 || len(bl) > 0) {
		diffNamed(path, al, bl, out)
		return
	}
	*out = append(*out, FieldChange{Path: path, Old: render(a), New: render(b)})
}

// named reports whether every element of l is a map with a name, so a
// list is compared element by element by name (a schedule's layers) and
// not as a whole.
func named(l []any) bool {
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

func diffNamed(path string, a, b []any, out *[]FieldChange) {
	byName := func(l []any) (map[string]any, []string) {
		m := map[string]any{}
		var order []string
		for _, x := range l {
			n := x.(map[string]any)["name"].(string)
			m[n] = x
			order = append(order, n)
		}
		return m, order
	}
	am, aOrder := byName(a)
	bm, bOrder := byName(b)
	for _, n := range bOrder {
		diffValue(path+"["+n+"]", am[n], bm[n], out)
	}
	for _, n := range aOrder {
		if _, kept := bm[n]; !kept {
			diffValue(path+"["+n+"]", am[n], nil, out)
		}
	}
	// The same names in another order is a change too (routes' matchers
	// are not named; layers are: a later layer wins).
	if len(aOrder) == len(bOrder) && !slices.Equal(aOrder, bOrder) {
		same := true
		for _, n := range aOrder {
			_, ok := bm[n]
			same = same && ok
		}
		if same {
			*out = append(*out, FieldChange{Path: path + " (order)", Old: strings.Join(aOrder, ", "), New: strings.Join(bOrder, ", ")})
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func isSecret(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, has := m["digest"]
	return has && len(m) <= 2
}

func digestOf(v any) string {
	m, _ := v.(map[string]any)
	d, _ := m["digest"].(string)
	return d
}

func secretChange(path string, a, b any) FieldChange {
	ref := func(v any) string {
		m, _ := v.(map[string]any)
		r, _ := m["ref"].(string)
		return r
	}
	digest := func(v any) string {
		m, _ := v.(map[string]any)
		d, _ := m["digest"].(string)
		return d
	}
	show := func(v any) string {
		if v == nil {
			return ""
		}
		if r := ref(v); r != "" {
			return "(secret from " + r + ")"
		}
		return "(secret)"
	}
	c := FieldChange{Path: path, Old: show(a), New: show(b)}
	if a != nil && b != nil && digest(a) != digest(b) {
		c.New += " (changed)"
	}
	return c
}

// render shows a value compactly: scalars as written, lists and maps as
// flow YAML would.
func render(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		if t == "" || strings.ContainsAny(t, ",:[]{}#\"'") || strings.TrimSpace(t) != t {
			return strconv.Quote(t)
		}
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = render(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + render(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func errorsJoin(errs []error) error { return errors.Join(errs...) }
