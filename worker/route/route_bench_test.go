package route

import (
	"fmt"
	"testing"

	"github.com/fluxgate/fluxgate/config"
)

// benchRoutes returns n routes shaped like a real gateway's: per service a
// prefix route, an exact health route and, for every third service, an
// exact route with its own methods.
func benchRoutes(n int) []config.Route {
	routes := make([]config.Route, 0, n)
	for i := 0; len(routes) < n; i++ {
		routes = append(routes, pre(fmt.Sprintf("svc%d", i), fmt.Sprintf("/svc%d/v1/", i), "GET", "POST"))
		if len(routes) < n {
			routes = append(routes, ex(fmt.Sprintf("svc%d-health", i), fmt.Sprintf("/svc%d/v1/health", i), "GET"))
		}
		if i%3 == 0 && len(routes) < n {
			routes = append(routes, rw(ex(fmt.Sprintf("svc%d-items", i), fmt.Sprintf("/svc%d/v1/items", i), "GET", "PUT", "DELETE"), "/items"))
		}
	}
	return routes
}

// benchPaths returns request paths for a table of benchRoutes(n): prefix
// hits, exact hits, misses and 405s.
func benchPaths(n int) (found, exact, notFound, notAllowed [][]byte) {
	svcs := max(n*3/7, 1)
	for i := range 64 {
		s := (i * 7919) % svcs
		found = append(found, fmt.Appendf(nil, "/svc%d/v1/items/%d/details", s, i*31))
		exact = append(exact, fmt.Appendf(nil, "/svc%d/v1/health", s))
		notFound = append(notFound, fmt.Appendf(nil, "/svc%d/v2/items/%d", s, i))
		notAllowed = append(notAllowed, fmt.Appendf(nil, "/svc%d/v1/orders/%d", s, i))
	}
	return found, exact, notFound, notAllowed
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		tab, err := Compile(benchRoutes(n))
		if err != nil {
			b.Fatal(err)
		}
		found, exact, notFound, notAllowed := benchPaths(n)
		for _, c := range []struct {
			name   string
			paths  [][]byte
			method string
			want   Result
		}{
			{"prefix", found, "GET", Found},
			{"exact", exact, "GET", Found},
			{"notfound", notFound, "GET", NotFound},
			{"405", notAllowed, "PATCH", MethodNotAllowed},
		} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, c.name), func(b *testing.B) {
				method := []byte(c.method)
				if _, _, res := tab.Lookup(c.paths[0], method); res != c.want {
					b.Fatalf("Lookup(%q, %q) = %v; want %v", c.paths[0], method, res, c.want)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					tab.Lookup(c.paths[i&63], method)
					i++
				}
			})
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"clean", "/svc123/v1/items/42/details"},
		{"escapes", "/svc123/v1/items/%7Euser/a%2fb%20c"},
		{"dots", "/svc123/v1/../v1/./items/%2e%2e/items/42"},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := []byte(c.path)
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				dst, _ = Normalize(dst[:0], p)
			}
		})
	}
}

func BenchmarkAppendRewrite(b *testing.B) {
	tab := mustCompile(b, rw(pre("p", "/api/"), "/v2/"))
	p := []byte("/api/users/42")
	r, _, _ := tab.Lookup(p, []byte("GET"))
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = r.AppendRewrite(dst[:0], p)
	}
}

func BenchmarkCompile(b *testing.B) {
	routes := benchRoutes(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(routes); err != nil {
			b.Fatal(err)
		}
	}
}
