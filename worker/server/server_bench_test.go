package server

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// benchChain measures one request through the whole gateway chain: client →
// in-memory listener → Server (route, auth, rate limit, proxy) → a real
// upstream on loopback → back. Allocations include the in-process client and
// upstream (both fasthttp, allocation-free in steady state).
func benchChain(b *testing.B, extra, routes string, env map[string]string, uri string, hdr map[string]string) {
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg, err := parseConfigEnv(basicConfig(up.addr, extra)+routes, env)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Log.AccessLog = new(bool) // measured separately
	s, err := New(Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = ln.Close(); _ = s.Close() })

	client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConns: 1024}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + uri)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for pb.Next() {
			if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}

func BenchmarkChainPlain(b *testing.B) {
	benchChain(b, "", "", nil, "/status", nil)
}

func BenchmarkChainRewrite(b *testing.B) {
	benchChain(b, "", "", nil, "/api/users/42?x=1", nil)
}

func BenchmarkChainAuthHS256(b *testing.B) {
	tok := mintHS256(b, "alice", "gateway", "read", time.Now().Add(time.Hour))
	benchChain(b, authPolicies, secureRoute, map[string]string{"JWT_SECRET": testSecret}, "/secure/x",
		map[string]string{"Authorization": "Bearer " + tok})
}

func BenchmarkChainRateLimitLocal(b *testing.B) {
	benchChain(b, `rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    store: local
`, `  - id: limited
    match_path: {prefix: "/limited"}
    upstream: up
    rate_limit: roomy
`, nil, "/limited/x", nil)
}
