package config

// Config is a whole, validated fluxgate configuration. Load fills every
// default, so consumers never need to apply defaults themselves.
//
// The seed (rust-flux) schema is a subset: every seed config is a valid
// fluxgate config. Fields beyond the seed are extensions and optional.
type Config struct {
	Server       Server       `yaml:"server"`
	Metrics      Metrics      `yaml:"metrics"`
	Redis        Redis        `yaml:"redis"`
	Log          Log          `yaml:"log"`
	AuthPolicies []AuthPolicy `yaml:"auth_policies"`
	Upstreams    []Upstream   `yaml:"upstreams"`
	Routes       []Route      `yaml:"routes"`
	RateLimits   []RateLimit  `yaml:"rate_limits"`

	// Path is the file the config was read from ("" when parsed from bytes).
	// Not part of the YAML.
	Path string `yaml:"-"`

	// pos maps each YAML path present in the file to its value's position,
	// for Errorf. Read-only once Parse returns.
	pos map[string]pos
}

// Server configures listeners, processes and request limits.
type Server struct {
	// ListenAddr is the public host:port. Default "0.0.0.0:8080".
	ListenAddr string `yaml:"listen_addr"`
	// ShutdownGracePeriodSecs bounds how long in-flight requests may take to
	// finish on shutdown or drain before connections are closed forcibly.
	// Default 30.
	ShutdownGracePeriodSecs int `yaml:"shutdown_grace_period_secs"`
	// ShutdownDelaySecs is how long traffic is still served after SIGTERM
	// while /readyz already answers 503. Default 0.
	ShutdownDelaySecs int `yaml:"shutdown_delay_secs"`
	// Workers is the number of worker processes; 0 = one per usable CPU.
	Workers int `yaml:"workers"`
	// IdleGraceMS is how long a keep-alive connection of a draining worker
	// must have been idle before it is closed. Default 5000.
	IdleGraceMS int `yaml:"idle_grace_ms"`
	// ReadyTimeoutSecs bounds how long a new worker may take to report ready
	// before its generation is rolled back. Default 10.
	ReadyTimeoutSecs int `yaml:"ready_timeout_secs"`
	// PIDFile, when set, always names the live supervisor's pid.
	PIDFile string `yaml:"pid_file"`
	// MaxHeaderBytes limits the request line plus headers; larger requests
	// get 431. Default 65536.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes limits request bodies; larger bodies get 413. 0 = no limit
	// (the default).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// IdleTimeoutSecs closes client keep-alive connections idle this long.
	// Default 60.
	IdleTimeoutSecs int `yaml:"idle_timeout_secs"`
	// ReadHeaderTimeoutSecs bounds how long a client may take to send the
	// request headers. Default 10.
	ReadHeaderTimeoutSecs int `yaml:"read_header_timeout_secs"`
	// TrustedProxies lists CIDRs (or bare IPs) whose X-Forwarded-* and
	// Forwarded headers are believed. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ForwardedHeader, when true, also sends the RFC 7239 Forwarded header
	// to upstreams. Default false.
	ForwardedHeader bool `yaml:"forwarded_header"`
	// ReduceIdleMemory releases per-connection buffers while a keep-alive
	// connection waits for its next request: about 25 % less memory per
	// idle connection for about 5 % more CPU per request. Default false.
	ReduceIdleMemory bool `yaml:"reduce_idle_memory"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Path of the metrics endpoint on the public listener. Default "/metrics".
	Path string `yaml:"path"`
}

// Redis configures the rate-limit store connection.
type Redis struct {
	// URL wins over REDIS_URL. redis://, rediss://, redis-sentinel:// or
	// a comma-separated list of cluster seeds. Default from REDIS_URL, else
	// "redis://127.0.0.1:6379/".
	URL string `yaml:"url"`
	// TimeoutMS bounds one rate-limit decision round trip. Default 50.
	TimeoutMS int `yaml:"timeout_ms"`
}

// Log configures logging.
type Log struct {
	// Level: debug, info, warn, error. Default from LOG_LEVEL (or RUST_LOG),
	// else "info".
	Level string `yaml:"level"`
	// AccessLog turns the per-request access log on. Default true.
	AccessLog *bool `yaml:"access_log"`
	// AccessLogSample logs this fraction of requests (0 < x ≤ 1). Default 1.
	AccessLogSample float64 `yaml:"access_log_sample"`
}

// AuthPolicy is a JWT validation policy.
type AuthPolicy struct {
	// Name identifies the policy; routes refer to it.
	Name string `yaml:"name"`
	// Algorithm: HS256/384/512, RS256/384/512, PS256/384/512,
	// ES256/384/512 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// Issuer, when non-empty, must equal the token's iss.
	Issuer string `yaml:"issuer"`
	// Audiences: the token's aud must contain one of them, when non-empty.
	Audiences []string `yaml:"audiences"`
	// RequiredScopes must all be in the scope or scp claim.
	RequiredScopes []string `yaml:"required_scopes"`
	// KeyID names the JWT_KEY_{KEY_ID} variable (and is matched against the
	// token's kid when set). Default: the policy name is used.
	KeyID string `yaml:"key_id"`
	// KeyFile is a PEM public key (or an HS secret) file; wins over the
	// environment.
	KeyFile string `yaml:"key_file"`
	// JWKSURL is fetched for keys by kid; wins over KeyFile and environment.
	JWKSURL string `yaml:"jwks_url"`
	// LeewaySecs is the clock skew tolerated on exp/nbf/iat. Default 30.
	LeewaySecs *int `yaml:"leeway_secs"`
	// ForwardClaims maps claim names to request header names sent upstream.
	ForwardClaims map[string]string `yaml:"forward_claims"`

	// Key is the resolved key material (environment or file); filled by Load,
	// never logged. Empty for JWKS policies.
	Key []byte `yaml:"-"`
}

// Upstream is a backend service.
type Upstream struct {
	// Name identifies the upstream; routes refer to it.
	Name string `yaml:"name"`
	// BaseURL is http://host:port[/prefix]; the prefix is prepended to the
	// forwarded path.
	BaseURL string `yaml:"base_url"`
	// TimeoutMS is per attempt: from the end of sending the request to the
	// response headers, and the longest silence while a body streams.
	// Default 30000.
	TimeoutMS int `yaml:"timeout_ms"`
	// ConnectTimeoutMS bounds the TCP connect. Default 2000.
	ConnectTimeoutMS int `yaml:"connect_timeout_ms"`
	// MaxConns bounds pooled connections per worker. Default 1024.
	MaxConns int `yaml:"max_conns"`
	// Retry configures retries.
	Retry Retry `yaml:"retry"`
}

// Retry configures upstream retries.
type Retry struct {
	// Attempts is the total number of tries including the first; 1 = no
	// retry. Default 1.
	Attempts int `yaml:"attempts"`
	// BackoffMS is the base of an exponential backoff with full jitter.
	// Default 100.
	BackoffMS int `yaml:"backoff_ms"`
}

// Route maps a path (and methods) to an upstream.
type Route struct {
	// ID identifies the route (metrics label, route_path rate-limit key).
	ID string `yaml:"id"`
	// MatchPath holds exactly one of Prefix and Exact.
	MatchPath MatchPath `yaml:"match_path"`
	// Methods allowed; empty = any. HEAD is allowed wherever GET is.
	Methods []string `yaml:"methods"`
	// Upstream names the upstream to proxy to.
	Upstream string `yaml:"upstream"`
	// RewritePath, when set, replaces the matched prefix (prefix route) or
	// the whole path (exact route).
	RewritePath *string `yaml:"rewrite_path"`
	// AuthPolicy names the JWT policy; empty = no auth.
	AuthPolicy string `yaml:"auth_policy"`
	// RateLimit names the rate-limit policy; empty = no limit.
	RateLimit string `yaml:"rate_limit"`
}

// MatchPath is the path condition of a route.
type MatchPath struct {
	Prefix string `yaml:"prefix"`
	Exact  string `yaml:"exact"`
}

// RateLimit is a token-bucket policy.
type RateLimit struct {
	// Name identifies the policy; routes refer to it.
	Name string `yaml:"name"`
	// LimitPerMinute is the refill rate (tokens per minute); must be > 0.
	LimitPerMinute int `yaml:"limit_per_minute"`
	// Burst is the bucket capacity; 0 = LimitPerMinute.
	Burst int `yaml:"burst"`
	// Key lists the key parts: client_ip, jwt_subject, route_path,
	// header:<Name>, claim:<name>. Default [client_ip].
	Key []string `yaml:"key"`
	// Store: "redis" (default) or "local" (host shared memory only).
	Store string `yaml:"store"`
	// OnRedisFailure: "local" (default), "allow" or "deny" (503).
	OnRedisFailure string `yaml:"on_redis_failure"`
	// Shadow computes and counts decisions but never refuses.
	Shadow bool `yaml:"shadow"`
}
