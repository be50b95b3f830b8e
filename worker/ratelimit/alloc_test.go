//go:build !race

package ratelimit

import (
	"context"
	"net/netip"
	"testing"

	"github.com/fluxgate/fluxgate/config"
	"github.com/valyala/fasthttp"
)

// Allocation budgets of the hot paths (benchmarks: ratelimit_bench_test.go).
func TestAllocs(t *testing.T) {
	ctx := context.Background()
	l := newLocalLimiter(t, config.RateLimit{Name: "p", LimitPerMinute: 60, Burst: 5,
		Key: []string{"client_ip", "jwt_subject", "route_path", "header:X-Api-Key"}})
	p := l.Policy("p")
	apiKey := []byte("key-123")
	in := &KeyInput{
		ClientIP: netip.MustParseAddr("192.0.2.1"), Subject: "alice", RouteID: "orders",
		Header: func(string) []byte { return apiKey },
	}
	buf := make([]byte, 0, 128)
	key := p.AppendKey(buf, in)
	var h fasthttp.ResponseHeader
	f := func(what string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocs per run; want 0", what, n)
		}
	}
	f("AppendKey", func() { p.AppendKey(buf[:0], in) })
	f("local Allow", func() { p.Allow(ctx, key) })
	f("SetHeaders", func() { p.SetHeaders(&h, p.Allow(ctx, key)) })

	// A key refused by Redis earlier is refused from the per-process map,
	// even while Redis is unreachable.
	r, err := New([]config.RateLimit{{Name: "r", LimitPerMinute: 60}},
		Options{RedisURL: "unix://" + t.TempDir() + "/none.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rp := r.Policy("r")
	now := r.clock.micros()
	r.redis.blocked.put([]byte("rl:{r:k}"), now+60e6, now)
	if d := rp.Allow(ctx, []byte("k")); d.Allowed || d.Source != SourceCache {
		t.Fatalf("blocked key: %+v; want refused from cache", d)
	}
	f("cached refusal", func() { rp.Allow(ctx, []byte("k")) })
}
