package route

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/config"
)

var normalizeSeeds = []string{
	"/", "//", "/a/b/", "/public/../protected/x", "/..", "/a/..", "/a/./b",
	"/a//../b", "/%2e%2e/x", "/a/.%2E/b", "/%41", "/%2f", "/%2F", "/%zz", "/%4",
	"*", "", "a", "/a/b/c/./../../g", "/.well-known", "/%2541", "/a/%2e%2e%2e/",
}

func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out, err := Normalize(nil, []byte(p))
		want, wantOK := refNormalize(p)
		if !wantOK {
			if err == nil || out != nil {
				t.Fatalf("Normalize(%q) = %q, %v; want nil, %v", p, out, err, ErrBadPath)
			}
			return
		}
		if err != nil || string(out) != want {
			t.Fatalf("Normalize(%q) = %q, %v; want %q, nil", p, out, err, want)
		}
		if len(out) == 0 || out[0] != '/' {
			t.Fatalf("Normalize(%q) = %q; want a leading /", p, out)
		}
		for seg := range strings.SplitSeq(string(out[1:]), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Normalize(%q) = %q; want no dot-segment", p, out)
			}
		}
		again, err := Normalize(nil, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Normalize(%q) = %q, %v; want %q, nil (idempotent)", out, again, err, out)
		}
		dst := []byte("/x/y")
		appended, err := Normalize(dst, []byte(p))
		if err != nil || string(appended) != "/x/y"+string(out) {
			t.Fatalf("Normalize(%q, %q) = %q, %v; want %q, nil", dst, p, appended, err, "/x/y"+string(out))
		}
	})
}

// refNormalize is Normalize written after the letter of RFC 3986: decode
// the escapes of unreserved characters, upper-case the others, then apply
// remove_dot_segments (§5.2.4) step by step.
func refNormalize(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+3 > len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		v, _ := strconv.ParseUint(p[i+1:i+3], 16, 8)
		if c := byte(v); 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
		}
		i += 2
	}
	in, out := b.String(), ""
	pop := func() {
		if i := strings.LastIndexByte(out, '/'); i >= 0 {
			out = out[:i]
		} else {
			out = ""
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			pop()
		case in == "/..":
			in = "/"
			pop()
		case in == "." || in == "..":
			in = ""
		default:
			j := strings.IndexByte(in[1:], '/') + 1
			if j == 0 {
				j = len(in)
			}
			out += in[:j]
			in = in[j:]
		}
	}
	return out, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// fuzzRoutes is a table with overlapping prefixes, several routes per path,
// extension and lower-case methods.
func fuzzRoutes() []config.Route {
	return []config.Route{
		pre("root", "/", "OPTIONS"),
		pre("a", "/a", "GET"),
		pre("a/", "/a/", "POST"),
		pre("a/b", "/a/b", "PUT", "DELETE"),
		pre("a/b-dup", "/a/b", "PATCH"),
		ex("=a/b", "/a/b", "GET"),
		ex("=a/b-post", "/a/b", "POST"),
		ex("=a", "/a", "PURGE"),
		ex("=x/y/z", "/x/y/z", "get"),
		pre("x/", "/x/", "HEAD"),
		pre("%2F", "/%2F", "GET"),
		ex("=/", "/", "DELETE"),
		pre("b/c/d/e", "/b/c/d/e", "GET"),
		pre("b/c", "/b/c", "POST"),
		pre("b/cd", "/b/cd"),
		ex("=b/c/d", "/b/c/d", "GET", "POST"),
		pre("ab", "/ab", "TRACE"),
		pre("abc", "/abc", "CONNECT", "GET"),
		ex("=abc", "/abc"),
	}
}

// refLookup is Lookup as a linear scan: the exact routes for path in
// config order, then the prefix routes by decreasing length (config order
// among equals); the first accepting method wins.
func refLookup(routes []config.Route, path, method string) (index int, allow string, res Result) {
	var cands []int
	for i, r := range routes {
		if r.MatchPath.Exact != "" && r.MatchPath.Exact == path {
			cands = append(cands, i)
		}
	}
	var prefixes []int
	for i, r := range routes {
		if r.MatchPath.Prefix != "" && strings.HasPrefix(path, r.MatchPath.Prefix) {
			prefixes = append(prefixes, i)
		}
	}
	slices.SortStableFunc(prefixes, func(a, b int) int {
		return len(routes[b].MatchPath.Prefix) - len(routes[a].MatchPath.Prefix)
	})
	cands = append(cands, prefixes...)
	if len(cands) == 0 {
		return -1, "", NotFound
	}
	var names []string
	for _, i := range cands {
		ms := routes[i].Methods
		if len(ms) == 0 || slices.Contains(ms, method) || method == "HEAD" && slices.Contains(ms, "GET") {
			return i, "", Found
		}
		names = append(names, ms...)
		if slices.Contains(ms, "GET") {
			names = append(names, "HEAD")
		}
	}
	slices.Sort(names)
	return -1, strings.Join(slices.Compact(names), ", "), MethodNotAllowed
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"/", "/a", "/a/", "/a/b", "/a/bc", "/ab", "/abc", "/abcd", "/x/y/z", "/x/y", "/%2F", "/%2Fx", "/b/c/d", "/b/c/d/e/f", "/b/cd", "/b/c/", "", "x"} {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PURGE", "get", "BREW", "", "OPTIONS"} {
			f.Add(s, m)
		}
	}
	routes := fuzzRoutes()
	tab, err := Compile(routes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, method string) {
		check := func(path string) {
			r, allow, res := tab.Lookup([]byte(path), []byte(method))
			wi, wallow, wres := refLookup(routes, path, method)
			gi := -1
			if r != nil {
				gi = r.Index
			}
			if gi != wi || allow != wallow || res != wres {
				t.Fatalf("Lookup(%q, %q) = %d %q %v; want %d %q %v", path, method, gi, allow, res, wi, wallow, wres)
			}
			if res == Found && (r != &tab.routes[r.Index] || r.ID != routes[r.Index].ID) {
				t.Fatalf("Lookup(%q, %q) = route %q at %d; want the table's route %q", path, method, r.ID, r.Index, routes[r.Index].ID)
			}
		}
		check(path)
		if n, err := Normalize(nil, []byte(path)); err == nil {
			check(string(n))
		}
	})
}
