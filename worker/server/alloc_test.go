//go:build !race

package server

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// TestChainAllocations is the allocation budget of the request path: a
// proxied request through route, auth (warm cache), rate limit (local
// store) and proxy costs no allocation in steady state, client and upstream
// included (both are allocation-free fasthttp code).
func TestChainAllocations(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	tok := mintHS256(t, "alice", "gateway", "read", time.Now().Add(time.Hour))
	cfg, err := parseConfigEnv(basicConfig(up.addr, authPolicies+`rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    store: local
`)+`  - id: full
    match_path: {prefix: "/full"}
    upstream: up
    auth_policy: default
    rate_limit: roomy
`, map[string]string{"JWT_SECRET": testSecret})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log.AccessLog = new(bool)
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close(); _ = s.Close() })
	client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }}

	for _, c := range []struct {
		name, uri string
		hdr       map[string]string
		budget    float64
	}{
		{"plain", "/status", nil, 0},
		{"rewrite", "/api/users/42?x=1", nil, 0},
		{"auth+ratelimit", "/full/x", map[string]string{"Authorization": "Bearer " + tok}, 0},
		{"404", "/nowhere", nil, 0},
	} {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + c.uri)
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		run := func() {
			if err := client.Do(req, resp); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 100; i++ { // warm pools, caches and metric series
			run()
		}
		if got := testing.AllocsPerRun(500, run); got > c.budget {
			t.Errorf("%s: %.2f allocs per request; budget %.0f", c.name, got, c.budget)
		}
	}
}
