package route

import (
	"fmt"
	"testing"

	"github.com/fluxgate/fluxgate/config"
)

// got renders a Lookup outcome for failure messages.
func got(r *Route, allow string, res Result) string {
	switch res {
	case Found:
		return fmt.Sprintf("Found %s", r.ID)
	case MethodNotAllowed:
		return fmt.Sprintf("MethodNotAllowed Allow=%q", allow)
	}
	return res.String()
}

func TestLookup(t *testing.T) {
	tab := mustCompile(t,
		pre("api", "/api", "GET", "POST"),
		pre("api-slash", "/api/", "DELETE"),
		pre("api-v1", "/api/v1"),
		ex("health", "/api/v1/health", "GET"),
		ex("users-post", "/users", "POST"),
		ex("users-put", "/users", "PUT", "PATCH"),
		pre("users-tree", "/users/", "GET"),
		pre("static", "/static", "GET"),
		ex("purge", "/static/cache", "PURGE"),
		ex("root", "/", "GET"),
		pre("admin", "/admin", "POST"),
		pre("admin-any-dup", "/admin", "DELETE"),
		ex("lower", "/lower", "get"),
		ex("head-only", "/head", "HEAD"),
	)
	f := func(path, method, want string) {
		t.Helper()
		r, allow, res := tab.Lookup([]byte(path), []byte(method))
		if g := got(r, allow, res); g != want {
			t.Errorf("Lookup(%q, %q) = %v; want %v", path, method, g, want)
		}
	}
	const nf = "NotFound"

	// exact beats prefix; longest prefix wins; plain string prefixes
	f("/api", "GET", "Found api")
	f("/apifoo", "GET", "Found api")
	f("/api/", "DELETE", "Found api-slash")
	f("/api/x", "DELETE", "Found api-slash")
	f("/api/v1", "DELETE", "Found api-v1")
	f("/api/v1/x", "PATCH", "Found api-v1")
	f("/api/v10", "GET", "Found api-v1")
	f("/api/v1/health", "GET", "Found health")
	f("/api/v1/health/x", "GET", "Found api-v1")
	f("/api/v1/healthz", "GET", "Found api-v1")
	f("/ap", "GET", nf)
	f("/", "GET", "Found root")
	f("/x", "GET", nf)
	f("", "GET", nf)
	f("/API", "GET", nf)

	// fallthrough to less specific routes when the method does not fit
	f("/api/v1/health", "POST", "Found api-v1")
	f("/api/x", "GET", "Found api")
	f("/api/x", "POST", "Found api")
	f("/api/v1/health", "BREW", "Found api-v1")
	f("/static/cache", "PURGE", "Found purge")
	f("/static/cache", "GET", "Found static")

	// several exact routes on one path, by method
	f("/users", "POST", "Found users-post")
	f("/users", "PUT", "Found users-put")
	f("/users", "PATCH", "Found users-put")
	f("/users/", "GET", "Found users-tree")
	f("/users/7", "GET", "Found users-tree")

	// same prefix twice: both are candidates, in config order
	f("/admin/x", "POST", "Found admin")
	f("/admin/x", "DELETE", "Found admin-any-dup")

	// 405 with the union of the candidates' methods, HEAD added with GET
	f("/users", "GET", `MethodNotAllowed Allow="PATCH, POST, PUT"`)
	f("/users", "DELETE", `MethodNotAllowed Allow="PATCH, POST, PUT"`)
	f("/users/1", "POST", `MethodNotAllowed Allow="GET, HEAD"`)
	f("/api/x", "PUT", `MethodNotAllowed Allow="DELETE, GET, HEAD, POST"`)
	f("/apix", "PUT", `MethodNotAllowed Allow="GET, HEAD, POST"`)
	f("/static/cache", "POST", `MethodNotAllowed Allow="GET, HEAD, PURGE"`)
	f("/static/x", "PURGE", `MethodNotAllowed Allow="GET, HEAD"`)
	f("/admin", "GET", `MethodNotAllowed Allow="DELETE, POST"`)
	f("/", "POST", `MethodNotAllowed Allow="GET, HEAD"`)

	// HEAD wherever GET is, and only there
	f("/", "HEAD", "Found root")
	f("/api/x", "HEAD", "Found api")
	f("/api/v1/health", "HEAD", "Found health")
	f("/users/", "HEAD", "Found users-tree")
	f("/users", "HEAD", `MethodNotAllowed Allow="PATCH, POST, PUT"`)
	f("/head", "HEAD", "Found head-only")
	f("/head", "GET", `MethodNotAllowed Allow="HEAD"`)

	// methods are case-sensitive; unknown methods need a route without a list
	f("/api/x", "get", `MethodNotAllowed Allow="DELETE, GET, HEAD, POST"`)
	f("/lower", "get", "Found lower")
	f("/lower", "GET", `MethodNotAllowed Allow="get"`)
	f("/api/x", "", `MethodNotAllowed Allow="DELETE, GET, HEAD, POST"`)
	f("/api/v1/x", "", "Found api-v1")
	f("/api/v1/x", "get", "Found api-v1")
}

func TestLookupEmptyTable(t *testing.T) {
	tab := mustCompile(t)
	r, allow, res := tab.Lookup([]byte("/"), []byte("GET"))
	if g := got(r, allow, res); g != "NotFound" {
		t.Errorf("Lookup(%q, %q) = %v; want %v", "/", "GET", g, "NotFound")
	}
}

func TestLookupTrieSplits(t *testing.T) {
	// Prefixes inserted in an order that splits trie labels every way.
	tab := mustCompile(t,
		pre("abcdef", "/abcdef"),
		pre("abc", "/abc"),
		pre("abd", "/abd"),
		pre("abcdxy", "/abcdxy"),
		pre("a", "/a"),
		pre("abcdefgh", "/abcdefgh"),
	)
	f := func(path, want string) {
		t.Helper()
		r, allow, res := tab.Lookup([]byte(path), []byte("GET"))
		if g := got(r, allow, res); g != want {
			t.Errorf("Lookup(%q, %q) = %v; want %v", path, "GET", g, want)
		}
	}
	f("/", "NotFound")
	f("/a", "Found a")
	f("/ab", "Found a")
	f("/abc", "Found abc")
	f("/abcd", "Found abc")
	f("/abcde", "Found abc")
	f("/abcdef", "Found abcdef")
	f("/abcdefg", "Found abcdef")
	f("/abcdefgh", "Found abcdefgh")
	f("/abcdefghi", "Found abcdefgh")
	f("/abcdx", "Found abc")
	f("/abcdxy", "Found abcdxy")
	f("/abd", "Found abd")
	f("/abdd", "Found abd")
	f("/abe", "Found a")
	f("/b", "NotFound")
}

func TestLookupIndex(t *testing.T) {
	tab := mustCompile(t, ex("a", "/a"), pre("b", "/b"), ex("c", "/c"))
	for i, p := range []string{"/a", "/b", "/c"} {
		r, _, res := tab.Lookup([]byte(p), []byte("GET"))
		if res != Found || r.Index != i {
			t.Errorf("Lookup(%q, %q) = %v %v; want Index %d", p, "GET", r, res, i)
		}
	}
}

func TestRewrite(t *testing.T) {
	f := func(cr config.Route, path, want string) {
		t.Helper()
		tab := mustCompile(t, cr)
		r, _, res := tab.Lookup([]byte(path), []byte("GET"))
		if res != Found {
			t.Fatalf("Lookup(%q, %q) = %v; want Found", path, "GET", res)
		}
		if g := string(r.AppendRewrite(nil, []byte(path))); g != want {
			rwv := "<none>"
			if cr.RewritePath != nil {
				rwv = *cr.RewritePath
			}
			t.Errorf("AppendRewrite(%q) with %+v rewrite %q = %q; want %q", path, cr.MatchPath, rwv, g, want)
		}
	}
	// no rewrite
	f(pre("p", "/api"), "/api/users", "/api/users")
	f(ex("e", "/a/b"), "/a/b", "/a/b")

	// prefix rewrite replaces the prefix
	f(rw(pre("p", "/api"), "/v2"), "/api/users", "/v2/users")
	f(rw(pre("p", "/api"), "/v2"), "/api", "/v2")
	f(rw(pre("p", "/api"), "/v2"), "/api/", "/v2/")
	f(rw(pre("p", "/api"), "/v2"), "/apifoo", "/v2foo")
	f(rw(pre("p", "/api"), "/v2/"), "/api/users", "/v2/users")
	f(rw(pre("p", "/api"), "/v2/"), "/api", "/v2/")
	f(rw(pre("p", "/api"), "/v2/"), "/apifoo", "/v2/foo")
	f(rw(pre("p", "/api"), "/"), "/api/users", "/users")
	f(rw(pre("p", "/api"), "/"), "/api", "/")
	f(rw(pre("p", "/api"), "/"), "/api//x", "//x")
	f(rw(pre("p", "/api/"), "/v2"), "/api/users", "/v2/users")
	f(rw(pre("p", "/api/"), "/v2/"), "/api/users", "/v2/users")
	f(rw(pre("p", "/api/"), "/v2"), "/api/", "/v2/")
	f(rw(pre("p", "/api/"), "/"), "/api/users", "/users")
	f(rw(pre("p", "/api/"), ""), "/api/users", "/users")
	f(rw(pre("p", "/api"), ""), "/api/users", "/users")
	f(rw(pre("p", "/api"), ""), "/api", "/")
	f(rw(pre("p", "/api"), ""), "/apix", "/x")
	f(rw(pre("p", "/"), "/base"), "/x/y", "/base/x/y")
	f(rw(pre("p", "/"), "/base/"), "/x/y", "/base/x/y")
	f(rw(pre("p", "/"), "/"), "/x/y", "/x/y")
	f(rw(pre("p", "/%7eu"), "/home"), "/~u/f", "/home/f")

	// exact rewrite replaces the whole path
	f(rw(ex("e", "/old"), "/new/place"), "/old", "/new/place")
	f(rw(ex("e", "/old"), "/"), "/old", "/")
	f(rw(ex("e", "/old"), ""), "/old", "/")
}

func TestAppendRewriteKeepsDst(t *testing.T) {
	tab := mustCompile(t, rw(pre("p", "/api"), ""))
	r, _, _ := tab.Lookup([]byte("/apix"), []byte("GET"))
	if g := string(r.AppendRewrite([]byte("http://h"), []byte("/apix"))); g != "http://h/x" {
		t.Errorf("AppendRewrite(%q, %q) = %q; want %q", "http://h", "/apix", g, "http://h/x")
	}
	// A path the route did not match is kept.
	if g := string(r.AppendRewrite(nil, []byte("/other"))); g != "/other" {
		t.Errorf("AppendRewrite(%q) = %q; want %q", "/other", g, "/other")
	}
}

func TestLookupLargeTableAgainstReference(t *testing.T) {
	routes := benchRoutes(600)
	tab := mustCompile(t, routes...)
	var paths []string
	for i := range 260 {
		for _, p := range []string{"/svc%d", "/svc%d/", "/svc%d/v1", "/svc%d/v1/", "/svc%d/v1/health", "/svc%d/v1/healthz", "/svc%d/v1/items", "/svc%d/v1/items/1", "/svc%d/v2/"} {
			paths = append(paths, fmt.Sprintf(p, i))
		}
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "PUT", "PATCH"} {
			r, allow, res := tab.Lookup([]byte(p), []byte(m))
			wi, wallow, wres := refLookup(routes, p, m)
			gi := -1
			if r != nil {
				gi = r.Index
			}
			if gi != wi || allow != wallow || res != wres {
				t.Errorf("Lookup(%q, %q) = %d %q %v; want %d %q %v", p, m, gi, allow, res, wi, wallow, wres)
			}
		}
	}
}

func TestResultString(t *testing.T) {
	for res, want := range map[Result]string{NotFound: "NotFound", Found: "Found", MethodNotAllowed: "MethodNotAllowed", 9: "Result(9)"} {
		if got := res.String(); got != want {
			t.Errorf("Result(%d).String() = %q; want %q", uint8(res), got, want)
		}
	}
}
