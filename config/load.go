package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads path and returns a validated config with every default filled.
// getenv is used for REDIS_URL, JWT_SECRET, JWT_KEY_*, LOG_LEVEL and RUST_LOG;
// nil means os.Getenv. An invalid config yields Errors; an unreadable file a
// plain error.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, getenv)
}

// Parse is Load on bytes already read; path is used only in error messages,
// for Config.Path and to resolve relative key_file names.
func Parse(data []byte, path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{Path: path, pos: map[string]pos{}}
	d := newDecoder(path)
	d.pos = c.pos
	body, ok := d.parse(data)
	if !ok {
		return nil, sortErrors(d.errs)
	}
	d.record("", body, nil)
	d.decode(reflect.ValueOf(c).Elem(), body, "", 0)
	v := &validator{c: c, getenv: getenv, decodeErrs: d.errs}
	applyDefaults(c, getenv, v)
	v.validate()
	v.resolveKeys()
	errs := append(d.errs, v.errs...)
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return c, nil
}

// parse turns data into the body of its single YAML document.
func (d *decoder) parse(data []byte) (ast.Node, bool) {
	f, err := parseYAML(data)
	if err != nil {
		var ye yaml.Error
		p := pos{1, 1}
		msg := err.Error()
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
				p = pos{tk.Position.Line, max(tk.Position.Column, 1)}
			}
		}
		d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Msg: "yaml: " + msg})
		return nil, false
	}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	switch len(docs) {
	case 0:
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: "empty config"})
		return nil, false
	case 1:
		return docs[0], true
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: "more than one YAML document"})
	if p, ok := nodePos(f.Docs[1]); ok {
		d.errs[len(d.errs)-1].Line, d.errs[len(d.errs)-1].Col = p.line, p.col
	}
	return nil, false
}

// sortErrors orders errs by position, drops exact duplicates and returns
// them as Errors.
func sortErrors(errs []*Error) Errors {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs = slices.CompactFunc(errs, func(a, b *Error) bool { return *a == *b })
	return Errors(errs)
}

// Errorf builds an *Error positioned at the YAML node of path, e.g.
// "auth_policies[0].key_id"; it falls back to the nearest existing parent
// node, then to 1:1. Later build stages use it so their errors carry
// positions too.
func (c *Config) Errorf(path string, format string, args ...any) *Error {
	p := pos{1, 1}
	for q := path; ; q = parentPath(q) {
		if pp, ok := c.pos[q]; ok {
			p = pp
			break
		}
		if q == "" {
			break
		}
	}
	return &Error{File: c.Path, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// has reports whether path is present in the file.
func (c *Config) has(path string) bool {
	_, ok := c.pos[path]
	return ok
}

// AccessLogEnabled reports Log.AccessLog (default true).
func (c *Config) AccessLogEnabled() bool {
	return c.Log.AccessLog == nil || *c.Log.AccessLog
}

// lower is strings.ToLower with surrounding space trimmed.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// parseYAML is parser.ParseBytes, turning a panic in the third-party parser
// into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if recover() != nil {
			f, err = nil, errParserPanic
		}
	}()
	return parser.ParseBytes(data, 0)
}
