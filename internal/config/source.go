package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem with a configuration, at the node it concerns:
// its file, line and column, and its field path in that file's own terms
// (teams[0].leads[1], counted within the file, not across the merged
// files). Its text is "ops.yaml:12:7: teams[0].leads[0]: person "bbo" is
// not in people (did you mean "bob"?)".
type FieldError struct {
	// File is the file as named to LoadPaths, "" for Parse.
	File string
	// Line and Column are 1-based; 0 when the problem is with something no
	// file sets (a default_route no file has).
	Line, Column int
	// Field is the path of the node, "" when the message names it itself.
	Field string
	Err   error
}

// Error says where, which field and what: "file:line:column: field: problem".
func (e *FieldError) Error() string {
	var b strings.Builder
	if pos := position(e.File, e.Line, e.Column); pos != "" {
		b.WriteString(pos)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns what is wrong, without where.
func (e *FieldError) Unwrap() error { return e.Err }

// position is "file:line:column" (the form editors and CI annotations
// jump to), "line L column C" for bytes that came from no file, or just
// the file when the line is unknown.
func position(file string, line, col int) string {
	switch {
	case line == 0:
		return file
	case file == "" && col == 0:
		return fmt.Sprintf("line %d", line)
	case file == "":
		return fmt.Sprintf("line %d column %d", line, col)
	case col == 0:
		return fmt.Sprintf("%s:%d", file, line)
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// source is one file of a configuration, kept after decoding so that the
// checks, which run on the merged Config, can name the node a problem is
// at.
type source struct {
	// name is the file as given, "" for Parse.
	name string
	// root is the document's top-level mapping, nil for an empty file.
	root *yaml.Node
	// refs holds the text as written of every scalar that ${NAME} was
	// expanded in, for the secret references an export writes back.
	refs map[*yaml.Node]string
}

// origin is where one element of a merged list came from: its file and
// its index in that file's list.
type origin struct {
	src   *source
	index int
}

// sources remembers, for a Config, the files it came from.
type sources struct {
	files []*source
	// lists holds, per list section (teams), the origin of each element
	// of the merged list.
	lists map[string][]origin
	// settings holds, per setting or single section (slack), the file
	// that set it and its key.
	settings map[string]setting
	// defined holds, per kind, the place each object is defined at
	// ("ops.yaml:12"), for SourceOf.
	defined map[string]map[string]string
}

type setting struct {
	src *source
	key *yaml.Node
}

func newSources() *sources {
	return &sources{lists: map[string][]origin{}, settings: map[string]setting{}, defined: map[string]map[string]string{}}
}

// place is where something is in the files.
type place struct {
	file      string
	line, col int
	// path is the field path within the file (teams[0].leads[1]).
	path string
}

// pos is the place as "file:line:column".
func (p place) pos() string { return position(p.file, p.line, p.col) }

// source is the place as "file:line" ("line N" for bytes from no file),
// "" when it is in no file.
func (p place) source() string {
	switch {
	case p.line == 0:
		return ""
	case p.file == "":
		return fmt.Sprintf("line %d", p.line)
	}
	return fmt.Sprintf("%s:%d", p.file, p.line)
}

// bare drops the field path, for messages that begin with the field's
// name themselves ("console_session must be longer than zero").
func (p place) bare() place {
	p.path = ""
	return p
}

// at is the place of sub within the i-th element of a merged list section
// (i counts across files; the path names the element's index in its own
// file). A sub path that is not in the file (a key left out) stops at the
// deepest node that is, so "name is required" points at the object.
func (c *Config) at(section string, i int, sub ...any) place {
	var o origin
	if c.src != nil && i < len(c.src.lists[section]) {
		o = c.src.lists[section][i]
	} else {
		o.index = i
	}
	return o.src.place(append([]any{section, o.index}, sub...))
}

// atSetting is the place of a setting or single section, or of sub within
// it.
func (c *Config) atSetting(key string, sub ...any) place {
	var s *source
	if c.src != nil {
		s = c.src.settings[key].src
	}
	return s.place(append([]any{key}, sub...))
}

func (s *source) place(path []any) place {
	if s == nil || s.root == nil {
		return place{path: fieldPath(path)}
	}
	n, depth := find(s.root, path)
	if depth == 0 {
		return place{file: s.name, path: fieldPath(path)}
	}
	return place{file: s.name, line: n.Line, col: n.Column, path: fieldPath(path[:depth])}
}

// ref is the text as written of the scalar at path, "" when no ${NAME}
// was expanded in it.
func (s *source) ref(path ...any) string {
	n, depth := find(s.root, path)
	if depth < len(path) {
		return ""
	}
	return s.refs[n]
}

// find follows path (mapping keys and sequence indexes) down from n. It
// returns the deepest node reached and how many elements of path led to
// it.
func find(n *yaml.Node, path []any) (*yaml.Node, int) {
	n = resolve(n)
	for depth, step := range path {
		var next *yaml.Node
		switch step := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for _, kv := range pairs(n) {
					if kv[0].Value == step {
						next = kv[1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && step < len(n.Content) {
				next = n.Content[step]
			}
		}
		if next == nil {
			return n, depth
		}
		n = resolve(next)
	}
	return n, len(path)
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// pairs returns the keys and values of mapping n with its merge keys
// (<<: *base) resolved as YAML has them: n's own keys, then those of the
// merged mappings that n does not set itself, earlier merges first.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			v = resolve(v)
			var from []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				from = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, m := range v.Content {
					from = append(from, resolve(m))
				}
			}
			for _, m := range from {
				if m.Kind == yaml.MappingNode {
					merged = append(merged, pairs(m)...)
				}
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
		seen[k.Value] = true
	}
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			own = append(own, kv)
			seen[kv[0].Value] = true
		}
	}
	return own
}

// fieldPath writes path as the file would: teams[0].leads[1].
func fieldPath(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch step := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(step)
		case int:
			b.WriteString("[" + strconv.Itoa(step) + "]")
		}
	}
	return b.String()
}

// joinSorted joins errs in the order a reader fixes them in: by file (in
// the order the files were read), line and column, with problems in no
// file last. The same problem found twice (through a YAML alias, say) is
// said once.
func joinSorted(files []*source, errs []error) error {
	order := map[string]int{}
	for i, f := range files {
		if _, ok := order[f.name]; !ok {
			order[f.name] = i
		}
	}
	key := func(err error) (int, int, int) {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return len(files), 0, 0
		}
		i, ok := order[fe.File]
		if !ok {
			i = len(files)
		}
		line := fe.Line
		if line == 0 {
			line = math.MaxInt // a problem of the file as a whole comes after its lines
		}
		return i, line, fe.Column
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		af, al, ac := key(a)
		bf, bl, bc := key(b)
		return cmp.Or(cmp.Compare(af, bf), cmp.Compare(al, bl), cmp.Compare(ac, bc))
	})
	seen := map[string]bool{}
	errs = slices.DeleteFunc(errs, func(err error) bool {
		dup := seen[err.Error()]
		seen[err.Error()] = true
		return dup
	})
	return errors.Join(errs...)
}
