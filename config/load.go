package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads the file at path and returns its config with defaults applied
// and validated. Errors name the file, line and key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The PathError would name the file a second time.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, data)
}

// Parse reads a config from data, naming it file in errors and resolving
// relative paths (TLS files, Unix sockets) against file's directory.
//
// A key that is absent takes its default; in particular a file without
// transports or realms gets those of Default, and an empty file is the
// default node. A list given but empty is an error: it is more likely a
// mistake than a wish for a node that serves nothing.
func Parse(file string, data []byte) (*Config, error) {
	body, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{
		file:    file,
		dir:     filepath.Dir(file),
		anchors: make(map[string][]*ast.AnchorNode),
		pos:     make(map[string]position),
	}
	if body != nil {
		ast.Walk(d, body)
	}
	c := d.config(body)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	c.File = file
	c.pos = d.pos
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseYAML returns the body of the file's one document, nil when the file
// holds none (empty, or only comments).
func parseYAML(file string, data []byte) (body ast.Node, err error) {
	defer func() {
		// go-yaml's parser has panicked on malformed input in past
		// releases; a bad config must be an error, never a crash.
		if r := recover(); r != nil {
			body, err = nil, &Error{File: file, Err: &detail{fmt.Sprintf("YAML parser failed: %v", r), ErrSyntax}}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		e := &Error{File: file, Err: &detail{perr.Error(), ErrSyntax}}
		var ye yaml.Error
		if errors.As(perr, &ye) {
			e.Err = &detail{ye.GetMessage(), ErrSyntax}
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Col = tk.Position.Line, tk.Position.Column
			}
		}
		return nil, e
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			p := posOf(doc.Body)
			return nil, &Error{File: file, Line: p.line, Col: p.col,
				Err: &detail{"more than one YAML document", ErrSyntax}}
		}
		body = doc.Body
	}
	return body, nil
}

type position struct{ line, col int }

// posOf places a node where a reader would look for it: a block mapping's
// own token is the first ':', so it is placed at its first key instead.
func posOf(n ast.Node) position {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && !m.IsFlowStyle {
			return posOf(m.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return posOf(m.Key)
	}
	if n == nil {
		return position{}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return position{}
	}
	return position{tk.Position.Line, tk.Position.Column}
}

func before(a, b *token.Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
}

// Key sets of each mapping, for "did you mean" hints.
var topKeys = []string{"log", "transports", "realms", "limits", "metrics", "cluster", "console"}

// decoder walks the YAML AST by hand rather than through yaml.Unmarshal:
// go-yaml's decoder reports a token but not the key path, and cannot place
// errors of our own value syntax (sizes, durations, addresses). Walking
// the schema ourselves places every error exactly and lets Parse report
// all of them at once.
type decoder struct {
	file    string
	dir     string
	anchors map[string][]*ast.AnchorNode
	pos     map[string]position
	errs    Errors
	// merged counts entries copied by merge keys, bounded so that nested
	// aliases cannot blow a small file up into an enormous one.
	merged int
}

const (
	maxMerged     = 10000
	maxMergeDepth = 8
	maxAliasChain = 64
)

// Visit collects anchors before the schema walk, which needs them.
func (d *decoder) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		name := a.Name.GetToken().Value
		d.anchors[name] = append(d.anchors[name], a)
	}
	return d
}

func (d *decoder) fail(p position, key string, err error) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Key: key, Err: err})
	}
}

func (d *decoder) failf(n ast.Node, key string, sentinel error, format string, args ...any) {
	d.fail(posOf(n), key, &detail{fmt.Sprintf(format, args...), sentinel})
}

// resolve strips anchors, tags and aliases off n. It returns nil for a
// null or absent value, and ok=false after reporting an error.
func (d *decoder) resolve(n ast.Node, key string) (ast.Node, bool) {
	for range maxAliasChain {
		switch v := n.(type) {
		case nil, *ast.NullNode, *ast.CommentGroupNode:
			return nil, true
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			// Standard tags (!!str, !!int) change nothing here, as each
			// setting reads its value its own way; other tags would
			// promise an expansion (!env) that this loader does not do.
			if tag := v.Start.Value; !strings.HasPrefix(tag, "!!") {
				d.failf(v, key, ErrType, "unsupported tag %s", tag)
				return nil, false
			}
			n = v.Value
		case *ast.AliasNode:
			a := d.anchor(v)
			if a == nil {
				d.failf(v, key, ErrSyntax, "undefined alias %q", v.Value.GetToken().Value)
				return nil, false
			}
			n = a.Value
		default:
			return n, true
		}
	}
	d.failf(n, key, ErrSyntax, "aliases nested too deep")
	return nil, false
}

// anchor finds the anchor an alias refers to: the last one of that name
// before it, since YAML lets a later anchor redefine a name.
func (d *decoder) anchor(al *ast.AliasNode) *ast.AnchorNode {
	if al.Value == nil {
		return nil
	}
	var found *ast.AnchorNode
	for _, a := range d.anchors[al.Value.GetToken().Value] {
		if before(a.Start.Position, al.Start.Position) {
			found = a
		}
	}
	return found
}

// kind names a node's type the way the error messages want it.
func kind(n ast.Node) string {
	switch n.(type) {
	case nil:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	}
	return "a string"
}

// scalar returns the text of a scalar node as the file wrote it.
func scalar(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// entry is one key of a mapping, merged keys included.
type entry struct {
	name string
	key  ast.Node
	val  ast.Node
	path string
}

// mapping returns the entries of the mapping at n (none for null). The
// order is the file's; keys from merge keys ("<<: *base") come after and
// only where the mapping does not set them itself, as YAML specifies.
func (d *decoder) mapping(n ast.Node, path string) ([]entry, bool) {
	return d.mappingDepth(n, path, 0)
}

func (d *decoder) mappingDepth(n ast.Node, path string, depth int) ([]entry, bool) {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return nil, ok
	}
	var values []*ast.MappingValueNode
	switch m := r.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		d.failf(n, path, ErrType, "expected a mapping, got %s", kind(r))
		return nil, false
	}
	var es, merged []entry
	ok = true
	for _, mv := range values {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			m, mok := d.merge(mv.Value, path, depth)
			merged = append(merged, m...)
			ok = ok && mok
			continue
		}
		kn, kok := d.resolve(mv.Key, path)
		if mk, isKey := kn.(*ast.MappingKeyNode); isKey && kok {
			kn, kok = d.resolve(mk.Value, path)
		}
		name, sok := scalar(kn)
		if !kok || !sok {
			if kok {
				d.failf(mv.Key, path, ErrType, "a key must be a string, not %s", kind(kn))
			}
			ok = false
			continue
		}
		e := entry{name: name, key: mv.Key, val: mv.Value, path: join(path, name)}
		if block(mv.Value) {
			// An error about a whole block ("tls: cannot load key pair")
			// reads best on the line of its key, not of its first child.
			d.mark(e.path, mv.Key)
		}
		es = append(es, e)
	}
	for _, m := range merged {
		if !hasEntry(es, m.name) {
			es = append(es, m)
		}
	}
	return es, ok
}

func (d *decoder) merge(n ast.Node, path string, depth int) ([]entry, bool) {
	if depth >= maxMergeDepth {
		d.failf(n, path, ErrSyntax, "merge keys nested too deep")
		return nil, false
	}
	r, ok := d.resolve(n, path)
	if !ok {
		return nil, false
	}
	srcs := []ast.Node{n}
	if s, isSeq := r.(*ast.SequenceNode); isSeq {
		srcs = s.Values
	}
	var es []entry
	for _, src := range srcs {
		m, mok := d.mappingDepth(src, path, depth+1)
		ok = ok && mok
		for _, e := range m {
			if !hasEntry(es, e.name) {
				es = append(es, e)
			}
		}
		d.merged += len(m)
		if d.merged > maxMerged {
			d.failf(n, path, ErrSyntax, "merge keys expand to too many keys")
			return nil, false
		}
	}
	return es, ok
}

func block(n ast.Node) bool {
	switch v := n.(type) {
	case *ast.MappingNode:
		return !v.IsFlowStyle
	case *ast.SequenceNode:
		return !v.IsFlowStyle
	}
	return false
}

func hasEntry(es []entry, name string) bool {
	for _, e := range es {
		if e.name == name {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mark records where the value at path stands, for Validate.
func (d *decoder) mark(path string, n ast.Node) {
	if _, seen := d.pos[path]; !seen && n != nil {
		d.pos[path] = posOf(n)
	}
}

func (d *decoder) unknown(e entry, path string, known []string) {
	msg := fmt.Sprintf("unknown key %q", e.name)
	if s := suggest(e.name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.fail(posOf(e.key), path, &detail{msg, ErrUnknownKey})
}

// list returns the items of the list at n, none for null; ok is false
// when n is no list.
func (d *decoder) list(n ast.Node, path string) (items []ast.Node, ok bool) {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return nil, ok
	}
	s, isSeq := r.(*ast.SequenceNode)
	if !isSeq {
		d.failf(n, path, ErrType, "expected a list, got %s", kind(r))
		return nil, false
	}
	for i, item := range s.Values {
		d.mark(fmt.Sprintf("%s[%d]", path, i), item)
	}
	return s.Values, true
}

// str reads a string. Numbers and booleans are taken as written (a realm
// may well be called 2024); null is "".
func (d *decoder) str(n ast.Node, path string) (string, bool) {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return "", ok
	}
	s, isScalar := scalar(r)
	if !isScalar {
		d.failf(n, path, ErrType, "expected a string, got %s", kind(r))
		return "", false
	}
	return s, true
}

func (d *decoder) boolean(n ast.Node, path string) bool {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return false
	}
	b, isBool := r.(*ast.BoolNode)
	if !isBool {
		d.failf(n, path, ErrType, "expected true or false, got %s", kind(r))
		return false
	}
	return b.Value
}

// integer reads a non-negative count.
func (d *decoder) integer(n ast.Node, path string) int {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return 0
	}
	in, isInt := r.(*ast.IntegerNode)
	if !isInt {
		d.failf(n, path, ErrBadNumber, "expected a whole number, got %s", kind(r))
		return 0
	}
	v, ok := intValue(in)
	switch {
	case ok && v < 0:
		d.failf(n, path, ErrBadNumber, "%s: must not be negative", in.Token.Value)
	case !ok || v > MaxSize:
		d.failf(n, path, ErrBadNumber, "%s is too large (at most %d)", in.Token.Value, MaxSize)
	default:
		return int(v)
	}
	return 0
}

// intValue returns the value of an integer node, which go-yaml keeps as
// int64 or uint64; ok is false for a uint64 past int64.
func intValue(n *ast.IntegerNode) (v int64, ok bool) {
	switch i := n.Value.(type) {
	case int64:
		return i, true
	case uint64:
		if i <= math.MaxInt64 {
			return int64(i), true
		}
	}
	return 0, false
}

// size reads a byte count: an integer, or a string such as "64KiB". The
// range check is Validate's, so that it applies to a Config built in Go.
func (d *decoder) size(n ast.Node, path string) int {
	d.mark(path, n)
	r, ok := d.resolve(n, path)
	if !ok || r == nil {
		return 0
	}
	switch v := r.(type) {
	case *ast.IntegerNode:
		i, fits := intValue(v)
		switch {
		case !fits || i > 1<<62:
			d.failf(n, path, ErrBadSize, "bad size %s: too large", v.Token.Value)
		case i < 0:
			d.failf(n, path, ErrBadSize, "bad size %s: must not be negative", v.Token.Value)
		default:
			return int(i)
		}
	case *ast.StringNode:
		i, err := parseSize(v.Value)
		if err != nil {
			d.failf(n, path, ErrBadSize, "bad size %q: %v", v.Value, err)
			return 0
		}
		return int(i)
	default:
		d.failf(n, path, ErrBadSize, "expected a size such as 1048576 or \"16MiB\", got %s", kind(r))
	}
	return 0
}

func (d *decoder) duration(n ast.Node, path string) time.Duration {
	s, ok := d.str(n, path)
	if !ok || s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.failf(n, path, ErrBadDuration, "bad duration %q: want a Go duration such as \"30s\" or \"1m30s\"", s)
		return 0
	}
	return v
}

// localPath makes a file-relative path usable from the process's working
// directory.
func (d *decoder) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) config(n ast.Node) *Config {
	c := &Config{}
	var haveTransports, haveRealms bool
	es, _ := d.mapping(n, "")
	for _, e := range es {
		switch e.name {
		case "log":
			d.log(e, &c.Log)
		case "transports":
			haveTransports = true
			c.Transports = d.transports(e)
		case "realms":
			haveRealms = true
			c.Realms = d.realms(e)
		case "limits":
			d.limits(e, &c.Limits)
		case "metrics":
			d.metrics(e, &c.Metrics)
		case "cluster":
			c.Cluster = d.cluster(e)
		case "console":
			c.Console = d.console(e)
		default:
			d.unknown(e, "", topKeys)
		}
	}
	if !haveTransports {
		c.Transports = defaultTransports()
	}
	if !haveRealms {
		c.Realms = defaultRealms()
	}
	return c
}

// records reads a list of mappings into one T each: each is called with
// the item's T for every key of its mapping, and path names the item for
// errors ("realms[0].history[2]").
func records[T any](d *decoder, me entry, each func(t *T, e entry, path string)) []T {
	items, _ := d.list(me.val, me.path)
	ts := make([]T, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", me.path, i)
		es, _ := d.mapping(item, path)
		for _, e := range es {
			each(&ts[i], e, path)
		}
	}
	return ts
}

// suggest returns the known key closest to name when it is close enough to
// be a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // no typo is that long; skip the quadratic work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
