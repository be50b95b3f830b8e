package server

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/bench/redistest"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// Chain benchmarks of rate-limited routes through the Redis store, beside
// BenchmarkChainPlain and BenchmarkChainRateLimitLocal (server_bench_test.go):
//
//	go test -run '^$' -bench 'Chain(Plain|RateLimit)' ./worker/server/
//
// gives the cost of a limit side by side: none, local store, Redis store
// (one script call per request, auto-pipelined, against a real redis-server
// on a unix socket), and a key Redis already refused (answered 429 from the
// per-process cache, no round trip).

// scriptCalls is evalsha + eval calls from INFO commandstats.
func scriptCalls(r *redistest.Server) int {
	c := r.CommandCalls("evalsha", "eval")
	return c["evalsha"] + c["eval"]
}

// limitedRoute is a route /limited/... under policy name; the policies
// key on the route (one hot key, whatever the in-memory client's address).
func limitedRoute(name string) string {
	return `  - id: limited
    match_path: {prefix: "/limited"}
    upstream: up
    rate_limit: ` + name + "\n"
}

// BenchmarkChainRateLimitRedis is BenchmarkChainRateLimitLocal with the
// Redis store: every request is admitted by the Lua script on a real
// redis-server (a limit that never refuses). It fails if decisions fell
// back (fewer script calls than requests).
func BenchmarkChainRateLimitRedis(b *testing.B) {
	r := redistest.Start(b)
	benchChain(b, fmt.Sprintf(`redis:
  url: "%s"
  timeout_ms: 1000
rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    key: [route_path]
`, r.URL()), limitedRoute("roomy"), nil, "/limited/x", nil)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if calls := scriptCalls(r); calls < b.N {
		b.Fatalf("%d script calls for %d requests: decisions fell back", calls, b.N)
	}
}

// BenchmarkChainRateLimitRedisBlocked is a route whose key Redis has
// refused: every request is answered 429 (with the rate-limit headers and
// the JSON error) from the per-process cache, without a Redis round trip.
func BenchmarkChainRateLimitRedisBlocked(b *testing.B) {
	r := redistest.Start(b)
	// The key's TAT an hour ahead (Redis TIME, µs): refused until then.
	r.Do("EVAL", `local t = redis.call('TIME')
redis.call('SET', KEYS[1], string.format('%.0f', t[1] * 1000000 + t[2] + 3600000000))`, "1", "rl:{tight:limited}")
	benchChainWant(b, fmt.Sprintf(`redis:
  url: "%s"
  timeout_ms: 1000
rate_limits:
  - name: tight
    limit_per_minute: 1
    burst: 1
    key: [route_path]
`, r.URL()), limitedRoute("tight"), nil, "/limited/x", nil, 429)
	b.StopTimer()
	// Only the first requests, racing before the refusal is cached (or
	// before the marker's invalidation arrived), run the script.
	if calls, most := scriptCalls(r), 2*runtime.GOMAXPROCS(0)+2; calls > most {
		b.Fatalf("%d script calls for %d refusals of a blocked key; want ≤ %d", calls, b.N, most)
	}
}

// The same three routes with 8 client goroutines per GOMAXPROCS, as a busy
// worker sees them: Redis round trips overlap (auto-pipelining) instead of
// adding up. The upstream timeout is 5 s (basicConfig's 300 ms is too
// tight for 16 requests in flight on a loaded 2-core host).
//
//	go test -run '^$' -bench 'ChainBusy' ./worker/server/

func benchChainBusy(b *testing.B, extra, routes, uri string) {
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg, err := parseConfigEnv(fmt.Sprintf(`
server:
  listen_addr: "127.0.0.1:0"
%s
upstreams:
  - name: up
    base_url: "http://%s/base"
    timeout_ms: 5000
routes:
  - id: exact
    match_path: {exact: "/status"}
    upstream: up
%s`, extra, up.addr, routes), nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Log.AccessLog = new(bool)
	s, err := New(Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = ln.Close(); _ = s.Close() })

	client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConns: 1024}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + uri)
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
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkChainBusyPlain(b *testing.B) {
	benchChainBusy(b, "", "", "/status")
}

func BenchmarkChainBusyRateLimitLocal(b *testing.B) {
	benchChainBusy(b, `rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    store: local
`, limitedRoute("roomy"), "/limited/x")
}

func BenchmarkChainBusyRateLimitRedis(b *testing.B) {
	r := redistest.Start(b)
	benchChainBusy(b, fmt.Sprintf(`redis:
  url: "%s"
  timeout_ms: 1000
rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    key: [route_path]
`, r.URL()), limitedRoute("roomy"), "/limited/x")
	if calls := scriptCalls(r); calls < b.N {
		b.Fatalf("%d script calls for %d requests: decisions fell back", calls, b.N)
	}
}
