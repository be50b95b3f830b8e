package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// maxDepth bounds nesting while decoding, including alias and merge-key
// expansion, so hostile input cannot recurse without end.
const maxDepth = 64

// pos is a 1-based line and column in the config file.
type pos struct{ line, col int }

// decoder turns a goccy/go-yaml AST into the Config structs, strictly:
// every unknown field, wrong type and bad alias is reported, with its
// position, and decoding goes on so that all problems are found at once.
type decoder struct {
	errs    []*Error
	file    string
	pos     map[string]pos      // YAML path → position of its value
	anchors map[string]ast.Node // anchor name → value, once fully seen
	budget  int                 // nodes still allowed to be decoded
}

// maxNodes bounds the decoded nodes, alias expansions included.
const maxNodes = 1 << 20

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]pos{}, anchors: map[string]ast.Node{}, budget: maxNodes}
}

// errAt records a problem at node n (or at the position of path if n has none).
func (d *decoder) errAt(n ast.Node, path, format string, args ...any) {
	p, ok := nodePos(n)
	if !ok {
		p = d.lookup(path)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// lookup finds the position of path or of its nearest recorded parent; 1:1
// when none is known.
func (d *decoder) lookup(path string) pos {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		if path == "" {
			return pos{1, 1}
		}
		path = parentPath(path)
	}
}

// parentPath strips the last ".field" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// nodePos returns the position a reader would point at for n.
func nodePos(n ast.Node) (pos, bool) {
	if n == nil {
		return pos{}, false
	}
	var tk *token.Token
	switch n := n.(type) {
	case *ast.MappingNode:
		if len(n.Values) > 0 && n.Values[0].Key != nil {
			return nodePos(n.Values[0].Key)
		}
		tk = n.Start
	case *ast.MappingValueNode:
		return nodePos(n.Key)
	case *ast.LiteralNode:
		tk = n.Start
	case *ast.DocumentNode:
		return nodePos(n.Body)
	default:
		tk = n.GetToken()
	}
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return pos{}, false
	}
	col := tk.Position.Column
	if col < 1 {
		col = 1
	}
	return pos{tk.Position.Line, col}, true
}

// record remembers where path's value is, keeping the first position seen.
func (d *decoder) record(path string, n ast.Node, fallback ast.Node) {
	if _, ok := d.pos[path]; ok {
		return
	}
	if p, ok := nodePos(n); ok {
		d.pos[path] = p
	} else if p, ok := nodePos(fallback); ok {
		d.pos[path] = p
	}
}

// resolve strips anchors, tags and aliases from n. It returns nil for an
// alias that cannot be resolved, after reporting it.
func (d *decoder) resolve(n ast.Node, path string) (ast.Node, bool) {
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			// Only reached for anchors under tags or merge keys; decode
			// handles the usual case, registering after the value.
			d.register(v)
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errAt(v, path, "unknown anchor %q", name)
				return nil, false
			}
			n = target
		default:
			return n, true
		}
	}
	d.errAt(n, path, "aliases nested too deeply")
	return nil, false
}

// register makes an anchor usable by later aliases.
func (d *decoder) register(a *ast.AnchorNode) {
	if a.Name == nil || a.Name.GetToken() == nil {
		return
	}
	d.anchors[a.Name.GetToken().Value] = a.Value
}

// registerAll registers every anchor inside a subtree that is not decoded
// (an unknown field), so aliases to it still resolve.
func (d *decoder) registerAll(n ast.Node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		d.registerAll(v.Value, depth+1)
		d.register(v)
	case *ast.TagNode:
		d.registerAll(v.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.registerAll(mv.Key, depth+1)
			d.registerAll(mv.Value, depth+1)
		}
	case *ast.MappingValueNode:
		d.registerAll(v.Key, depth+1)
		d.registerAll(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, e := range v.Values {
			d.registerAll(e, depth+1)
		}
	case *ast.MappingKeyNode:
		d.registerAll(v.Value, depth+1)
	}
}

// kind names a node's type the way a config author would.
func kind(n ast.Node) string {
	switch n.(type) {
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
	case *ast.NullNode:
		return "null"
	default:
		return "a string"
	}
}

// spend takes one node from the budget, reporting (once) when it runs out.
func (d *decoder) spend(n ast.Node, path string) bool {
	d.budget--
	if d.budget == -1 {
		d.errAt(n, path, "too many nodes (alias expansion?)")
	}
	return d.budget >= 0
}

// decode fills dst (addressable) from n, recording positions under path.
// A null (or absent) value leaves dst at its zero value.
func (d *decoder) decode(dst reflect.Value, n ast.Node, path string, depth int) {
	if depth > maxDepth {
		d.errAt(n, path, "nested too deeply")
		return
	}
	if !d.spend(n, path) {
		return
	}
	if a, ok := n.(*ast.AnchorNode); ok {
		// Registered once the value is decoded, so an anchor cannot refer
		// to itself.
		d.decode(dst, a.Value, path, depth+1)
		d.register(a)
		return
	}
	n, ok := d.resolve(n, path)
	if !ok {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull || n == nil {
		dst.SetZero()
		return
	}
	switch dst.Kind() {
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		d.decode(v.Elem(), n, path, depth+1)
		dst.Set(v)
	case reflect.Struct:
		d.decodeStruct(dst, n, path, depth)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errAt(n, path, "want a list, got %s", kind(n))
			return
		}
		s := reflect.MakeSlice(dst.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			ep := path + "[" + strconv.Itoa(i) + "]"
			d.record(ep, e, seq)
			d.decode(s.Index(i), e, ep, depth+1)
		}
		dst.Set(s)
	case reflect.Map:
		d.decodeMap(dst, n, path, depth)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			d.errAt(n, path, "want a string, got %s", kind(n))
			return
		}
		dst.SetString(s)
	case reflect.Int, reflect.Int64:
		in, ok := n.(*ast.IntegerNode)
		if !ok {
			if s, isStr := n.(*ast.StringNode); isStr && isDigits(s.Value) {
				d.errAt(n, path, "integer out of range")
				return
			}
			d.errAt(n, path, "want an integer, got %s", kind(n))
			return
		}
		var i int64
		switch v := in.Value.(type) {
		case int64:
			i = v
		case uint64:
			if v > math.MaxInt64 {
				d.errAt(n, path, "integer out of range")
				return
			}
			i = int64(v)
		default:
			d.errAt(n, path, "integer out of range")
			return
		}
		if dst.OverflowInt(i) {
			d.errAt(n, path, "integer out of range")
			return
		}
		dst.SetInt(i)
	case reflect.Float64:
		switch v := n.(type) {
		case *ast.FloatNode:
			dst.SetFloat(v.Value)
		case *ast.IntegerNode:
			switch i := v.Value.(type) {
			case int64:
				dst.SetFloat(float64(i))
			case uint64:
				dst.SetFloat(float64(i))
			}
		default:
			d.errAt(n, path, "want a number, got %s", kind(n))
		}
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errAt(n, path, "want true or false, got %s", kind(n))
			return
		}
		dst.SetBool(b.Value)
	default:
		d.errAt(n, path, "cannot decode into %s", dst.Type())
	}
}

// isDigits reports whether s is an optionally signed decimal integer
// (one too large for the YAML parser to have typed as an integer).
func isDigits(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// scalarText is the text of a scalar node. Numbers and booleans are taken
// as written ("key_id: 2024" is the string "2024").
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// entries lists the key/value pairs of mapping node n, expanding merge keys
// ("<<: *base"); keys set explicitly win over merged ones.
func (d *decoder) entries(n ast.Node, path string, depth int) ([]*ast.MappingValueNode, bool) {
	if !d.spend(n, path) {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		d.errAt(n, path, "want a mapping, got %s", kind(n))
		return nil, false
	}
	var out, merged []*ast.MappingValueNode
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if !mv.Key.IsMergeKey() {
			out = append(out, mv)
			continue
		}
		if depth > maxDepth {
			d.errAt(mv, path, "merge keys nested too deeply")
			continue
		}
		src, ok := d.resolve(mv.Value, path)
		if !ok {
			continue
		}
		var srcs []ast.Node
		if seq, isSeq := src.(*ast.SequenceNode); isSeq {
			srcs = seq.Values
		} else {
			srcs = []ast.Node{src}
		}
		for _, s := range srcs {
			s, ok := d.resolve(s, path)
			if !ok {
				continue
			}
			e, ok := d.entries(s, path, depth+1)
			if ok {
				merged = append(merged, e...)
			}
		}
	}
	seen := map[string]bool{}
	for _, mv := range out {
		if k, ok := keyText(mv.Key); ok {
			seen[k] = true
		}
	}
	for _, mv := range merged {
		k, ok := keyText(mv.Key)
		if ok && !seen[k] {
			seen[k] = true
			out = append(out, mv)
		}
	}
	return out, true
}

// keyText is the text of a mapping key, when it is a scalar.
func keyText(k ast.MapKeyNode) (string, bool) {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		n = mk.Value
	}
	if t, ok := n.(*ast.TagNode); ok {
		n = t.Value
	}
	return scalarText(n)
}

// decodeStruct fills a struct from a mapping, by yaml tag, rejecting
// unknown fields.
func (d *decoder) decodeStruct(dst reflect.Value, n ast.Node, path string, depth int) {
	values, ok := d.entries(n, path, depth)
	if !ok {
		return
	}
	t := dst.Type()
	for _, mv := range values {
		name, ok := keyText(mv.Key)
		if !ok {
			d.errAt(mv.Key, path, "mapping key must be a string")
			d.registerAll(mv.Value, depth+1)
			continue
		}
		fp := name
		if path != "" {
			fp = path + "." + name
		}
		idx := fieldIndex(t, name)
		if idx < 0 {
			d.errAt(mv.Key, fp, "unknown field %q", name)
			d.registerAll(mv.Value, depth+1)
			continue
		}
		d.record(fp, mv.Value, mv.Key)
		d.decode(dst.Field(idx), mv.Value, fp, depth+1)
	}
}

// fieldIndex finds the field of t whose yaml tag is name; -1 if none.
func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" && tag == name {
			return i
		}
	}
	return -1
}

// decodeMap fills a map with string keys from a mapping.
func (d *decoder) decodeMap(dst reflect.Value, n ast.Node, path string, depth int) {
	values, ok := d.entries(n, path, depth)
	if !ok {
		return
	}
	m := reflect.MakeMapWithSize(dst.Type(), len(values))
	for _, mv := range values {
		name, ok := keyText(mv.Key)
		if !ok {
			d.errAt(mv.Key, path, "mapping key must be a string")
			continue
		}
		fp := path + "." + name
		d.record(fp, mv.Value, mv.Key)
		v := reflect.New(dst.Type().Elem()).Elem()
		d.decode(v, mv.Value, fp, depth+1)
		m.SetMapIndex(reflect.ValueOf(name).Convert(dst.Type().Key()), v)
	}
	dst.Set(m)
}
