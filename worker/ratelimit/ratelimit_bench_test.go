package ratelimit

import (
	"context"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/bench/redistest"
	"github.com/fluxgate/fluxgate/config"
	"github.com/valyala/fasthttp"
)

func benchLocal(b *testing.B) *Policy {
	l, err := New([]config.RateLimit{{Name: "p", LimitPerMinute: 6e6, Burst: 1e6, Store: "local"}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(l.Close)
	return l.Policy("p")
}

// BenchmarkLocalAllow is one local-store decision on one hot key.
func BenchmarkLocalAllow(b *testing.B) {
	p := benchLocal(b)
	ctx, key := context.Background(), []byte("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		p.Allow(ctx, key)
	}
}

// BenchmarkLocalAllowParallel spreads decisions over 1024 keys from all
// goroutines (CAS contention on shared cache lines).
func BenchmarkLocalAllowParallel(b *testing.B) {
	p := benchLocal(b)
	var keys [1024][]byte
	for i := range keys {
		keys[i] = []byte("10.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p.Allow(ctx, keys[i&1023])
			i++
		}
	})
}

// BenchmarkCachedRefusal is a refusal of a key that Redis refused before
// (per-process map, no Redis round trip).
func BenchmarkCachedRefusal(b *testing.B) {
	s := redistest.Start(b)
	l := newRedisLimiter(b, s.URL(), time.Second, config.RateLimit{Name: "p", LimitPerMinute: 1, Burst: 1})
	p := l.Policy("p")
	ctx, key := context.Background(), []byte("192.0.2.1")
	p.Allow(ctx, key)
	if d := p.Allow(ctx, key); d.Allowed {
		b.Fatal("not blocked")
	}
	b.ReportAllocs()
	for b.Loop() {
		if p.Allow(ctx, key).Source != SourceCache {
			b.Fatal("not from cache")
		}
	}
}

// BenchmarkCachedRefusalMarker is a refusal in a process that learned of
// the block from the :blk marker (client-side cache hit, no round trip).
func BenchmarkCachedRefusalMarker(b *testing.B) {
	s := redistest.Start(b)
	pol := config.RateLimit{Name: "p", LimitPerMinute: 1, Burst: 1}
	a := newRedisLimiter(b, s.URL(), time.Second, pol)
	o := newRedisLimiter(b, s.URL(), time.Second, pol)
	ctx, key := context.Background(), []byte("192.0.2.1")
	a.Policy("p").Allow(ctx, key)
	a.Policy("p").Allow(ctx, key)
	p := o.Policy("p")
	b.ReportAllocs()
	for b.Loop() {
		if p.Allow(ctx, key).Source != SourceCache {
			b.Fatal("not from cache")
		}
	}
}

// BenchmarkRedisAllowParallel runs admitted decisions (one script call
// each, auto-pipelined) against a local redis-server from many goroutines.
func BenchmarkRedisAllowParallel(b *testing.B) {
	s := redistest.Start(b)
	l := newRedisLimiter(b, s.URL(), time.Second, config.RateLimit{Name: "p", LimitPerMinute: 6e7, Burst: 1e7})
	p := l.Policy("p")
	ctx := context.Background()
	var id, fallbacks atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		key := []byte("k" + strconv.FormatInt(id.Add(1), 10))
		for pb.Next() {
			if p.Allow(ctx, key).Source != SourceRedis {
				fallbacks.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	if n := fallbacks.Load(); n > 0 {
		b.Logf("%d of %d decisions fell back", n, b.N)
	}
}

func BenchmarkAppendKey(b *testing.B) {
	l, _ := New([]config.RateLimit{{Name: "p", LimitPerMinute: 1, Store: "local", Key: []string{"client_ip", "route_path"}}}, Options{})
	defer l.Close()
	p := l.Policy("p")
	in := &KeyInput{ClientIP: netip.MustParseAddr("2001:db8::1"), RouteID: "orders"}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendKey(buf[:0], in)
	}
}

func BenchmarkSetHeaders(b *testing.B) {
	p := benchLocal(b)
	var h fasthttp.ResponseHeader
	d := Decision{Allowed: true, Limit: 100, Remaining: 42, Reset: 3 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		p.SetHeaders(&h, d)
	}
}
