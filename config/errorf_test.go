package config

import "testing"

func TestErrorfPositions(t *testing.T) {
	t.Parallel()
	in := `server:
  listen_addr: "0.0.0.0:8080"
auth_policies:
  - name: p
    algorithm: HS256
    key_id: null
    audiences: [a, b]
    forward_claims:
      sub: X-Sub
upstreams:
  - name: up
    base_url: http://a
routes:
  - id: r
    match_path:
      prefix: /x
    upstream:   up
`
	c, err := Parse([]byte(in), "gw.yaml", getenvOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	f := func(path string, line, col int) {
		t.Helper()
		e := c.Errorf(path, "bad %s", "thing")
		if e.Line != line || e.Col != col || e.File != "gw.yaml" || e.Path != path || e.Msg != "bad thing" {
			t.Errorf("Errorf(%q) = %+v; want gw.yaml:%d:%d", path, e, line, col)
		}
	}
	f("server.listen_addr", 2, 16)
	f("auth_policies[0].name", 4, 11)
	f("auth_policies[0].algorithm", 5, 16)
	f("auth_policies[0].key_id", 6, 13) // explicit null
	f("auth_policies[0].audiences[1]", 7, 20)
	f("auth_policies[0].forward_claims.sub", 9, 12)
	f("auth_policies[0]", 4, 5)
	f("auth_policies[0].key_file", 4, 5)      // absent: parent
	f("auth_policies[0].jwks_url.deep", 4, 5) // absent chain
	f("routes[0].upstream", 17, 17)
	f("routes[0].match_path.prefix", 16, 15)
	f("routes[7].upstream", 14, 3) // no such element: the routes list
	f("metrics.path", 1, 1)        // no metrics section at all
	f("", 1, 1)

	if got, want := c.Errorf("routes[0].upstream", "unknown upstream %q", "x").Error(),
		`gw.yaml:17:17: routes[0].upstream: unknown upstream "x"`; got != want {
		t.Errorf("Errorf(...).Error() = %q; want %q", got, want)
	}
}

func TestErrorfZeroConfig(t *testing.T) {
	t.Parallel()
	var c Config
	e := c.Errorf("routes[0].id", "x")
	if e.Line != 1 || e.Col != 1 {
		t.Errorf("Errorf on zero Config = %d:%d; want 1:1", e.Line, e.Col)
	}
}
