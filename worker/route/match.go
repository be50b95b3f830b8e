package route

import "strconv"

// Result says how a lookup ended.
type Result uint8

const (
	// NotFound: no route matches the path (404).
	NotFound Result = iota
	// Found: a route matches the path and accepts the method.
	Found
	// MethodNotAllowed: routes match the path but none accepts the method
	// (405, with the Allow value Lookup returns).
	MethodNotAllowed
)

// String returns the name of res.
func (res Result) String() string {
	switch res {
	case NotFound:
		return "NotFound"
	case Found:
		return "Found"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	}
	return "Result(" + strconv.Itoa(int(res)) + ")"
}

// Lookup finds the route for the normalised request path (see Normalize)
// and the request method, compared case-sensitively. With res Found, r is
// the route; with MethodNotAllowed, allow is the value of the Allow header
// (such as "GET, HEAD, POST"); with NotFound both are zero. See the package
// doc for the selection rules. Lookup does not allocate.
func (t *Table) Lookup(path, method []byte) (r *Route, allow string, res Result) {
	g := t.exact[string(path)]
	if g == nil {
		if g = t.root.longest(path); g == nil {
			return nil, "", NotFound
		}
	}
	bit := t.methodBit(method)
	for h := g; h != nil; h = h.up {
		for _, r := range h.routes {
			if r.methods&bit != 0 {
				return r, "", Found
			}
		}
	}
	return nil, g.allow, MethodNotAllowed
}

// methodBit returns the bit of method m; methods no route names share
// otherBit.
func (t *Table) methodBit(m []byte) uint64 {
	for i, name := range t.methods {
		if string(m) == name {
			return 1 << i
		}
	}
	return otherBit
}

// longest returns the group of the longest prefix path below n that path
// starts with, or nil.
func (n *node) longest(path []byte) *group {
	var best *group
	for {
		if n.group != nil {
			best = n.group
		}
		if len(path) == 0 {
			return best
		}
		c := n.child(path[0])
		if c == nil {
			return best
		}
		if len(path) < len(c.label) || string(path[:len(c.label)]) != c.label {
			return best
		}
		path, n = path[len(c.label):], c
	}
}

// child returns the child of n whose label starts with b, or nil.
func (n *node) child(b byte) *node {
	for i := 0; i < len(n.indices); i++ {
		if n.indices[i] == b {
			return n.children[i]
		}
	}
	return nil
}
