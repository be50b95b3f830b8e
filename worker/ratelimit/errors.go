package ratelimit

import "errors"

var (
	// ErrStoreUnavailable reports that the Redis store cannot decide now
	// (not connected, circuit breaker open, timeout, or too many calls in
	// flight). Allow resolves it with the policy's on_redis_failure mode.
	ErrStoreUnavailable = errors.New("ratelimit: store unavailable")

	// ErrPolicy reports a rate-limit policy that New cannot build (the
	// config loader validates first; this guards direct callers).
	ErrPolicy = errors.New("ratelimit: invalid policy")

	// ErrTable reports a shared-memory table that is too small or was laid
	// out by an incompatible version.
	ErrTable = errors.New("ratelimit: invalid shared-memory table")

	// ErrRedisURL reports a Redis URL that cannot be parsed.
	ErrRedisURL = errors.New("ratelimit: invalid redis URL")

	// ErrClock reports that CLOCK_MONOTONIC cannot be read, so the local
	// table could not be shared safely with other processes.
	ErrClock = errors.New("ratelimit: no monotonic clock")

	// errBadReply reports a script reply of an unexpected shape.
	errBadReply = errors.New("ratelimit: unexpected script reply")
)
