package config

import "strings"

// Defaults documented on the fields of the schema types.
const (
	defaultListenAddr          = "0.0.0.0:8080"
	defaultRedisURL            = "redis://127.0.0.1:6379/"
	defaultMetricsPath         = "/metrics"
	defaultLogLevel            = "info"
	defaultLeewaySecs          = 30
	defaultShutdownGrace       = 30
	defaultIdleGraceMS         = 5000
	defaultReadyTimeoutSecs    = 10
	defaultMaxHeaderBytes      = 64 << 10
	defaultIdleTimeoutSecs     = 60
	defaultReadHeaderTimeout   = 10
	defaultRedisTimeoutMS      = 50
	defaultUpstreamTimeoutMS   = 30000
	defaultConnectTimeoutMS    = 2000
	defaultMaxConns            = 1024
	defaultRetryAttempts       = 1
	defaultRetryBackoffMS      = 100
	defaultRateLimitStore      = "redis"
	defaultRateLimitOnFailure  = "local"
	defaultRateLimitKey        = "client_ip"
	defaultAccessLogSampleRate = 1
)

// applyDefaults fills every unset field, in one place. Zero means unset for
// numbers (negative values are left for validation to report), except for
// access_log_sample, where only an absent value is defaulted, and
// leeway_secs, where an explicit 0 is kept. Normalisations (upper-cased
// methods, lower-cased levels and enums) happen here too.
func applyDefaults(c *Config, getenv func(string) string, v *validator) {
	s := &c.Server
	setStr(&s.ListenAddr, defaultListenAddr)
	setInt(&s.ShutdownGracePeriodSecs, defaultShutdownGrace)
	setInt(&s.IdleGraceMS, defaultIdleGraceMS)
	setInt(&s.ReadyTimeoutSecs, defaultReadyTimeoutSecs)
	setInt(&s.MaxHeaderBytes, defaultMaxHeaderBytes)
	setInt(&s.IdleTimeoutSecs, defaultIdleTimeoutSecs)
	setInt(&s.ReadHeaderTimeoutSecs, defaultReadHeaderTimeout)

	setStr(&c.Metrics.Path, defaultMetricsPath)

	setStr(&c.Redis.URL, getenv("REDIS_URL"))
	setStr(&c.Redis.URL, defaultRedisURL)
	setInt(&c.Redis.TimeoutMS, defaultRedisTimeoutMS)

	c.Log.Level = lower(c.Log.Level)
	if c.Log.Level == "" {
		c.Log.Level = envLogLevel(getenv, v)
	}
	if c.Log.Level == "warning" {
		c.Log.Level = "warn"
	}
	if !c.has("log.access_log_sample") {
		c.Log.AccessLogSample = defaultAccessLogSampleRate
	}

	for i := range c.AuthPolicies {
		p := &c.AuthPolicies[i]
		if p.LeewaySecs == nil {
			p.LeewaySecs = new(int)
			*p.LeewaySecs = defaultLeewaySecs
		}
	}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		setInt(&u.TimeoutMS, defaultUpstreamTimeoutMS)
		setInt(&u.ConnectTimeoutMS, defaultConnectTimeoutMS)
		setInt(&u.MaxConns, defaultMaxConns)
		setInt(&u.Retry.Attempts, defaultRetryAttempts)
		setInt(&u.Retry.BackoffMS, defaultRetryBackoffMS)
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		for j, m := range r.Methods {
			r.Methods[j] = strings.ToUpper(strings.TrimSpace(m))
		}
	}
	for i := range c.RateLimits {
		l := &c.RateLimits[i]
		if l.Burst == 0 {
			l.Burst = l.LimitPerMinute
		}
		if len(l.Key) == 0 {
			l.Key = []string{defaultRateLimitKey}
		}
		l.Store = lower(l.Store)
		setStr(&l.Store, defaultRateLimitStore)
		l.OnRedisFailure = lower(l.OnRedisFailure)
		setStr(&l.OnRedisFailure, defaultRateLimitOnFailure)
	}
}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

// envLogLevel is LOG_LEVEL, else the plain level in RUST_LOG, else "info".
// A bad LOG_LEVEL is an error; RUST_LOG is a fallback and never one.
func envLogLevel(getenv func(string) string, v *validator) string {
	if l := lower(getenv("LOG_LEVEL")); l != "" {
		if !knownLevel(l) {
			v.errf("log.level", "LOG_LEVEL=%q is not a log level (want debug, info, warn or error)", l)
			return defaultLogLevel
		}
		return l
	}
	return rustLogLevel(getenv("RUST_LOG"))
}

// rustLogLevel picks a level from a RUST_LOG filter such as
// "fluxgate=debug,info": a bare level directive wins, then a directive for
// fluxgate (or the seed's rust_flux); "trace" counts as debug and "off" as
// error. Anything else is "info".
func rustLogLevel(s string) string {
	var target string
	for _, dir := range strings.Split(s, ",") {
		name, level, ok := strings.Cut(lower(dir), "=")
		if !ok {
			if l := rustLevel(name); l != "" {
				return l
			}
			continue
		}
		if target == "" && (name == "fluxgate" || name == "rust_flux" || name == "rust-flux") {
			target = rustLevel(level)
		}
	}
	if target != "" {
		return target
	}
	return defaultLogLevel
}

// rustLevel maps a Rust log level to ours; "" if s is none.
func rustLevel(s string) string {
	switch s {
	case "trace":
		return "debug"
	case "off":
		return "error"
	case "warning":
		return "warn"
	}
	if knownLevel(s) {
		return s
	}
	return ""
}

func knownLevel(s string) bool {
	switch s {
	case "debug", "info", "warn", "warning", "error":
		return true
	}
	return false
}
