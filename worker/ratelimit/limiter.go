package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/shm"
)

// Decision sources, the values of Decision.Source (a metrics label).
const (
	SourceRedis         = "redis"          // decided by the Redis script
	SourceLocal         = "local"          // decided by the host-local table
	SourceCache         = "cache"          // refused from a cached Redis refusal
	SourceFallbackAllow = "fallback_allow" // Redis down, on_redis_failure=allow
	SourceFallbackDeny  = "fallback_deny"  // Redis down, on_redis_failure=deny
)

// Redis states reported by RedisState.
const (
	RedisUp     = "up"
	RedisDown   = "down"
	RedisUnused = "unused"
)

// privateTableBytes sizes the in-process table used when Options.Table is
// nil (tests, a single process): 16384 buckets.
const privateTableBytes = 1 << 20

// maxTolerance bounds capacity × emission interval (2^42 µs, about 51 days)
// so TATs always fit the local table's 48 bits.
const maxTolerance = 1 << 42

// Options configures New.
type Options struct {
	// RedisURL is the Redis store (config redis.url, already defaulted);
	// unused when no policy has store "redis". Accepted forms:
	//
	//	redis://[user:pass@]host:port[/db]  standalone, or any node of a
	//	                                    cluster (detected by rueidis)
	//	rediss://...                        the same over TLS
	//	unix:///path/redis.sock[?db=n]      a local socket
	//	h1:p1,h2:p2 or redis://h1:p1,redis://h2:p2, or
	//	redis://h1:p1?addr=h2:p2&addr=h3:p3 cluster seeds
	//	redis-sentinel://[:pass@]s1:26379,s2:26379/mymaster, or
	//	redis://[:pass@]s1:26379?addr=s2:26379&master_set=mymaster
	//	                                    Sentinel: the addresses are
	//	                                    sentinels, pass is the master's
	//
	// The query options of rueidis.ParseURL apply (dial_timeout,
	// write_timeout, client_name, protocol, skip_verify).
	RedisURL string
	// RedisTimeout bounds one decision's Redis round trips (config
	// redis.timeout_ms). 0 = 50ms.
	RedisTimeout time.Duration
	// Table is the host shared-memory table (shm.Create, at least
	// MinTableBytes; DefaultTableBytes recommended). It is mapped by New and
	// unmapped by Close; the caller still owns (and closes) the file.
	// nil = a private in-process table of 1 MiB (tests, single process).
	Table *os.File
	// Logger receives Redis state changes. nil = discard.
	Logger *slog.Logger
}

// Limiter owns the stores of all policies of one worker. New never fails
// because Redis is unreachable: it starts with the fallback and reconnects in
// the background.
type Limiter struct {
	policies map[string]*Policy
	local    *table
	mapped   []byte // the shared mapping, unmapped by Close; nil for a private table
	clock    clock
	redis    *redisStore // nil when no policy uses Redis
}

type failureMode uint8

const (
	failLocal failureMode = iota
	failAllow
	failDeny
)

// Policy is one named rate-limit policy of a Limiter.
type Policy struct {
	l        *Limiter
	name     string
	parts    []keyPart
	capacity int
	emit     int64 // emission interval, µs
	limit    int64 // capacity × emit, µs
	seed     uint64
	redis    bool
	onFail   failureMode
	shadow   bool

	redisPrefix string   // "rl:{<name>:"
	scriptArgs  []string // emit, limit
	limitValue  []byte   // capacity, decimal
	policyValue []byte   // RateLimit-Policy field value
	nameItem    []byte   // the policy name as an sf-string
}

// New builds the stores of policies. A bad policy, URL or table is an error;
// an unreachable Redis is not (its policies use their on_redis_failure mode
// until it answers). New makes one bounded connection attempt (about one
// second at most) before returning, so a healthy Redis is used from the
// first decision.
func New(policies []config.RateLimit, opts Options) (*Limiter, error) {
	if opts.RedisTimeout <= 0 {
		opts.RedisTimeout = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	clk, err := newClock()
	if err != nil {
		return nil, err
	}
	l := &Limiter{policies: make(map[string]*Policy, len(policies)), clock: clk}
	needRedis := false
	for i := range policies {
		p, err := l.newPolicy(&policies[i])
		if err != nil {
			return nil, err
		}
		if _, dup := l.policies[p.name]; dup {
			return nil, fmt.Errorf("policy %q: duplicate name: %w", p.name, ErrPolicy)
		}
		l.policies[p.name] = p
		needRedis = needRedis || p.redis
	}
	if err := l.openTable(opts.Table); err != nil {
		return nil, err
	}
	if needRedis {
		rs, err := newRedisStore(opts)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.redis = rs
	}
	return l, nil
}

func (l *Limiter) openTable(f *os.File) error {
	if f == nil {
		t, err := newTable(make([]uint64, privateTableBytes/8))
		l.local = t
		return err
	}
	mem, err := shm.Map(f)
	if err != nil {
		return fmt.Errorf("local table: %w", err)
	}
	t, err := newTable(wordsOf(mem))
	if err != nil {
		shm.Unmap(mem)
		return fmt.Errorf("local table: %w", err)
	}
	l.local, l.mapped = t, mem
	return nil
}

func (l *Limiter) newPolicy(c *config.RateLimit) (*Policy, error) {
	bad := func(why string) error { return fmt.Errorf("policy %q: %s: %w", c.Name, why, ErrPolicy) }
	if c.Name == "" {
		return nil, bad("empty name")
	}
	if c.LimitPerMinute <= 0 {
		return nil, bad("limit_per_minute must be > 0")
	}
	capacity := c.Burst
	if capacity == 0 {
		capacity = c.LimitPerMinute
	}
	if capacity < 0 {
		return nil, bad("burst must be ≥ 0")
	}
	const minute = int64(60 * time.Second / time.Microsecond)
	emit := (minute + int64(c.LimitPerMinute) - 1) / int64(c.LimitPerMinute)
	if int64(capacity) > maxTolerance/emit {
		return nil, bad("burst × 60s/limit_per_minute too large")
	}
	parts, err := parseKeyParts(c.Key)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", c.Name, err)
	}
	p := &Policy{
		l: l, name: c.Name, parts: parts, capacity: capacity,
		emit: emit, limit: int64(capacity) * emit, shadow: c.Shadow,
		seed: hash64(0, []byte(c.Name)),
	}
	switch c.Store {
	case "", "redis":
		p.redis = true
	case "local":
	default:
		return nil, bad("store " + strconv.Quote(c.Store))
	}
	switch c.OnRedisFailure {
	case "", "local":
		p.onFail = failLocal
	case "allow":
		p.onFail = failAllow
	case "deny":
		p.onFail = failDeny
	default:
		return nil, bad("on_redis_failure " + strconv.Quote(c.OnRedisFailure))
	}
	p.redisPrefix = "rl:{" + c.Name + ":"
	p.scriptArgs = []string{strconv.FormatInt(p.emit, 10), strconv.FormatInt(p.limit, 10)}
	p.limitValue = strconv.AppendInt(nil, int64(capacity), 10)
	p.nameItem = appendSFString(nil, c.Name)
	window := (p.limit + int64(time.Second/time.Microsecond) - 1) / int64(time.Second/time.Microsecond)
	p.policyValue = fmt.Appendf(append([]byte(nil), p.nameItem...), ";q=%d;w=%d", capacity, window)
	return p, nil
}

// Policy returns the named policy, or nil.
func (l *Limiter) Policy(name string) *Policy { return l.policies[name] }

// RedisState reports "up", "down" or "unused" (no policy uses Redis) for
// /readyz details.
func (l *Limiter) RedisState() string {
	switch {
	case l.redis == nil:
		return RedisUnused
	case l.redis.isUp():
		return RedisUp
	default:
		return RedisDown
	}
}

// LocalEvictions reports how many live local-table slots were overwritten
// because their bucket was full (host-wide, since the table was created).
// A growing count means the table is too small.
func (l *Limiter) LocalEvictions() uint64 { return l.local.evictions() }

// RedisErrors reports how many Redis calls of this Limiter failed or timed
// out (each one was answered by the policy's failure mode).
func (l *Limiter) RedisErrors() uint64 {
	if l.redis == nil {
		return 0
	}
	return l.redis.errors.Load()
}

// Close stops the reconnect loop, closes the Redis client and unmaps the
// shared table. It must be called after the last Allow returned; calling it
// again does nothing.
func (l *Limiter) Close() {
	if l.redis != nil {
		l.redis.close()
		l.redis = nil
	}
	if l.mapped != nil {
		shm.Unmap(l.mapped)
		l.mapped, l.local = nil, nil
	}
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed    bool          // false = refuse (unless Shadow)
	Status     int           // 0 normally; 429 refused by the limit; 503 on_redis_failure=deny while Redis is down
	Limit      int           // bucket capacity
	Remaining  int           // tokens left after this decision
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until one token is available (refusals)
	Source     string        // SourceRedis, SourceLocal, SourceCache, SourceFallbackAllow, SourceFallbackDeny
	Shadow     bool          // policy is in shadow mode: the caller must not refuse
}

// Allow takes one token for key. It never returns an error: failure modes
// are resolved inside (fallback store, allow, or deny with Status 503). It
// waits on Redis at most about Options.RedisTimeout, and not at all while
// the circuit breaker is open or the key is known to be blocked.
func (p *Policy) Allow(ctx context.Context, key []byte) Decision {
	if !p.redis {
		return p.allowLocal(key)
	}
	return p.allowRedis(ctx, key)
}

// allowLocal decides with the host-local table.
func (p *Policy) allowLocal(key []byte) Decision {
	now := p.l.clock.micros()
	ok, reset, retry := p.l.local.take(hash64(p.seed, key), now, p.emit, p.limit)
	return p.decision(ok, reset, retry, SourceLocal)
}

// fallback resolves a decision while Redis cannot answer.
func (p *Policy) fallback(key []byte) Decision {
	switch p.onFail {
	case failAllow:
		return Decision{Allowed: true, Limit: p.capacity, Remaining: p.capacity, Source: SourceFallbackAllow, Shadow: p.shadow}
	case failDeny:
		return Decision{Status: 503, Limit: p.capacity, RetryAfter: time.Second, Source: SourceFallbackDeny, Shadow: p.shadow}
	default:
		return p.allowLocal(key)
	}
}

// decision builds a Decision from GCRA results in µs.
func (p *Policy) decision(ok bool, reset, retry int64, source string) Decision {
	d := Decision{Allowed: ok, Limit: p.capacity, Reset: time.Duration(reset) * time.Microsecond, Source: source, Shadow: p.shadow}
	if ok {
		d.Remaining = int((p.limit - reset) / p.emit)
	} else {
		d.Status = 429
		d.RetryAfter = time.Duration(retry) * time.Microsecond
	}
	return d
}

// cachedRefusal is a refusal known from a cached Redis refusal, retry µs
// before one token is available.
func (p *Policy) cachedRefusal(retry int64) Decision {
	return p.decision(false, retry+p.limit-p.emit, retry, SourceCache)
}
