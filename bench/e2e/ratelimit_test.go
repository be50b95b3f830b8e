package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/bench/redistest"
)

// The rate-limiting contract of SPEC §4 through the real binary: exact
// limits across workers, gateways and a Redis Cluster, cached refusals,
// Redis failure modes, keys, headers and shadow mode. Every Redis is a
// redis-server process started by the test (package redistest).

// rlConfig is a gateway config with an upstream, a route /rl limited by
// policy "p" (limits holds the rate_limits items), and a route /free
// without a limit. redisURL "" points the store at a socket that does not
// exist (for local-store policies, which never use it).
func rlConfig(workers int, upstream, redisURL, serverExtra, limits string) string {
	return rlConfigTimeout(workers, upstream, redisURL, 50, serverExtra, limits)
}

func rlConfigTimeout(workers int, upstream, redisURL string, timeoutMS int, serverExtra, limits string) string {
	if redisURL == "" {
		redisURL = "unix:///nonexistent/fluxgate-e2e.sock"
	}
	return Config(workers, serverExtra, fmt.Sprintf(`redis:
  url: %q
  timeout_ms: %d
upstreams:
  - name: up
    base_url: "http://%s"
    timeout_ms: 5000
routes:
  - id: rl
    match_path: {prefix: "/rl"}
    upstream: up
    rate_limit: p
  - id: free
    match_path: {prefix: "/free"}
    upstream: up
rate_limits:
%s`, redisURL, timeoutMS, upstream, strings.TrimLeft(limits, "\n")))
}

// hit is one request of a hammer run, times since the run started.
type hit struct {
	sent, recv time.Duration
	status     int // 0 = transport error
}

// hammer is a keep-alive load generator for rate-limit tests: conns
// goroutines, each with its own connection (so the kernel spreads them
// over the workers), recording every request.
type hammer struct {
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	n      atomic.Int64

	mu   sync.Mutex
	hits []hit
	errs []string
}

// startHammer starts conns goroutines; goroutine i loops GET on
// urls[i%len(urls)] with the headers hdr. With until > 0 each goroutine
// stops by itself once until has passed and it has seen a refusal, so that
// no token available at the end is left unclaimed (or 5 s later at the
// latest); otherwise it runs until stop.
func startHammer(urls []string, conns int, until time.Duration, hdr map[string]string) *hammer {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hammer{start: time.Now(), cancel: cancel}
	for i := range conns {
		url := urls[i%len(urls)]
		h.wg.Go(func() { h.run(ctx, url, until, hdr) })
	}
	return h
}

func (h *hammer) run(ctx context.Context, url string, until time.Duration, hdr map[string]string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mine []hit
	defer func() {
		h.mu.Lock()
		h.hits = append(h.hits, mine...)
		h.mu.Unlock()
	}()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		sent := time.Since(h.start)
		status := 0
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			status = 0
			h.mu.Lock()
			if len(h.errs) < 10 {
				h.errs = append(h.errs, err.Error())
			}
			h.mu.Unlock()
		}
		recv := time.Since(h.start)
		mine = append(mine, hit{sent: sent, recv: recv, status: status})
		h.n.Add(1)
		if until > 0 && recv > until && (status != http.StatusOK || recv > until+5*time.Second) {
			return
		}
	}
}

// since is the time since the run started.
func (h *hammer) since() time.Duration { return time.Since(h.start) }

// wait waits for the goroutines (runs with until) and returns every hit.
func (h *hammer) wait() []hit {
	h.wg.Wait()
	h.cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits
}

// stop ends the run and returns every hit.
func (h *hammer) stop() []hit {
	h.cancel()
	return h.wait()
}

// statusCounts counts hits by status.
func statusCounts(hits []hit) map[int]int {
	m := map[int]int{}
	for _, x := range hits {
		m[x.status]++
	}
	return m
}

// p99 is the 99th percentile latency of hits sent within [from, to), and
// how many there were.
func p99(hits []hit, from, to time.Duration) (time.Duration, int) {
	var d []time.Duration
	for _, x := range hits {
		if x.sent >= from && x.sent < to {
			d = append(d, x.recv-x.sent)
		}
	}
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)*99/100], len(d)
}

// exactSlack is how much of the measured span the lower bound forgives:
// the client sees a decision only between sending and receiving.
const exactSlack = 200 * time.Millisecond

// checkExact asserts the token bucket's bound on the admitted (200) hits:
//
//	admitted ≤ burst + span_hi/T + 1, span_hi = last receive − first send
//	admitted ≥ burst + (span_lo − slack)/T − 1, span_lo = last send − first receive
//
// T being the emission interval. The decisions lie between a request's
// send and receive, so the true span between the first and the last
// admission lies within [span_lo, span_hi]. It fails on any status other
// than 200 and 429 and returns the number admitted.
func checkExact(t *testing.T, what string, hits []hit, burst, perMinute int) int {
	t.Helper()
	emit := time.Duration((60_000_000+perMinute-1)/perMinute) * time.Microsecond
	var admitted, refused, other int
	firstSent, firstRecv := time.Duration(1<<62), time.Duration(1<<62)
	var lastSent, lastRecv time.Duration
	for _, x := range hits {
		switch x.status {
		case http.StatusOK:
			admitted++
			firstSent, firstRecv = min(firstSent, x.sent), min(firstRecv, x.recv)
			lastSent, lastRecv = max(lastSent, x.sent), max(lastRecv, x.recv)
		case http.StatusTooManyRequests:
			refused++
		default:
			other++
		}
	}
	if admitted == 0 {
		t.Fatalf("%s: nothing admitted (%v)", what, statusCounts(hits))
	}
	spanHi, spanLo := lastRecv-firstSent, lastSent-firstRecv
	hi := burst + int(spanHi/emit) + 1
	lo := burst + int(max(spanLo-exactSlack, 0)/emit) - 1
	t.Logf("%s: admitted %d (refused %d) over %v..%v; bound %d..%d (burst %d + %g/s)",
		what, admitted, refused, spanLo.Round(time.Millisecond), spanHi.Round(time.Millisecond),
		lo, hi, burst, float64(time.Second)/float64(emit))
	if other > 0 {
		t.Errorf("%s: %d answers neither 200 nor 429: %v", what, other, statusCounts(hits))
	}
	if admitted > hi {
		t.Errorf("%s: admitted %d; want at most burst + rate×span + 1 = %d", what, admitted, hi)
	}
	if admitted < lo {
		t.Errorf("%s: admitted %d; want at least burst + rate×(span − %v) − 1 = %d", what, admitted, exactSlack, lo)
	}
	return admitted
}

// decisions sums fluxgate_ratelimit_decisions_total of policy over the
// gateways, by "result/source".
func decisions(t *testing.T, policy string, gws ...*Gateway) map[string]float64 {
	t.Helper()
	re := regexp.MustCompile(`^fluxgate_ratelimit_decisions_total\{policy="` + regexp.QuoteMeta(policy) + `",result="(\w+)",source="(\w+)"\}$`)
	out := map[string]float64{}
	for _, g := range gws {
		for k, v := range scrape(t, g) {
			if m := re.FindStringSubmatch(k); m != nil {
				out[m[1]+"/"+m[2]] += v
			}
		}
	}
	return out
}

// sumResult sums decisions of one result ("allowed", "refused") over sources.
func sumResult(d map[string]float64, result string) float64 {
	s := 0.0
	for k, v := range d {
		if strings.HasPrefix(k, result+"/") {
			s += v
		}
	}
	return s
}

// readyRedis is the part of /readyz these tests read.
type readyRedis struct {
	Redis  string `json:"redis"`
	Worker int    `json:"worker"`
}

func getReadyRedis(g *Gateway) (readyRedis, error) {
	req, _ := http.NewRequest(http.MethodGet, g.URL("/readyz"), nil)
	req.Close = true // a new connection each time: any worker may answer
	resp, err := g.Client.Do(req)
	if err != nil {
		return readyRedis{}, err
	}
	defer resp.Body.Close()
	var r readyRedis
	err = json.NewDecoder(resp.Body).Decode(&r)
	return r, err
}

// waitRedisState polls /readyz until its "redis" field is want: in any
// worker's answer when workers is 0, else in the answers of that many
// distinct workers.
func waitRedisState(t *testing.T, g *Gateway, workers int, want string, timeout time.Duration) {
	t.Helper()
	seen := map[int]bool{}
	var last readyRedis
	if !poll(timeout, func() bool {
		r, err := getReadyRedis(g)
		if err != nil {
			return false
		}
		last = r
		if r.Redis == want {
			seen[r.Worker] = true
		}
		return len(seen) >= max(workers, 1)
	}) {
		t.Fatalf("/readyz redis=%q not seen from %d workers within %v (seen %v, last %+v)", want, workers, timeout, seen, last)
	}
}

// exactTimeoutMS is redis.timeout_ms for the exactness tests. They measure
// the store, not the fallback: on a loaded 2-core host a Redis round trip
// occasionally takes longer than the 50 ms default, and then the local
// fallback decides (continuing the mirrored bucket, but a token may be
// granted by both stores around the timeout).
const exactTimeoutMS = 1000

// TestRateLimitExact hammers one key for 3 s with many connections and
// checks the admissions against the bucket's formula: Redis store with 1
// and 4 workers and with two gateways sharing one Redis; local store across
// 1 and 4 worker processes of one supervisor.
func TestRateLimitExact(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of load per case")
	}
	t.Parallel()
	const perMinute, burst = 600, 20 // 10/s
	policy := func(store string) string {
		return fmt.Sprintf(`  - name: p
    limit_per_minute: %d
    burst: %d
    store: %s
`, perMinute, burst, store)
	}
	for _, c := range []struct {
		name              string
		store             string
		workers, gateways int
	}{
		{"redis/1worker", "redis", 1, 1},
		{"redis/4workers", "redis", 4, 1},
		{"redis/2gateways", "redis", 2, 2},
		{"local/1worker", "local", 1, 1},
		{"local/4workers", "local", 4, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			up := StartUpstream(t, "rl")
			url := ""
			if c.store == "redis" {
				url = redistest.Start(t).URL()
			}
			var gws []*Gateway
			var urls []string
			for range c.gateways {
				g := StartGateway(t, GatewayOptions{Config: rlConfigTimeout(c.workers, up.Addr, url, exactTimeoutMS, "", policy(c.store))})
				gws = append(gws, g)
				urls = append(urls, g.URL("/rl/x"))
				if c.store == "redis" {
					waitRedisState(t, g, c.workers, "up", 10*time.Second)
				}
			}
			h := startHammer(urls, 8*c.gateways+4*c.workers, 3*time.Second, nil)
			admitted := checkExact(t, c.name, h.wait(), burst, perMinute)
			d := decisions(t, "p", gws...)
			t.Logf("%s: decisions %v", c.name, d)
			if got := d["allowed/"+c.store]; got != float64(admitted) {
				t.Errorf("%s: allowed decisions from %s = %v; want all %d admissions", c.name, c.store, got, admitted)
			}
		})
	}
}

// TestRateLimitRedisCluster points the gateway at a 3-master Redis Cluster
// (comma-separated seeds): the same exactness, and keys spread over every
// master.
func TestRateLimitRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster and 3 s of load")
	}
	t.Parallel()
	nodes := redistest.StartCluster(t, 3)
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.Addr())
	}
	up := StartUpstream(t, "rl")
	const perMinute, burst, workers = 600, 20, 2
	g := StartGateway(t, GatewayOptions{Config: rlConfigTimeout(workers, up.Addr, strings.Join(seeds, ","), exactTimeoutMS,
		`  trusted_proxies: ["127.0.0.1/32"]`, fmt.Sprintf(`  - name: p
    limit_per_minute: %d
    burst: %d
`, perMinute, burst))})
	waitRedisState(t, g, workers, "up", 10*time.Second)

	h := startHammer([]string{g.URL("/rl/x")}, 16, 3*time.Second, nil)
	admitted := checkExact(t, "cluster", h.wait(), burst, perMinute)
	if d := decisions(t, "p", g); d["allowed/redis"] != float64(admitted) {
		t.Errorf("cluster: allowed decisions from redis = %v; want all %d admissions (%v)", d["allowed/redis"], admitted, d)
	}

	// Keys by client address (trusted proxy): 24 addresses land on every
	// master.
	for i := range 24 {
		req, _ := http.NewRequest(http.MethodGet, g.URL("/rl/x"), nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i+1))
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("XFF 10.0.0.%d: status %d; want 200 (a fresh bucket)", i+1, resp.StatusCode)
		}
	}
	for _, n := range nodes {
		calls := n.CommandCalls("evalsha", "eval")
		t.Logf("cluster node %s: %v", n.Addr(), calls)
		if calls["evalsha"]+calls["eval"] == 0 {
			t.Errorf("cluster node %s never ran the script", n.Addr())
		}
	}
}

// TestRateLimitClientSideCache: once a key is refused, hammering it costs
// Redis (almost) no commands, in every worker; when the bucket refills,
// requests are admitted again at the exact time.
func TestRateLimitClientSideCache(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 5 s refill")
	}
	t.Parallel()
	r := redistest.Start(t)
	up := StartUpstream(t, "rl")
	const workers = 2
	g := StartGateway(t, GatewayOptions{Config: rlConfigTimeout(workers, up.Addr, r.URL(), exactTimeoutMS, "", `  - name: p
    limit_per_minute: 12
    burst: 1
`)}) // one token every 5 s; no fallback on a slow round trip
	waitRedisState(t, g, workers, "up", 10*time.Second)

	t0 := time.Now()
	code, _, err := g.Get("/rl/x")
	recv0 := time.Since(t0)
	if err != nil || code != http.StatusOK {
		t.Fatalf("first request: %d, %v; want 200", code, err)
	}
	if code, _, err := g.Get("/rl/x"); err != nil || code != http.StatusTooManyRequests {
		t.Fatalf("second request: %d, %v; want 429", code, err)
	}

	names := []string{"evalsha", "eval", "get"}
	before := r.CommandCalls(names...)
	h := startHammer([]string{g.URL("/rl/x")}, 8, 0, nil)
	if !poll(10*time.Second, func() bool { return h.n.Load() >= 500 }) {
		t.Fatalf("500 requests not done in 10 s")
	}
	hits := h.stop()
	after := r.CommandCalls(names...)
	counts := statusCounts(hits)
	if elapsed := time.Since(t0); elapsed >= 5*time.Second {
		t.Fatalf("the hammering took until %v, past the refill at 5 s: inconclusive", elapsed)
	}
	scripts := after["evalsha"] + after["eval"] - before["evalsha"] - before["eval"]
	gets := after["get"] - before["get"]
	t.Logf("%d requests on a blocked key (%v): %d script calls, %d GETs (marker reads and script GETs)",
		len(hits), counts, scripts, gets)
	if counts[http.StatusTooManyRequests] != len(hits) {
		t.Errorf("blocked key: statuses %v; want all 429", counts)
	}
	if scripts > 2 || gets > 2*workers {
		t.Errorf("blocked key cost %d script calls and %d GETs for %d requests; want ≤ 2 and ≤ %d", scripts, gets, len(hits), 2*workers)
	}
	if d := decisions(t, "p", g); d["refused/cache"] < float64(len(hits))-2 {
		t.Errorf("refusals from the cache = %v; want about %d (%v)", d["refused/cache"], len(hits), d)
	}

	// The refill: admitted again once the token is back, not before (the
	// first admission was decided no earlier than t0) and not much later.
	var sent, recv time.Duration
	if !poll(10*time.Second, func() bool {
		sent = time.Since(t0)
		code, _, err := g.Get("/rl/x")
		recv = time.Since(t0)
		return err == nil && code == http.StatusOK
	}) {
		t.Fatal("not admitted again within 10 s of the refill")
	}
	t.Logf("admitted again at %v..%v after the first admission (token due at 5 s after it, decided within %v)",
		sent.Round(time.Millisecond), recv.Round(time.Millisecond), recv0.Round(time.Millisecond))
	if recv < 5*time.Second {
		t.Errorf("admitted again %v after the first admission; want ≥ 5 s", recv)
	}
	if sent > recv0+5*time.Second+time.Second {
		t.Errorf("admitted again only %v after the first admission; want within 1 s of the refill at 5 s", sent)
	}
}

// TestRateLimitRedisFailure kills Redis under load in each on_redis_failure
// mode: local and allow keep answering 200 (no 5xx), deny answers 503 with
// the JSON error; /readyz reports redis down; after a restart on the same
// socket it reports up and decisions come from Redis again.
func TestRateLimitRedisFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("Redis outage under load")
	}
	t.Parallel()
	for _, mode := range []string{"local", "allow", "deny"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testRedisFailure(t, mode)
		})
	}
}

func testRedisFailure(t *testing.T, mode string) {
	r := redistest.Start(t)
	up := StartUpstream(t, "rl")
	const workers = 2
	// A killed Redis is noticed at once (connection refused), whatever the
	// timeout; a generous one keeps a CPU-starved round trip on a loaded
	// host from reopening the breaker after the restart.
	g := StartGateway(t, GatewayOptions{Config: rlConfigTimeout(workers, up.Addr, r.URL(), 500, "", `  - name: p
    limit_per_minute: 6000000
    burst: 1000000
    on_redis_failure: `+mode+`
`)}) // never refuses
	waitRedisState(t, g, workers, "up", 10*time.Second)
	fallback := map[string]string{"local": "allowed/local", "allow": "allowed/fallback_allow", "deny": "refused/fallback_deny"}[mode]

	h := startHammer([]string{g.URL("/rl/x")}, 16, 0, nil)
	defer h.stop()
	if !poll(10*time.Second, func() bool { return h.n.Load() >= 200 }) {
		t.Fatal("load did not start")
	}
	killedAt := h.since()
	r.Kill()
	waitRedisState(t, g, 0, "down", 10*time.Second)
	downAt := h.since()
	if mode == "deny" {
		checkDenyAnswer(t, g)
	}
	if !poll(10*time.Second, func() bool { return h.since() > downAt+500*time.Millisecond }) {
		t.Fatal("load stalled")
	}
	d1 := decisions(t, "p", g)

	r.Restart()
	restartedAt := h.since()
	waitRedisState(t, g, workers, "up", 15*time.Second)
	upAt := h.since()
	// From now on decisions are Redis's: the Redis count grows, the
	// fallback's stands (almost) still.
	d2 := decisions(t, "p", g)
	if !poll(10*time.Second, func() bool {
		d := decisions(t, "p", g)
		return d["allowed/redis"] >= d2["allowed/redis"]+100
	}) {
		t.Fatalf("decisions from Redis do not grow after the restart: %v", decisions(t, "p", g))
	}
	d3 := decisions(t, "p", g)
	hits := h.stop()

	counts := statusCounts(hits)
	t.Logf("%s: killed at %v, readyz down at %v, restarted at %v, up at %v; statuses %v",
		mode, killedAt.Round(time.Millisecond), downAt.Round(time.Millisecond),
		restartedAt.Round(time.Millisecond), upAt.Round(time.Millisecond), counts)
	t.Logf("%s: decisions before restart %v; when up %v; later %v", mode, d1, d2, d3)
	if d1[fallback] == 0 {
		t.Errorf("%s: no %s decisions during the outage: %v", mode, fallback, d1)
	}
	if grew, redis := d3[fallback]-d2[fallback], d3["allowed/redis"]-d2["allowed/redis"]; grew > redis/20 {
		t.Errorf("%s: %s decisions grew by %v after Redis was up again (Redis decided %v)", mode, fallback, grew, redis)
	}
	switch mode {
	case "deny":
		if counts[http.StatusServiceUnavailable] == 0 {
			t.Errorf("deny: no 503 during the outage: %v", counts)
		}
		delete(counts, http.StatusServiceUnavailable)
		fallthrough
	default:
		delete(counts, http.StatusOK)
		if len(counts) > 0 {
			t.Errorf("%s: unexpected answers %v (errors %q)", mode, counts, h.errs)
		}
	}
}

// checkDenyAnswer checks the 503 of on_redis_failure=deny: JSON error body
// with the request id.
func checkDenyAnswer(t *testing.T, g *Gateway) {
	t.Helper()
	var resp *http.Response
	var body []byte
	if !poll(5*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, g.URL("/rl/x"), nil)
		req.Header.Set("X-Request-ID", "deny-check")
		var err error
		if resp, err = g.Client.Do(req); err != nil {
			return false
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}) {
		t.Fatalf("deny: no 503 while Redis is down")
	}
	var e map[string]string
	if err := json.Unmarshal(body, &e); err != nil || e["error"] != "rate_limiter_unavailable" || e["message"] == "" || e["request_id"] != "deny-check" {
		t.Errorf("deny: 503 body %q; want the JSON error with request_id", body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("deny: Content-Type %q", ct)
	}
}

// TestRateLimitRedisStopped: a Redis that stops answering (SIGSTOP) costs
// requests at most about redis.timeout_ms until the circuit breaker opens;
// p99 stays under 10 × the timeout.
func TestRateLimitRedisStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("Redis stall under load")
	}
	t.Parallel()
	r := redistest.Start(t)
	up := StartUpstream(t, "rl")
	const workers, timeout = 2, 50 * time.Millisecond
	g := StartGateway(t, GatewayOptions{Config: rlConfigTimeout(workers, up.Addr, r.URL(), int(timeout/time.Millisecond), "", `  - name: p
    limit_per_minute: 6000000
    burst: 1000000
`)})
	waitRedisState(t, g, workers, "up", 10*time.Second)

	h := startHammer([]string{g.URL("/rl/x")}, 16, 0, nil)
	defer h.stop()
	if !poll(10*time.Second, func() bool { return h.n.Load() >= 500 }) {
		t.Fatal("load did not start")
	}
	stoppedAt := h.since()
	r.Signal(syscall.SIGSTOP)
	const stall = 2 * time.Second
	waitRedisState(t, g, 0, "down", 10*time.Second)
	downAt := h.since()
	if !poll(10*time.Second, func() bool { return h.since() > stoppedAt+stall }) {
		t.Fatal("load stalled")
	}
	r.Signal(syscall.SIGCONT)
	waitRedisState(t, g, workers, "up", 15*time.Second)
	hits := h.stop()

	before, nb := p99(hits, 0, stoppedAt)
	during, nd := p99(hits, stoppedAt, stoppedAt+stall)
	worst := time.Duration(0)
	for _, x := range hits {
		if x.sent >= stoppedAt && x.sent < stoppedAt+stall {
			worst = max(worst, x.recv-x.sent)
		}
	}
	counts := statusCounts(hits)
	t.Logf("p99 before the stall %v (%d requests); during the 2 s stall %v (%d requests, max %v); readyz down %v after SIGSTOP; statuses %v",
		before, nb, during, nd, worst, (downAt - stoppedAt).Round(time.Millisecond), counts)
	if bound := 10 * timeout; during >= bound {
		t.Errorf("p99 during the stall %v; want < %v (10 × redis.timeout_ms)", during, bound)
	}
	if counts[http.StatusOK] != len(hits) {
		t.Errorf("statuses %v; want all 200 (local fallback)", counts)
	}
}

// TestRateLimitContract: keys (X-Forwarded-For only from a trusted proxy),
// response headers and the JSON 429, and shadow mode.
func TestRateLimitContract(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	up := StartUpstream(t, "rl")

	t.Run("keys", func(t *testing.T) {
		t.Parallel()
		limit := `  - name: p
    limit_per_minute: 6
    burst: 3
`
		get := func(g *Gateway, xff string) int {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, g.URL("/rl/x"), nil)
			if xff != "" {
				req.Header.Set("X-Forwarded-For", xff)
			}
			resp, err := g.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		// Each gateway in its own Redis database, so the policy name can
		// stay "p" in both.
		untrusted := StartGateway(t, GatewayOptions{Config: rlConfig(1, up.Addr, r.URL()+"?db=1", "", limit)})
		for i, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", ""} {
			want := http.StatusOK
			if i >= 3 {
				want = http.StatusTooManyRequests
			}
			if got := get(untrusted, xff); got != want {
				t.Errorf("untrusted peer, request %d with X-Forwarded-For %q: %d; want %d (one bucket: the peer's)", i+1, xff, got, want)
			}
		}
		if n := r.Do("EVAL", "redis.call('SELECT', 1) return #redis.call('KEYS', 'rl:*}')", "0"); n != "1" {
			t.Errorf("untrusted peer: %s TAT keys (rl:*}) in Redis; want 1 (rl:{p:127.0.0.1})", n)
		}

		trusted := StartGateway(t, GatewayOptions{Config: rlConfig(1, up.Addr, r.URL()+"?db=2", `  trusted_proxies: ["127.0.0.1/32"]`, limit)})
		for i, c := range []struct {
			xff  string
			want int
		}{
			{"198.51.100.1", 200}, {"198.51.100.1", 200}, {"198.51.100.1", 200},
			{"198.51.100.1", 429},
			{"198.51.100.2", 200},                         // another client, another bucket
			{"203.0.113.9, 198.51.100.1", 429},            // spoofed left part: still .1
			{"203.0.113.9, 198.51.100.1, 127.0.0.1", 429}, // a trusted hop is skipped
			{"", 200},          // the proxy itself
			{"not-an-ip", 200}, // unparsable: the proxy's bucket
		} {
			if got := get(trusted, c.xff); got != c.want {
				t.Errorf("trusted proxy, request %d with X-Forwarded-For %q: %d; want %d", i+1, c.xff, got, c.want)
			}
		}
		keys := r.Do("EVAL", "redis.call('SELECT', 2) return table.concat(redis.call('KEYS', 'rl:*'), ' ')", "0")
		for _, k := range []string{"rl:{p:198.51.100.1}", "rl:{p:198.51.100.2}", "rl:{p:127.0.0.1}"} {
			if !slices.Contains(strings.Fields(keys), k) {
				t.Errorf("trusted proxy: Redis keys %q lack %s", keys, k)
			}
		}
	})

	t.Run("headers", func(t *testing.T) {
		t.Parallel()
		g := StartGateway(t, GatewayOptions{Config: rlConfig(2, up.Addr, r.URL()+"?db=3", "", `  - name: p
    limit_per_minute: 6
    burst: 2
`)}) // one token every 10 s
		intIn := func(h http.Header, name string, lo, hi int) int {
			t.Helper()
			n, err := strconv.Atoi(h.Get(name))
			if err != nil || n < lo || n > hi {
				t.Errorf("%s: %q; want an integer in [%d, %d]", name, h.Get(name), lo, hi)
			}
			return n
		}
		rateLimit := regexp.MustCompile(`^"p";r=(\d+);t=(\d+)$`)
		for i, want := range []int{200, 200, 429, 429} {
			id := fmt.Sprintf("hdr-%d", i+1)
			req, _ := http.NewRequest(http.MethodGet, g.URL("/rl/x"), nil)
			req.Header.Set("X-Request-ID", id)
			resp, err := g.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != want {
				t.Fatalf("request %d: %d; want %d", i+1, resp.StatusCode, want)
			}
			if h.Get("X-RateLimit-Limit") != "2" {
				t.Errorf("request %d: X-RateLimit-Limit %q; want 2", i+1, h.Get("X-RateLimit-Limit"))
			}
			remaining := intIn(h, "X-RateLimit-Remaining", max(1-i, 0), max(1-i, 0))
			intIn(h, "X-RateLimit-Reset", 1, 20)
			if p := h.Get("RateLimit-Policy"); p != `"p";q=2;w=20` {
				t.Errorf("request %d: RateLimit-Policy %q; want %q", i+1, p, `"p";q=2;w=20`)
			}
			if m := rateLimit.FindStringSubmatch(h.Get("RateLimit")); m == nil || m[1] != strconv.Itoa(remaining) {
				t.Errorf("request %d: RateLimit %q; want \"p\";r=%d;t=<seconds>", i+1, h.Get("RateLimit"), remaining)
			} else if tt, _ := strconv.Atoi(m[2]); tt < 1 || tt > 10 {
				t.Errorf("request %d: RateLimit t=%d; want 1..10", i+1, tt)
			}
			if want == 200 {
				if h.Get("Retry-After") != "" {
					t.Errorf("request %d: Retry-After %q on an admitted request", i+1, h.Get("Retry-After"))
				}
				continue
			}
			intIn(h, "Retry-After", 1, 10)
			if h.Get("X-Request-ID") != id {
				t.Errorf("request %d: X-Request-ID %q; want %q", i+1, h.Get("X-Request-ID"), id)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("request %d: Content-Type %q", i+1, ct)
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || e["error"] != "rate_limited" || e["message"] == "" || e["request_id"] != id {
				t.Errorf("request %d: 429 body %q; want the JSON error with request_id %q", i+1, body, id)
			}
		}
		d := decisions(t, "p", g)
		t.Logf("headers: decisions %v", d)
		if d["refused/redis"]+d["refused/cache"] != 2 {
			t.Errorf("refusals %v; want 2 from redis or cache", d)
		}
	})

	t.Run("shadow", func(t *testing.T) {
		t.Parallel()
		g := StartGateway(t, GatewayOptions{Config: rlConfig(2, up.Addr, r.URL()+"?db=4", "", `  - name: p
    limit_per_minute: 6
    burst: 2
    shadow: true
`)})
		for i := range 10 {
			resp, err := g.Client.Get(g.URL("/rl/x"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("shadow request %d: %d; want 200", i+1, resp.StatusCode)
			}
			// The limit's state is reported, but nothing asks the client
			// to wait: Retry-After belongs to refusals.
			if h := resp.Header; h.Get("X-RateLimit-Limit") != "2" || h.Get("Retry-After") != "" {
				t.Errorf("shadow request %d: X-RateLimit-Limit %q, Retry-After %q; want 2 and none",
					i+1, h.Get("X-RateLimit-Limit"), h.Get("Retry-After"))
			}
		}
		d := decisions(t, "p", g)
		t.Logf("shadow: decisions %v", d)
		if sumResult(d, "allowed") != 2 || sumResult(d, "refused") != 8 {
			t.Errorf("shadow decisions %v; want 2 allowed, 8 refused", d)
		}
	})
}

// TestRateLimitLocalSurvivesRestarts: the local store lives in the
// supervisor's shared-memory table, so a key's bucket survives a reload (a
// new generation of workers) and a worker crash: a drained key stays
// refused instead of getting a fresh burst.
func TestRateLimitLocalSurvivesRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("reload and worker restart")
	}
	t.Parallel()
	up := StartUpstream(t, "rl")
	g := StartGateway(t, GatewayOptions{Config: rlConfig(2, up.Addr, "", "", `  - name: p
    limit_per_minute: 2
    burst: 3
    store: local
`)}) // a token every 30 s: nothing refills during the test
	// get answers on a new connection, so either worker may answer.
	get := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, g.URL("/rl/x"), nil)
		req.Close = true
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	start := time.Now()
	for i, want := range []int{200, 200, 200, 429} {
		if got := get(); got != want {
			t.Fatalf("request %d: %d; want %d", i+1, got, want)
		}
	}

	g.Signal(syscall.SIGHUP)
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
	for pid := range g.Workers(1) {
		WaitGone(pid, 10*time.Second)
	}
	for i := range 6 {
		if got := get(); got != http.StatusTooManyRequests {
			t.Fatalf("after the reload, request %d: %d; want 429 (the drained bucket)", i+1, got)
		}
	}

	var victim, slot int
	for pid, s := range g.Workers(2) {
		victim, slot = pid, s
		break
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	started := g.WaitLog(10*time.Second, func(l LogLine) bool {
		return l.Msg() == "worker started" && l.Int("gen") == 2 && l.Int("worker") == slot && l.Int("pid") != victim
	})
	g.WaitLog(10*time.Second, IsMsg("worker ready", "gen", 2, "pid", started.Int("pid")))
	for i := range 10 {
		if got := get(); got != http.StatusTooManyRequests {
			t.Fatalf("after a worker restart, request %d: %d; want 429 (the drained bucket)", i+1, got)
		}
	}
	if took := time.Since(start); took >= 30*time.Second {
		t.Fatalf("took %v, past the refill: inconclusive", took)
	}
	d := decisions(t, "p", g)
	t.Logf("local bucket across a reload and a worker crash: decisions %v (retired workers included)", d)
	if d["allowed/local"] != 3 {
		t.Errorf("allowed decisions %v; want the burst 3", d["allowed/local"])
	}
}
