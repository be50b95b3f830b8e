package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fluxgate/fluxgate/config"
)

// Route is a compiled route. Its fields must not be changed.
type Route struct {
	// ID is the route's id from the config.
	ID string
	// Index is the route's position in the slice given to Compile; callers
	// keep per-route state (handler chains, config) in a slice by Index.
	Index int
	// Path is the route's match path with its escapes in normal form
	// ("/%7eu" becomes "/~u"), as Lookup compares it.
	Path string
	// Exact reports whether the request path must equal Path; when false
	// Path is a plain string prefix of the request path.
	Exact bool

	methods    uint64 // accepted methods, as bits of Table.methods; anyMethod when the config lists none
	hasRewrite bool   // rewrite_path is set
	rewrite    string // rewrite_path; for a prefix ending in '/', ends in '/' too (see AppendRewrite)
}

// Table is an immutable compiled route table, safe for concurrent use.
type Table struct {
	routes  []Route
	exact   map[string]*group // by exact path
	root    node              // trie of prefix paths
	methods []string          // name of method bit i; GET and HEAD are bits 0 and 1
}

// group holds the routes sharing one path and kind, in config order, and
// links to the next less specific group matching the same request paths.
type group struct {
	routes []*Route
	up     *group // the longest shorter prefix group matching the same paths; nil at the end
	all    uint64 // methods accepted by this group and every group up the chain
	allow  string // Allow value for a 405 found at this group: the names in all, sorted
}

// node is a node of a compressed byte trie of prefix paths. The path of a
// node is the concatenation of the labels from the root down to it.
type node struct {
	label    string
	indices  string  // indices[i] is the first byte of children[i].label
	children []*node // labels of siblings start with distinct bytes
	group    *group  // prefix routes whose path ends at this node, or nil
}

const (
	getBit    = 1 << 0
	headBit   = 1 << 1
	otherBit  = 1 << 63 // methods no route lists
	anyMethod = ^uint64(0)
	maxNamed  = 63 // bits 0..62 name methods
)

// Compile builds a table from config routes; Route.Index is the position
// in routes. It checks what the table relies on and reports the first
// problem as `route "<id>": ...` wrapping ErrBadMatch, ErrBadMethod,
// ErrBadRewrite or ErrTooManyMethods. A route path must start with "/" and
// hold only well-formed escapes; an exact path must have no dot-segment and
// a prefix none but possibly its last, unfinished segment ("/api/." is a
// prefix of "/api/.well-known"), since no normalised request path could
// match them otherwise.
func Compile(routes []config.Route) (*Table, error) {
	t := &Table{
		routes:  make([]Route, len(routes)),
		exact:   make(map[string]*group),
		methods: []string{"GET", "HEAD"},
	}
	for i := range routes {
		r := &t.routes[i]
		if err := t.build(r, i, &routes[i]); err != nil {
			return nil, fmt.Errorf("route %q: %w", routes[i].ID, err)
		}
		var g *group
		if r.Exact {
			g = t.exact[r.Path]
			if g == nil {
				g = new(group)
				t.exact[r.Path] = g
			}
		} else {
			n := t.root.insert(r.Path)
			if n.group == nil {
				n.group = new(group)
			}
			g = n.group
		}
		g.routes = append(g.routes, r)
	}

	allows := make(map[uint64]string)
	t.root.link(nil, func(g *group) { t.finish(g, allows) })
	for path, g := range t.exact {
		g.up = t.root.longest([]byte(path))
		t.finish(g, allows)
	}
	return t, nil
}

// build fills r from the config route c at index i.
func (t *Table) build(r *Route, i int, c *config.Route) error {
	r.ID, r.Index = c.ID, i
	exact, prefix := c.MatchPath.Exact, c.MatchPath.Prefix
	switch {
	case (exact == "") == (prefix == ""):
		return fmt.Errorf("%w: need exactly one of prefix and exact", ErrBadMatch)
	case exact != "":
		p, err := canonEscapes(exact)
		if err != nil {
			return fmt.Errorf("%w: exact %q must start with \"/\" and hold only well-formed %%-escapes", ErrBadMatch, exact)
		}
		if !isNormal(p) {
			return fmt.Errorf("%w: exact %q has a dot-segment, so no normalised request path equals it", ErrBadMatch, exact)
		}
		r.Path, r.Exact = p, true
	default:
		p, err := canonEscapes(prefix)
		if err != nil {
			return fmt.Errorf("%w: prefix %q must start with \"/\" and hold only well-formed %%-escapes", ErrBadMatch, prefix)
		}
		if !isNormal(p + "x") {
			return fmt.Errorf("%w: prefix %q has a dot-segment, so no normalised request path starts with it", ErrBadMatch, prefix)
		}
		r.Path = p
	}

	if len(c.Methods) == 0 {
		r.methods = anyMethod
	}
	for _, m := range c.Methods {
		if !isToken(m) {
			return fmt.Errorf("%w: %q", ErrBadMethod, m)
		}
		bit, err := t.methodBitFor(m)
		if err != nil {
			return err
		}
		r.methods |= bit
		if bit == getBit {
			r.methods |= headBit
		}
	}

	if c.RewritePath != nil {
		rw := *c.RewritePath
		if rw != "" {
			if _, err := canonEscapes(rw); err != nil || strings.ContainsAny(rw, "?#") {
				return fmt.Errorf("%w: %q must be empty or start with \"/\", with no \"?\" or \"#\" and only well-formed %%-escapes", ErrBadRewrite, rw)
			}
		}
		if !r.Exact && strings.HasSuffix(r.Path, "/") && !strings.HasSuffix(rw, "/") {
			rw += "/"
		}
		r.hasRewrite, r.rewrite = true, rw
	}
	return nil
}

// methodBitFor returns the bit of method m, giving it a new one if needed.
func (t *Table) methodBitFor(m string) (uint64, error) {
	if i := slices.Index(t.methods, m); i >= 0 {
		return 1 << i, nil
	}
	if len(t.methods) == maxNamed {
		return 0, fmt.Errorf("%w: %q would be method number %d", ErrTooManyMethods, m, maxNamed+1)
	}
	t.methods = append(t.methods, m)
	return 1 << (len(t.methods) - 1), nil
}

// finish computes g.all and g.allow once g.up is final and finished.
func (t *Table) finish(g *group, allows map[uint64]string) {
	for _, r := range g.routes {
		g.all |= r.methods
	}
	if g.up != nil {
		g.all |= g.up.all
	}
	if g.all == anyMethod {
		return // no 405 possible
	}
	a, ok := allows[g.all]
	if !ok {
		var names []string
		for i, name := range t.methods {
			if g.all&(1<<i) != 0 {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		a = strings.Join(names, ", ")
		allows[g.all] = a
	}
	g.allow = a
}

// insert returns the node for path s below n, creating it if needed.
func (n *node) insert(s string) *node {
	for s != "" {
		i := strings.IndexByte(n.indices, s[0])
		if i < 0 {
			c := &node{label: s}
			n.indices += s[:1]
			n.children = append(n.children, c)
			return c
		}
		c := n.children[i]
		k := commonPrefixLen(s, c.label)
		if k < len(c.label) { // split c's label at k
			mid := &node{label: c.label[:k], indices: c.label[k : k+1], children: []*node{c}}
			c.label = c.label[k:]
			n.children[i] = mid
			c = mid
		}
		s, n = s[k:], c
	}
	return n
}

// link sets the up links of the groups at and below n, whose nearest
// ancestor group is up, calling finish on each group after its ancestors.
func (n *node) link(up *group, finish func(*group)) {
	if n.group != nil {
		n.group.up = up
		finish(n.group)
		up = n.group
	}
	for _, c := range n.children {
		c.link(up, finish)
	}
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// isNormal reports whether p is its own normal form.
func isNormal(p string) bool {
	n, err := Normalize(nil, []byte(p))
	return err == nil && string(n) == p
}

// isToken reports whether s is an RFC 9110 token, as method names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
