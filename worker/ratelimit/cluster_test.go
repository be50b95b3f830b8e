package ratelimit

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/bench/redistest"
	"github.com/fluxgate/fluxgate/config"
)

// TestRedisCluster runs the store on a 3-master Redis Cluster built with
// redis-cli --cluster create: decisions for keys on every master, exact
// limits, and cached refusals in another client.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := redistest.StartCluster(t, 3)
	var addrs []string
	for _, s := range nodes {
		addrs = append(addrs, s.Addr())
	}

	url := strings.Join(addrs, ",")
	pol := config.RateLimit{Name: "c", LimitPerMinute: 600, Burst: 3} // 10/s
	a := newRedisLimiter(t, url, 500*time.Millisecond, pol)
	b := newRedisLimiter(t, url, 500*time.Millisecond, pol)
	if st := a.RedisState(); st != RedisUp {
		t.Fatalf("RedisState = %q; want up", st)
	}
	bg := context.Background()
	// Enough keys to land on every master; each gets exactly its burst.
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	for _, k := range keys {
		admitted := 0
		for range 4 {
			d := a.Policy("c").Allow(bg, []byte(k))
			if d.Source != SourceRedis && d.Source != SourceCache {
				t.Fatalf("key %s: %+v; want decided by the cluster", k, d)
			}
			if d.Allowed {
				admitted++
			}
		}
		if admitted != 3 {
			t.Fatalf("key %s: admitted %d of 4; want the burst 3", k, admitted)
		}
		if d := b.Policy("c").Allow(bg, []byte(k)); d.Allowed || d.Source != SourceCache {
			t.Fatalf("key %s in another client: %+v; want refused from the cached marker", k, d)
		}
	}
	used := 0
	for _, s := range nodes {
		if s.CommandCalls("evalsha")["evalsha"] > 0 {
			used++
		}
	}
	if used != len(nodes) {
		t.Fatalf("the script ran on %d of %d masters", used, len(nodes))
	}

	// Exactness on one key against the formula.
	drained, first, empty := drain(a, a.Policy("c"), []byte("exact"))
	r := hammer(a, a.Policy("c"), []byte("exact"), 500*time.Millisecond)
	checkExact(t, "cluster", drained, r.admitted, pol.Burst, 100_000, first, empty, r.lastBefore, r.lastAfter)
}

// TestRedisSentinel runs the store through a Sentinel (redis-server
// --sentinel) monitoring one master, with both URL forms.
func TestRedisSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("sentinel test")
	}
	master := redistest.StartTCP(t, false)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	for i, url := range []string{
		"redis-sentinel://" + sentinel.Addr() + "/mymaster",
		"redis://" + sentinel.Addr() + "?master_set=mymaster",
	} {
		name := "s" + strconv.Itoa(i)
		l := newRedisLimiter(t, url, 500*time.Millisecond, config.RateLimit{Name: name, LimitPerMinute: 60, Burst: 2})
		if st := l.RedisState(); st != RedisUp {
			t.Fatalf("%s: RedisState = %q; want up", url, st)
		}
		p := l.Policy(name)
		var got []string
		for range 3 {
			d := p.Allow(context.Background(), []byte("k"))
			got = append(got, strconv.FormatBool(d.Allowed)+"/"+d.Source)
		}
		if want := "true/redis true/redis false/redis"; strings.Join(got, " ") != want {
			t.Fatalf("%s: decisions %q; want %q", url, got, want)
		}
	}
	if n := master.CommandCalls("evalsha")["evalsha"]; n != 6 {
		t.Fatalf("master ran the script %d times; want 6", n)
	}
}
