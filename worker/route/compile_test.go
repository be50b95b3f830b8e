package route

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/config"
)

// ex and pre build config routes for tests.
func ex(id, path string, methods ...string) config.Route {
	return config.Route{ID: id, MatchPath: config.MatchPath{Exact: path}, Methods: methods}
}

func pre(id, path string, methods ...string) config.Route {
	return config.Route{ID: id, MatchPath: config.MatchPath{Prefix: path}, Methods: methods}
}

func rw(r config.Route, rewrite string) config.Route {
	r.RewritePath = &rewrite
	return r
}

func mustCompile(t testing.TB, routes ...config.Route) *Table {
	t.Helper()
	tab, err := Compile(routes)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tab
}

func TestCompileErrors(t *testing.T) {
	f := func(want error, routes ...config.Route) {
		t.Helper()
		_, err := Compile(routes)
		if !errors.Is(err, want) {
			t.Errorf("Compile(%v) = %v; want %v", routes, err, want)
		}
	}
	f(ErrBadMatch, config.Route{ID: "none"})
	f(ErrBadMatch, config.Route{ID: "both", MatchPath: config.MatchPath{Exact: "/a", Prefix: "/a"}})
	f(ErrBadMatch, ex("rel", "a"))
	f(ErrBadMatch, pre("rel", "api"))
	f(ErrBadMatch, ex("esc", "/a%zz"))
	f(ErrBadMatch, pre("esc", "/a%2"))
	f(ErrBadMatch, ex("dot", "/a/../b"))
	f(ErrBadMatch, ex("dot", "/a/."))
	f(ErrBadMatch, ex("dot", "/a/%2e%2e"))
	f(ErrBadMatch, pre("dot", "/a/../b"))
	f(ErrBadMatch, pre("dot", "/a/./"))
	f(ErrBadMethod, ex("m", "/a", ""))
	f(ErrBadMethod, ex("m", "/a", "GE T"))
	f(ErrBadMethod, ex("m", "/a", "GET,POST"))
	f(ErrBadRewrite, rw(pre("r", "/a"), "v2"))
	f(ErrBadRewrite, rw(pre("r", "/a"), "/v2?x=1"))
	f(ErrBadRewrite, rw(pre("r", "/a"), "/v2#x"))
	f(ErrBadRewrite, rw(pre("r", "/a"), "/v2%"))

	var many []string
	for i := range 61 { // with GET and HEAD: 63, the most a table holds
		many = append(many, "M"+strconv.Itoa(i))
	}
	if _, err := Compile([]config.Route{ex("m", "/a", many...)}); err != nil {
		t.Errorf("Compile with 63 methods = %v; want nil", err)
	}
	f(ErrTooManyMethods, ex("m", "/a", append(many, "ONE-MORE")...))

	_, err := Compile([]config.Route{ex("ok", "/a"), ex("bad-id", "a")})
	if err == nil || !strings.Contains(err.Error(), `route "bad-id"`) {
		t.Errorf("Compile error = %v; want it to name route %q", err, "bad-id")
	}
}

func TestCompileAccepts(t *testing.T) {
	// A prefix may end in an unfinished dot segment: "/a/." is a plain
	// prefix of "/a/.well-known".
	tab := mustCompile(t, pre("dot", "/a/."), pre("dotdot", "/b/.."), ex("esc", "/%7eu%2fv"), pre("all", "/"))
	f := func(path, wantID, wantPath string) {
		t.Helper()
		r, _, res := tab.Lookup([]byte(path), []byte("GET"))
		if res != Found || r.ID != wantID || r.Path != wantPath {
			t.Errorf("Lookup(%q) = %v %v; want %q with Path %q", path, r, res, wantID, wantPath)
		}
	}
	f("/a/.well-known", "dot", "/a/.")
	f("/b/..x", "dotdot", "/b/..")
	f("/~u%2Fv", "esc", "/~u%2Fv")
	f("/a/", "all", "/")
}
