package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The kinds of object SourceOf knows, as the plan names them.
const (
	KindIntegration      = "integration"
	KindRoute            = "route"
	KindDefaultRoute     = "default_route" // its name is "default"
	KindPerson           = "person"
	KindTeam             = "team"
	KindSchedule         = "schedule"
	KindEscalationPolicy = "escalation_policy"
	KindWebhook          = "webhook"
	KindAPIToken         = "api_token"
)

// SourceOf returns where the object of kind and name is defined, as
// "file:line" ("line N" for a Config from Parse), or "" when it is not
// defined in any file. The default route is KindDefaultRoute "default".
func (c *Config) SourceOf(kind, name string) string {
	if c.src == nil {
		return ""
	}
	return c.src.defined[kind][name]
}

// listSections are the sections whose lists LoadPaths concatenates across
// files; every other key is a setting, which one file at most may set.
var listSections = []string{
	"integrations", "routes", "people", "teams", "schedules",
	"escalation_policies", "webhooks", "api_tokens", "console_tokens",
}

// Load reads and checks the file at path as LoadPaths does.
func Load(path string) (*Config, error) { return LoadPaths(path) }

// LoadPaths reads and checks a configuration kept in several files, one
// per team being typical. Each path is a file or a directory, whose .yaml
// and .yml files are read in the order of their names (not its
// subdirectories, nor its hidden files such as .gitlab-ci.yml). Every file
// has the whole schema. The lists of the sections in listSections are
// concatenated in the order of the paths, then of the files; so routes,
// which are tried in order, are tried in that order too. A setting or
// single section (listen, slack, default_route...) is set in one file at
// most. The merged configuration gets the defaults and checks of Parse,
// references across files included; every problem found is returned at
// once, sorted by file and line, each naming its file:line:column. Then
// the BOT_LISTEN and BOT_DB environment variables override listen and
// database (a BaseURL derived from listen follows BOT_LISTEN), and token
// lengths are checked against who can reach the bot.
func LoadPaths(paths ...string) (*Config, error) {
	files, err := configFiles(paths)
	if err != nil {
		return nil, err
	}
	l := newLoader()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		l.add(f, raw)
	}
	c, err := l.finish()
	if err != nil {
		return nil, err
	}
	if v := os.Getenv("BOT_LISTEN"); v != "" {
		c.Listen = v
		c.SetServingAddr(v)
	}
	if v := os.Getenv("BOT_DB"); v != "" {
		c.Database = v
	}
	if err := c.CheckTokenLengths(); err != nil {
		return nil, err
	}
	return c, nil
}

// configFiles lists the files paths name, each once.
func configFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("config: no file or directory given")
	}
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		// A file named twice (by itself and by its directory) is read
		// once, or each of its objects would be its own duplicate.
		key := f
		if abs, err := filepath.Abs(f); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		n := len(out)
		for _, e := range entries {
			name := e.Name()
			ext := filepath.Ext(name)
			if e.IsDir() || strings.HasPrefix(name, ".") || ext != ".yaml" && ext != ".yml" {
				continue
			}
			add(filepath.Join(p, name))
		}
		if len(out) == n {
			return nil, fmt.Errorf("config: directory %s has no .yaml or .yml file", p)
		}
	}
	return out, nil
}

// Parse decodes a configuration from bytes, fills defaults and checks it,
// as LoadPaths does for one file (without the environment overrides and
// token lengths). Unknown keys are errors, so a typo does not silently
// disable a route. ${NAME} in a value is replaced by the environment
// variable NAME (comments are left alone), so secrets can stay out of the
// file. Errors name "line L column C".
func Parse(raw []byte) (*Config, error) {
	l := newLoader()
	l.add("", raw)
	return l.finish()
}

// defaults is a Config before any file sets anything.
func defaults() *Config {
	return &Config{
		Listen:         "127.0.0.1:8080",
		Database:       "data/bot.db",
		ReopenWindow:   Duration(5 * time.Minute),
		ConsoleSession: Duration(12 * time.Hour),
	}
}

// loader merges files into one Config.
type loader struct {
	c    *Config
	errs []error
	// broken is set when a file could not be read as YAML at all: its
	// objects are missing, so checking references would only add
	// errors that are not there.
	broken bool
}

func newLoader() *loader {
	c := defaults()
	c.src = newSources()
	return &loader{c: c}
}

func (l *loader) fail(p place, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{File: p.file, Line: p.line, Column: p.col, Field: p.path, Err: fmt.Errorf(format, args...)})
}

// add reads one file into the merged Config: ${NAME}s expanded, the
// shape checked against the schema, then its lists appended and its
// settings taken.
func (l *loader) add(name string, raw []byte) {
	src := &source{name: name}
	l.c.src.files = append(l.c.src.files, src)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		l.errs = append(l.errs, syntaxError(name, err))
		l.broken = true
		return
	}
	if len(doc.Content) == 0 {
		return // empty, or only comments
	}
	src.root = doc.Content[0]
	src.refs = l.expandEnv(src)
	l.validate(src, src.root, reflect.TypeFor[Config](), nil)
	fc := defaults()
	// validate reported every node that would not decode and nulled it,
	// so this decode only fails on something validate does not know.
	if err := src.root.Decode(fc); err != nil {
		l.errs = append(l.errs, &FieldError{File: name, Err: err})
		l.broken = true
		return
	}
	for i := range fc.Integrations {
		fc.Integrations[i].TokenRef = src.ref("integrations", i, "token")
	}
	for i := range fc.APITokens {
		fc.APITokens[i].TokenRef = src.ref("api_tokens", i, "token")
	}
	for i := range fc.Webhooks {
		fc.Webhooks[i].SecretRef = src.ref("webhooks", i, "secret")
	}
	l.merge(src, fc)
}

// yamlLine is how yaml's syntax errors say where they are.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError places a YAML syntax error at its line, as every other
// error is placed.
func syntaxError(file string, err error) error {
	fe := &FieldError{File: file, Err: err}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Err = errors.New("not valid YAML: " + strings.TrimPrefix(err.Error(), m[0]))
	}
	return fe
}

// finish checks the merged Config.
func (l *loader) finish() (*Config, error) {
	if !l.broken {
		if err := l.c.check(); err != nil {
			l.errs = append(l.errs, flatten(err)...)
		}
	}
	if len(l.errs) > 0 {
		return nil, joinSorted(l.c.src.files, l.errs)
	}
	return l.c, nil
}

// flatten undoes errors.Join, so errors from check sort among the others.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// merge takes fc, decoded from src, into the merged Config by its keys:
// the keys src sets, not the values that differ from the zero value, so a
// setting written out as its default still counts as set.
func (l *loader) merge(src *source, fc *Config) {
	into, from := reflect.ValueOf(l.c).Elem(), reflect.ValueOf(fc).Elem()
	fields := yamlFields(into.Type())
	for _, kv := range pairs(src.root) {
		key := kv[0].Value
		f, ok := fields[key]
		if !ok {
			continue // an unknown key, reported by validate
		}
		dst, v := into.FieldByIndex(f.Index), from.FieldByIndex(f.Index)
		if slices.Contains(listSections, key) {
			for i := range v.Len() {
				l.c.src.lists[key] = append(l.c.src.lists[key], origin{src: src, index: i})
			}
			dst.Set(reflect.AppendSlice(dst, v))
			continue
		}
		here := place{file: src.name, line: kv[0].Line, col: kv[0].Column, path: key}
		if prev, ok := l.c.src.settings[key]; ok {
			l.fail(here, "also set at %s; a setting or single section is set in one file only", position(prev.src.name, prev.key.Line, prev.key.Column))
			continue
		}
		l.c.src.settings[key] = setting{src: src, key: kv[0]}
		dst.Set(v)
	}
}

// envRef matches ${NAME}: secrets can stay out of the file. The braces are
// required so a regex's "$" is never taken for a variable.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces each ${NAME} in src's scalars by the environment
// variable NAME, before decoding, so that it works in any field. It
// returns the text as written of each scalar it changed: the decoded
// Config has only the secret, and an export must write the reference
// back instead.
func (l *loader) expandEnv(src *source) map[*yaml.Node]string {
	refs := map[*yaml.Node]string{}
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.ScalarNode:
			if !envRef.MatchString(n.Value) {
				return
			}
			refs[n] = n.Value
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := os.LookupEnv(name)
				if !ok {
					l.fail(place{file: src.name, line: n.Line, col: n.Column, path: fieldPath(path)}, "environment variable %s is not set", name)
				}
				return v
			})
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				walk(k, path)
				walk(n.Content[i+1], append(slices.Clip(path), k.Value))
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				walk(e, append(slices.Clip(path), i))
			}
		}
		// An alias's node is walked where its anchor is.
	}
	walk(src.root, nil)
	return refs
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// validate checks n against the type it decodes into, t: every key is a
// field of t (what yaml's KnownFields does, but naming the node and
// suggesting the key meant) and every value decodes. A value that does not
// is reported and replaced by null, so the file still decodes and every
// other problem in it is found too.
func (l *loader) validate(src *source, n *yaml.Node, t reflect.Type, path []any) {
	n = resolve(n)
	if n == nil || n.ShortTag() == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	here := func() place { return place{file: src.name, line: n.Line, col: n.Column, path: fieldPath(path)} }
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		l.decodes(src, n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.fail(here(), "want a mapping (key: value), not %s", nodeKind(src, n))
			blank(n)
			return
		}
		dropDuplicateKeys(src, n, path, l.fail)
		fields := yamlFields(t)
		var keys []string
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, kv := range pairs(n) {
			key := kv[0].Value
			f, ok := fields[key]
			if !ok {
				p := place{file: src.name, line: kv[0].Line, col: kv[0].Column, path: fieldPath(append(slices.Clip(path), key))}
				l.fail(p, "unknown key%s", didYouMean(key, keys))
				continue
			}
			l.validate(src, kv[1], f.Type, append(slices.Clip(path), key))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.fail(here(), "want a list, not %s", nodeKind(src, n))
			blank(n)
			return
		}
		for i, e := range n.Content {
			l.validate(src, e, t.Elem(), append(slices.Clip(path), i))
		}
	default:
		l.decodes(src, n, t, path)
	}
}

// dropDuplicateKeys reports each key that mapping n sets twice and drops
// the second, which yaml would refuse only when decoding the whole file,
// stopping there.
func dropDuplicateKeys(src *source, n *yaml.Node, path []any, fail func(place, string, ...any)) {
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); {
		k := n.Content[i]
		if f, ok := first[k.Value]; ok && k.Kind == yaml.ScalarNode && k.Value != "<<" {
			p := place{file: src.name, line: k.Line, col: k.Column, path: fieldPath(append(slices.Clip(path), k.Value))}
			fail(p, "set twice in this mapping, first at %s", position(src.name, f.Line, f.Column))
			n.Content = slices.Delete(n.Content, i, i+2)
			continue
		}
		first[k.Value] = k
		i += 2
	}
}

// lineRef is the "line N: " yaml and Duration put before their messages;
// the loader's own position replaces it.
var lineRef = regexp.MustCompile(`^line \d+: `)

// decodes reports whether n decodes into a t, and if not reports why at n
// and nulls it.
func (l *loader) decodes(src *source, n *yaml.Node, t reflect.Type, path []any) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	p := place{file: src.name, line: n.Line, col: n.Column, path: fieldPath(path)}
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		msg = lineRef.ReplaceAllString(msg, "")
		if ref, ok := src.refs[n]; ok && n.Value != "" {
			// yaml quotes the value it could not decode; a value from
			// ${NAME} may be a secret, and errors end up in logs.
			msg = strings.ReplaceAll(msg, n.Value, ref)
		}
		l.fail(p, "%s", msg)
	}
	blank(n)
}

// blank makes n a null, which decodes as if the key were not there.
func blank(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// nodeKind says what n is, for a value of the wrong shape: a scalar is
// shown as written, so a secret that came from ${NAME} stays a reference.
func nodeKind(src *source, n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if ref, ok := src.refs[n]; ok {
		return fmt.Sprintf("%q", ref)
	}
	return fmt.Sprintf("%q", n.Value)
}

// yamlFields maps the keys of struct t to its fields, as yaml names them:
// the tag's name, or the field's name in lower case; "-" is not a key.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || strings.Contains(opts, "inline") {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// ParseFiles is LoadPaths for files given by name and content (a
// configuration uploaded to the API), in name order, without the
// environment overrides and the token-length check, which belong to the
// server that takes them.
func ParseFiles(files map[string][]byte) (*Config, error) {
	if len(files) == 0 {
		return nil, errors.New("config: no file given")
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	l := newLoader()
	for _, n := range names {
		l.add(n, files[n])
	}
	return l.finish()
}

// objectSections are the file's keys that define objects (what plan and
// apply manage); every other key is a server setting.
var objectSections = []string{"integrations", "routes", "default_route", "people", "teams", "schedules",
	"escalation_policies", "webhooks", "api_tokens"}

// ServerSettings lists, as "file:line: key", the server settings the files
// set: what an apply to a running bot does not change (listen, database,
// platform credentials...).
func (c *Config) ServerSettings() []string {
	if c.src == nil {
		return nil
	}
	var out []string
	for key, s := range c.src.settings {
		if !slices.Contains(objectSections, key) {
			out = append(out, position(s.src.name, s.key.Line, s.key.Column)+": "+key)
		}
	}
	for key, origins := range c.src.lists {
		if !slices.Contains(objectSections, key) && len(origins) > 0 {
			out = append(out, origins[0].src.name+": "+key)
		}
	}
	slices.Sort(out)
	return out
}

// Settings returns a copy of c for a configuration built in code from
// it (the running one, from the applied set): server settings and
// objects as c has them, but no file positions, which would name places
// in c's files that the new objects do not come from.
func (c *Config) Settings() *Config {
	d := *c
	d.src = nil
	return &d
}

// TeamNamesIn returns the names of the teams the file or directory at path
// defines, read leniently (the files need not validate; ones that do not
// parse at all give none): who to tell that a reload of them failed.
func TeamNamesIn(path string) []string {
	files, err := configFiles([]string{path})
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var doc struct {
			Teams []struct {
				Name string `yaml:"name"`
			} `yaml:"teams"`
		}
		if yaml.Unmarshal(raw, &doc) != nil {
			continue
		}
		for _, t := range doc.Teams {
			if t.Name != "" {
				out = append(out, t.Name)
			}
		}
	}
	return out
}
