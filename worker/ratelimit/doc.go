// Package ratelimit enforces the token-bucket rate limits of SPEC §4.
//
// A [Limiter] owns the stores of all policies of one worker process; a
// [Policy] builds request keys ([Policy.AppendKey]), takes tokens
// ([Policy.Allow]) and writes the response headers ([Policy.SetHeaders]).
//
// Invariants:
//
//   - Semantics. Every store implements the same token bucket as GCRA
//     ("virtual scheduling"): the whole state of a key is its theoretical
//     arrival time (TAT). A request at time now is admitted iff
//     max(TAT, now) + T − now ≤ B·T, where T = ceil(60 s / limit_per_minute)
//     (emission interval, rounded up so the rate is never exceeded) and B is
//     the capacity (burst). An admission sets TAT = max(TAT, now) + T; a
//     refusal writes nothing. Hence over any span of t seconds a key gets at
//     most B + t/T admissions, whatever the number of processes sharing the
//     store.
//   - Redis store. One Lua script per decision (EVALSHA, EVAL on NOSCRIPT)
//     reads Redis TIME in integer microseconds, so instances never compare
//     clocks. Keys are rl:{<policy>:<key>} (TAT, expires when the bucket is
//     full again) and rl:{<policy>:<key>}:blk (a "blocked" marker written with
//     NX on refusal, expiring when one token is available). Both share a hash
//     tag, so the script works on Redis Cluster.
//   - Only refusals are cached, so admissions stay exact: every admission is
//     decided by the script. A refused key is refused locally from a
//     per-process map of blocked-until times and, across processes and hosts,
//     from the :blk marker read through RESP3 client-side caching (DoCache),
//     which Redis invalidates when the marker is deleted or expires. A
//     cached refusal never outlasts the exact retry time by more than the
//     marker's millisecond rounding.
//   - Local store. A table of one-cache-line buckets (8 slots of tag|TAT) in
//     host shared memory, updated with compare-and-swap and timed with
//     CLOCK_MONOTONIC, so it is exact across all workers of one supervisor and
//     survives reloads. A slot whose TAT has passed is free. When every slot
//     of a bucket is live, the slot closest to expiry is evicted (counted,
//     [Limiter.LocalEvictions]); size the table for at least twice the
//     active keys. Keys are told apart by bucket index and a 16-bit tag:
//     two keys that collide share one bucket state (both limited more
//     strictly, never less). Two processes inserting the same new key while
//     another key's slot expires in between may each claim a slot: at most
//     one extra admission for that key.
//   - Failure. [New] never fails because Redis is unreachable. A circuit
//     breaker per Limiter opens after consecutive failures or timeouts; while
//     it is open no decision waits on Redis: each policy's on_redis_failure
//     applies (local store, allow, or deny with 503). A background goroutine
//     reconnects and probes with backoff and logs every state change. For
//     on_redis_failure=local, every Redis decision is mirrored into the
//     local table (the key's TAT, never lowered), so a fallback continues
//     the bucket this host last saw instead of granting a fresh burst (a
//     call that merely timed out under load would otherwise admit up to a
//     burst more). Consumption by other hosts after that is not seen, a
//     token may be granted by both stores around a timeout, and a call
//     that timed out may still have taken its token in Redis.
//   - [Policy.Allow] never blocks longer than about Options.RedisTimeout and
//     never returns an error.
//
// All methods of Limiter and Policy are safe for concurrent use, except
// [Limiter.Close], which must be called after the last Allow returned.
package ratelimit
