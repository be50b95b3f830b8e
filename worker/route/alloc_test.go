//go:build !race

package route

import "testing"

func TestAllocs(t *testing.T) {
	tab, err := Compile(benchRoutes(1000))
	if err != nil {
		t.Fatal(err)
	}
	found, exact, notFound, notAllowed := benchPaths(1000)
	for _, c := range []struct {
		path, method []byte
	}{
		{found[0], []byte("GET")},
		{exact[0], []byte("HEAD")},
		{notFound[0], []byte("GET")},
		{notAllowed[0], []byte("PATCH")},
		{found[1], []byte("BREW")},
	} {
		if n := testing.AllocsPerRun(100, func() { tab.Lookup(c.path, c.method) }); n != 0 {
			t.Errorf("Lookup(%q, %q) allocs = %v; want 0", c.path, c.method, n)
		}
	}

	dst := make([]byte, 0, 256)
	for _, p := range []string{"/svc1/v1/items", "/a/%7e/%2f/../b/./c", "/%zz"} {
		pb := []byte(p)
		if n := testing.AllocsPerRun(100, func() { dst, _ = Normalize(dst[:0], pb) }); n != 0 {
			t.Errorf("Normalize(%q) allocs = %v; want 0", p, n)
		}
	}

	rt := mustCompile(t, rw(pre("p", "/api"), ""), rw(ex("e", "/e"), "/x"))
	for _, p := range []string{"/apix", "/api/users", "/e"} {
		pb := []byte(p)
		r, _, _ := rt.Lookup(pb, []byte("GET"))
		if n := testing.AllocsPerRun(100, func() { dst = r.AppendRewrite(dst[:0], pb) }); n != 0 {
			t.Errorf("AppendRewrite(%q) allocs = %v; want 0", p, n)
		}
	}
}
