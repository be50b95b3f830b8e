package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// gcraScript is the whole Redis decision. KEYS[1] holds the TAT in integer
// microseconds of Redis TIME, KEYS[2] is the blocked marker; ARGV[1] is the
// emission interval and ARGV[2] the tolerance (capacity × interval), both in
// µs. It returns {admitted (0|1), µs until full, µs until a token (refusals)}.
// Integers only: Lua numbers are truncated in replies, and string.format
// %.0f keeps 16-digit values exact where tostring would round them.
// replicate_commands lets Redis 3.2–4 replicate effects after TIME (the
// default, and a no-op, since Redis 5).
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emit = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + emit
if nxt - now > limit then
  local retry = nxt - now - limit
  redis.call('SET', KEYS[2], '1', 'PX', string.format('%.0f', math.ceil(retry / 1000)), 'NX')
  return {0, tat - now, retry}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', string.format('%.0f', math.ceil((nxt - now) / 1000)))
return {1, nxt - now, 0}
`

const (
	blkSuffix = ":blk"
	// markerCacheTTL is the client-side TTL of a cached marker read. A
	// present marker is cached only until its server-side PTTL; an absent
	// one (the common case) until Redis invalidates it or this TTL passes.
	markerCacheTTL = time.Minute
	// breakerThreshold consecutive failures open the circuit breaker.
	breakerThreshold = 3
	// Probe backoff while Redis is down: doubling from min to max.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// connectTimeout bounds one connection attempt (dial and handshake).
	connectTimeout = time.Second
	// maxInflight bounds concurrent Redis decisions per Limiter; beyond it
	// decisions fall back rather than queue.
	maxInflight = 4096
	// cacheBytesEachConn sizes the client-side cache of each connection
	// (rueidis' default is 128 MiB, per connection and per worker).
	cacheBytesEachConn = 4 << 20
)

// redisStore is the Redis client of one Limiter plus its circuit breaker.
// The breaker state (up, fails) is written by decisions and by the monitor
// goroutine; the monitor alone connects, probes, logs and owns the client's
// lifetime after New.
type redisStore struct {
	opt     rueidis.ClientOption
	timeout time.Duration
	log     *slog.Logger
	script  *rueidis.Lua

	client   atomic.Pointer[rueidis.Client] // nil until the first connection
	up       atomic.Bool
	fails    atomic.Int32
	errors   atomic.Uint64 // failed or timed-out calls, for metrics
	inflight atomic.Int64
	lastErr  atomic.Pointer[error] // why the breaker opened
	blocked  blockedSet

	wake chan struct{} // breaker opened (buffered, 1)
	stop chan struct{}
	done chan struct{}
}

func newRedisStore(opts Options) (*redisStore, error) {
	opt, err := parseRedisURL(opts.RedisURL)
	if err != nil {
		return nil, err
	}
	opt.CacheSizeEachConn = cacheBytesEachConn
	opt.PipelineMultiplex = -1 // one auto-pipelined connection per node
	opt.Dialer.Timeout = connectTimeout
	if opt.ConnWriteTimeout == 0 {
		opt.ConnWriteTimeout = max(10*opts.RedisTimeout, time.Second)
	}
	opt.Sentinel.Dialer.Timeout = connectTimeout
	rs := &redisStore{
		opt:     opt,
		timeout: opts.RedisTimeout,
		log:     opts.Logger,
		script:  rueidis.NewLuaScript(gcraScript),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	start := time.Now()
	if err := rs.probe(); err != nil {
		rs.log.Warn("redis unreachable, rate limits use their fallback", "err", fmt.Errorf("%w: %w", ErrStoreUnavailable, err), "took", time.Since(start))
	} else {
		rs.up.Store(true)
		rs.log.Info("redis connected", "took", time.Since(start))
	}
	go rs.run()
	return rs, nil
}

func (rs *redisStore) isUp() bool { return rs.up.Load() }

// succeed closes the breaker's failure streak.
func (rs *redisStore) succeed() {
	if rs.fails.Load() != 0 {
		rs.fails.Store(0)
	}
}

// fail counts a failed or timed-out call and opens the breaker after
// breakerThreshold in a row.
func (rs *redisStore) fail(err error) {
	rs.errors.Add(1)
	if rs.fails.Add(1) >= breakerThreshold && rs.up.CompareAndSwap(true, false) {
		rs.lastErr.Store(&err)
		select {
		case rs.wake <- struct{}{}:
		default:
		}
	}
}

// run is the monitor loop: it waits for the breaker to open, then probes
// with backoff until Redis answers again.
func (rs *redisStore) run() {
	defer close(rs.done)
	if !rs.up.Load() && !rs.recover() {
		return
	}
	for {
		select {
		case <-rs.stop:
			return
		case <-rs.wake:
		}
		var err error
		if p := rs.lastErr.Load(); p != nil {
			err = *p
		}
		rs.log.Warn("redis down, rate limits use their fallback", "err", fmt.Errorf("%w: %w", ErrStoreUnavailable, err))
		if !rs.recover() {
			return
		}
	}
}

// recover probes with backoff until Redis answers (true) or the store is
// closed (false).
func (rs *redisStore) recover() bool {
	start := time.Now()
	backoff := minBackoff
	t := time.NewTimer(backoff)
	defer t.Stop()
	for {
		select {
		case <-rs.stop:
			return false
		case <-t.C:
		}
		if err := rs.probe(); err == nil {
			rs.fails.Store(0)
			rs.up.Store(true)
			rs.log.Info("redis up", "took", time.Since(start))
			return true
		}
		backoff = min(2*backoff, maxBackoff)
		t.Reset(backoff)
	}
}

// probe connects if needed, PINGs and loads the script on every node.
func (rs *redisStore) probe() error {
	c := rs.client.Load()
	if c == nil {
		nc, err := rueidis.NewClient(rs.opt)
		if err != nil {
			return err
		}
		c = &nc
		rs.client.Store(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(2*rs.timeout, 250*time.Millisecond))
	defer cancel()
	if err := (*c).Do(ctx, (*c).B().Ping().Build()).Error(); err != nil {
		return err
	}
	for _, n := range (*c).Nodes() {
		if err := n.Do(ctx, n.B().ScriptLoad().Script(gcraScript).Build()).Error(); err != nil {
			return err
		}
	}
	return nil
}

func (rs *redisStore) close() {
	close(rs.stop)
	<-rs.done
	if c := rs.client.Load(); c != nil {
		(*c).Close()
	}
}

// allowRedis decides with Redis: cached refusals first, then the script;
// while Redis cannot answer, the policy's failure mode.
func (p *Policy) allowRedis(ctx context.Context, key []byte) Decision {
	rs := p.l.redis
	var buf [192]byte
	rk := append(append(append(buf[:0], p.redisPrefix...), key...), '}')
	now := p.l.clock.micros()
	if until, ok := rs.blocked.get(rk, now); ok {
		return p.cachedRefusal(until - now)
	}
	d, err := p.redisDecision(ctx, rk, now)
	if err != nil {
		// Neither a store that is known to be unavailable nor a caller
		// that gave up counts against Redis.
		if !errors.Is(err, ErrStoreUnavailable) && ctx.Err() == nil {
			rs.fail(err)
		}
		return p.fallback(key)
	}
	rs.succeed()
	if p.onFail == failLocal && d.Source == SourceRedis {
		// Mirror the key's Redis state (its TAT, as a duration from the
		// decision) into the local table: a fallback then continues the
		// bucket, instead of granting a fresh burst each time a call times
		// out. Taking the time after the call errs on the strict side.
		after := p.l.clock.micros()
		p.l.local.raise(hash64(p.seed, key), after, after+int64(d.Reset/time.Microsecond))
	}
	return d
}

// redisDecision reads the marker (client-side cached) and runs the script.
// It returns ErrStoreUnavailable without trying while the breaker is open,
// before the first connection, or with maxInflight calls in flight.
func (p *Policy) redisDecision(ctx context.Context, rk []byte, now int64) (Decision, error) {
	rs := p.l.redis
	c := rs.client.Load()
	if c == nil || !rs.up.Load() {
		return Decision{}, ErrStoreUnavailable
	}
	if rs.inflight.Add(1) > maxInflight {
		rs.inflight.Add(-1)
		return Decision{}, ErrStoreUnavailable
	}
	defer rs.inflight.Add(-1)
	return p.runScript(ctx, *c, rk, now)
}

func (p *Policy) runScript(ctx context.Context, c rueidis.Client, rk []byte, now int64) (Decision, error) {
	rs := p.l.redis
	ctx, cancel := context.WithTimeout(ctx, rs.timeout)
	defer cancel()
	k := string(rk)
	blk := k + blkSuffix
	res := c.DoCache(ctx, c.B().Get().Key(blk).Cache(), markerCacheTTL)
	if err := res.Error(); err == nil {
		// Not copied into the L0 map: a marker read here stays under Redis
		// invalidation, so deleting it unblocks the key at once.
		if pttl := res.CachePTTL(); pttl > 0 {
			return p.cachedRefusal(pttl * 1000), nil
		}
	} else if !rueidis.IsRedisNil(err) {
		return Decision{}, err
	}
	v, err := p.l.redis.script.Exec(ctx, c, []string{k, blk}, p.scriptArgs).AsIntSlice()
	if err != nil {
		return Decision{}, err
	}
	if len(v) != 3 {
		return Decision{}, fmt.Errorf("%w: %v", errBadReply, v)
	}
	ok, reset, retry := v[0] == 1, v[1], v[2]
	if !ok {
		rs.blocked.put(rk, now+retry, now)
	}
	return p.decision(ok, reset, retry, SourceRedis), nil
}

// blockedSet is the per-process map (L0) of refused Redis keys to the local
// monotonic time (µs) when a token is available again. Entries are exact:
// they come from the script's refusal or the marker's PTTL.
type blockedSet struct {
	shards [blockedShards]blockedShard
}

const (
	blockedShards   = 32
	blockedShardMax = 1 << 14 // entries per shard before sweeping
)

type blockedShard struct {
	mu sync.Mutex
	m  map[string]int64
	_  [40]byte // keep shards on separate cache lines
}

func (s *blockedSet) shard(k []byte) *blockedShard {
	return &s.shards[hash64(0, k)%blockedShards]
}

// get reports whether k is blocked at now, and until when.
func (s *blockedSet) get(k []byte, now int64) (int64, bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	until, ok := sh.m[string(k)]
	sh.mu.Unlock()
	return until, ok && until > now
}

// put records that k is blocked until until. A full shard is swept of
// expired entries, and cleared if that is not enough (losing entries only
// costs Redis round trips, never exactness).
func (s *blockedSet) put(k []byte, until, now int64) {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[string]int64)
	}
	if len(sh.m) >= blockedShardMax {
		for kk, u := range sh.m {
			if u <= now {
				delete(sh.m, kk)
			}
		}
		if len(sh.m) >= blockedShardMax {
			clear(sh.m)
		}
	}
	sh.m[string(k)] = until
}
