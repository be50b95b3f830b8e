package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/bench/redistest"
	"github.com/fluxgate/fluxgate/config"
)

// newRedisLimiter builds a Limiter on s with the given policies (store
// redis unless set).
func newRedisLimiter(t testing.TB, url string, timeout time.Duration, policies ...config.RateLimit) *Limiter {
	t.Helper()
	for i := range policies {
		if policies[i].Store == "" {
			policies[i].Store = "redis"
		}
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	l, err := New(policies, Options{RedisURL: url, RedisTimeout: timeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
}

func TestRedisBurstThenSteady(t *testing.T) {
	s := redistest.Start(t)
	// 10 tokens/s, burst 20: the lower bound survives 2s stalls.
	pol := config.RateLimit{Name: "exact", LimitPerMinute: 600, Burst: 20}
	l := newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol)
	p := l.Policy("exact")
	if d := p.Allow(context.Background(), []byte("warm")); d.Source != SourceRedis {
		t.Fatalf("first decision from %q; want redis", d.Source)
	}
	drained, first, empty := drain(l, p, []byte("k"))
	r := hammer(l, p, []byte("k"), time.Second)
	checkExact(t, "1 goroutine", drained, r.admitted, pol.Burst, 100_000, first, empty, r.lastBefore, r.lastAfter)
}

// TestRedisExactAcrossWorkers shares one Redis between three Limiters (as
// three worker processes would, each with its own client and caches) with
// two goroutines each.
func TestRedisExactAcrossWorkers(t *testing.T) {
	s := redistest.Start(t)
	// 50 tokens/s, burst 50: the lower bound survives 1s stalls.
	pol := config.RateLimit{Name: "shared", LimitPerMinute: 3000, Burst: 50}
	var limiters []*Limiter
	for range 3 {
		limiters = append(limiters, newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol))
	}
	key := []byte("198.51.100.1")
	drained, first, empty := drain(limiters[0], limiters[0].Policy("shared"), key)
	var (
		mu    sync.Mutex
		total hammerResult
		wg    sync.WaitGroup
	)
	for _, l := range limiters {
		for range 2 {
			wg.Go(func() {
				r := hammer(l, l.Policy("shared"), key, time.Second)
				mu.Lock()
				defer mu.Unlock()
				total.admitted += r.admitted
				total.lastBefore = max(total.lastBefore, r.lastBefore)
				total.lastAfter = max(total.lastAfter, r.lastAfter)
			})
		}
	}
	wg.Wait()
	checkExact(t, "3 limiters × 2 goroutines", drained, total.admitted, pol.Burst, 20_000, first, empty, total.lastBefore, total.lastAfter)
}

// TestRedisCachedRefusals shows that a blocked key stops costing Redis
// commands (INFO commandstats), in the process that was refused (L0 map) and
// in another one (the :blk marker through client-side caching), and that it
// is admitted again once a token is available.
func TestRedisCachedRefusals(t *testing.T) {
	s := redistest.Start(t)
	pol := config.RateLimit{Name: "cache", LimitPerMinute: 120, Burst: 2} // one token per 500ms
	a := newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol)
	b := newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol)
	pa, pb := a.Policy("cache"), b.Policy("cache")
	ctx := context.Background()
	key := []byte("203.0.113.9")
	for i := range 2 {
		if d := pa.Allow(ctx, key); !d.Allowed || d.Source != SourceRedis {
			t.Fatalf("Allow #%d = %+v; want admitted by redis", i, d)
		}
	}
	d := pa.Allow(ctx, key)
	if d.Allowed || d.Source != SourceRedis || d.Status != 429 {
		t.Fatalf("Allow #3 = %+v; want refused by redis", d)
	}
	refusedAt := time.Now()
	scripts := func() int {
		c := s.CommandCalls("evalsha", "eval")
		return c["evalsha"] + c["eval"]
	}
	evals, gets := scripts(), s.CommandCalls("get")["get"]

	for range 1000 {
		if d := pa.Allow(ctx, key); d.Allowed || d.Source != SourceCache {
			t.Fatalf("blocked key in the refused process: %+v; want refused from cache", d)
		}
	}
	if n := scripts(); n != evals {
		t.Fatalf("1000 cached refusals ran the script %d times", n-evals)
	}
	for range 1000 {
		if d := pb.Allow(ctx, key); d.Allowed || d.Source != SourceCache {
			t.Fatalf("blocked key in another process: %+v; want refused from cache", d)
		}
	}
	nEvals, nGets := scripts(), s.CommandCalls("get")["get"]
	t.Logf("2000 refusals of a blocked key: %d script calls, %d GET (marker read once by the second process)", nEvals-evals, nGets-gets)
	if nEvals != evals || nGets-gets > 1 {
		t.Fatalf("cached refusals cost %d script calls and %d GETs; want 0 and ≤ 1", nEvals-evals, nGets-gets)
	}

	// After the refill, both processes are admitted again: no stale block.
	for _, p := range []*Policy{pb, pa} {
		var got Decision
		waitFor(t, 3*time.Second, "admission after refill", func() bool {
			got = p.Allow(ctx, key)
			return got.Allowed
		})
		if got.Source != SourceRedis {
			t.Fatalf("admission after refill from %q; want redis", got.Source)
		}
	}
	if since := time.Since(refusedAt); since > 2*time.Second {
		t.Fatalf("admitted again only after %v; the refill takes 500ms", since)
	}
}

// TestRedisMarkerInvalidation deletes a blocked key's state in Redis (an
// operator's reset): the process that learned of the block through the
// cached marker admits at once, well before the natural refill.
func TestRedisMarkerInvalidation(t *testing.T) {
	s := redistest.Start(t)
	pol := config.RateLimit{Name: "inv", LimitPerMinute: 1, Burst: 1} // a refill takes a minute
	a := newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol)
	b := newRedisLimiter(t, s.URL(), 200*time.Millisecond, pol)
	ctx := context.Background()
	key := []byte("k")
	a.Policy("inv").Allow(ctx, key)
	if d := a.Policy("inv").Allow(ctx, key); d.Allowed {
		t.Fatal("second request admitted")
	}
	if d := b.Policy("inv").Allow(ctx, key); d.Allowed || d.Source != SourceCache {
		t.Fatalf("other process: %+v; want refused from the cached marker", d)
	}
	s.Do("DEL", "rl:{inv:k}", "rl:{inv:k}:blk")
	var got Decision
	waitFor(t, 2*time.Second, "admission after the marker was deleted", func() bool {
		got = b.Policy("inv").Allow(ctx, key)
		return got.Allowed
	})
	if got.Source != SourceRedis {
		t.Fatalf("admitted from %q; want redis", got.Source)
	}
}

// TestRedisFailureModes kills Redis: each policy's on_redis_failure applies
// at once, and Redis is used again after it restarts.
func TestRedisFailureModes(t *testing.T) {
	s := redistest.Start(t)
	l := newRedisLimiter(t, s.URL(), 100*time.Millisecond,
		config.RateLimit{Name: "local", LimitPerMinute: 60, Burst: 5},
		config.RateLimit{Name: "allow", LimitPerMinute: 60, Burst: 1, OnRedisFailure: "allow"},
		config.RateLimit{Name: "deny", LimitPerMinute: 60, Burst: 5, OnRedisFailure: "deny"})
	ctx := context.Background()
	key := []byte("k")
	if st := l.RedisState(); st != RedisUp {
		t.Fatalf("RedisState = %q; want up", st)
	}
	if d := l.Policy("local").Allow(ctx, key); !d.Allowed || d.Source != SourceRedis {
		t.Fatalf("before the kill: %+v", d)
	}
	s.Kill()

	// The local store continues the bucket Redis had (mirrored): 4 of the
	// burst of 5 are left.
	start := time.Now()
	for i := range 4 {
		d := l.Policy("local").Allow(ctx, key)
		if !d.Allowed || d.Source != SourceLocal {
			t.Fatalf("local fallback #%d: %+v; want admitted by the local store", i, d)
		}
	}
	if took := time.Since(start); took > 4*100*time.Millisecond {
		t.Fatalf("4 fallback decisions took %v", took)
	}
	waitFor(t, time.Second, "RedisState down", func() bool { return l.RedisState() == RedisDown })
	for range 3 {
		if d := l.Policy("allow").Allow(ctx, key); !d.Allowed || d.Source != SourceFallbackAllow {
			t.Fatalf("allow mode: %+v", d)
		}
		if d := l.Policy("deny").Allow(ctx, key); d.Allowed || d.Status != 503 || d.Source != SourceFallbackDeny {
			t.Fatalf("deny mode: %+v", d)
		}
	}
	// The local store still limits: burst 5, all taken (1 through Redis).
	if d := l.Policy("local").Allow(ctx, key); d.Allowed || d.Status != 429 || d.Source != SourceLocal {
		t.Fatalf("6th decision: %+v; want refused by the local store", d)
	}

	s.Restart()
	waitFor(t, 15*time.Second, "RedisState up after restart", func() bool { return l.RedisState() == RedisUp })
	if d := l.Policy("deny").Allow(ctx, key); !d.Allowed || d.Source != SourceRedis {
		t.Fatalf("after restart: %+v; want admitted by redis", d)
	}
}

// TestRedisFallbackContinuesBucket: the local fallback continues the
// bucket Redis had for the key (mirrored on every Redis decision) rather
// than granting a fresh burst.
func TestRedisFallbackContinuesBucket(t *testing.T) {
	s := redistest.Start(t)
	l := newRedisLimiter(t, s.URL(), 100*time.Millisecond, config.RateLimit{Name: "m", LimitPerMinute: 6, Burst: 3})
	p := l.Policy("m")
	ctx := context.Background()
	key := []byte("k")
	for i := range 2 {
		if d := p.Allow(ctx, key); !d.Allowed || d.Source != SourceRedis {
			t.Fatalf("Allow #%d = %+v; want admitted by redis", i, d)
		}
	}
	s.Kill()
	if d := p.Allow(ctx, key); !d.Allowed || d.Source != SourceLocal {
		t.Fatalf("first fallback decision: %+v; want admitted by the local store (1 of 3 left)", d)
	}
	if d := p.Allow(ctx, key); d.Allowed || d.Source != SourceLocal {
		t.Fatalf("second fallback decision: %+v; want refused: the bucket is empty", d)
	}
}

// TestRedisStoppedBreaker freezes Redis (SIGSTOP): decisions return within a
// bound of the timeout, the breaker opens, and later decisions do not wait.
func TestRedisStoppedBreaker(t *testing.T) {
	s := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	l := newRedisLimiter(t, s.URL(), timeout, config.RateLimit{Name: "p", LimitPerMinute: 600, Burst: 100})
	p := l.Policy("p")
	ctx := context.Background()
	if d := p.Allow(ctx, []byte("k")); d.Source != SourceRedis {
		t.Fatalf("before SIGSTOP: %+v", d)
	}
	s.Signal(syscall.SIGSTOP)
	defer s.Signal(syscall.SIGCONT)
	for i := 0; l.RedisState() == RedisUp; i++ {
		if i == 10 {
			t.Fatal("breaker still closed after 10 timed-out decisions")
		}
		start := time.Now()
		d := p.Allow(ctx, fmt.Appendf(nil, "k%d", i))
		if took := time.Since(start); took > 10*timeout {
			t.Fatalf("decision #%d against a stopped redis took %v; timeout %v", i, took, timeout)
		}
		if !d.Allowed || d.Source != SourceLocal {
			t.Fatalf("decision #%d: %+v; want the local fallback", i, d)
		}
	}
	start := time.Now()
	for i := range 100 {
		p.Allow(ctx, fmt.Appendf(nil, "open%d", i))
	}
	if took := time.Since(start); took > 10*timeout {
		t.Fatalf("100 decisions with the breaker open took %v", took)
	}
	s.Signal(syscall.SIGCONT)
	waitFor(t, 15*time.Second, "RedisState up after SIGCONT", func() bool { return l.RedisState() == RedisUp })
	if d := p.Allow(ctx, []byte("k")); d.Source != SourceRedis {
		t.Fatalf("after SIGCONT: %+v; want redis", d)
	}
}

// TestRedisUnreachableAtStart: New succeeds without Redis and the limiter
// connects once Redis appears.
func TestRedisUnreachableAtStart(t *testing.T) {
	s := redistest.NewUnstarted(t)
	start := time.Now()
	l := newRedisLimiter(t, s.URL(), 50*time.Millisecond, config.RateLimit{Name: "p", LimitPerMinute: 60})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("New took %v without redis", took)
	}
	if st := l.RedisState(); st != RedisDown {
		t.Fatalf("RedisState = %q; want down", st)
	}
	if d := l.Policy("p").Allow(context.Background(), []byte("k")); d.Source != SourceLocal {
		t.Fatalf("decision without redis: %+v", d)
	}
	s.Restart() // skips without redis-server
	waitFor(t, 15*time.Second, "RedisState up", func() bool { return l.RedisState() == RedisUp })
	if d := l.Policy("p").Allow(context.Background(), []byte("k")); d.Source != SourceRedis {
		t.Fatalf("decision after connect: %+v", d)
	}
}
