package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestDefaults(t *testing.T) {
	t.Parallel()
	in := `
auth_policies:
  - {name: p, algorithm: HS256}
upstreams:
  - {name: up, base_url: "http://a"}
routes:
  - {id: r, match_path: {prefix: /a}, upstream: up, methods: [get, post]}
rate_limits:
  - {name: l, limit_per_minute: 60}
`
	c, err := Parse([]byte(in), "x.yaml", getenvOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.pos = nil
	want := &Config{
		Server: Server{
			ListenAddr:              "0.0.0.0:8080",
			ShutdownGracePeriodSecs: 30,
			IdleGraceMS:             5000,
			ReadyTimeoutSecs:        10,
			MaxHeaderBytes:          65536,
			IdleTimeoutSecs:         60,
			ReadHeaderTimeoutSecs:   10,
		},
		Metrics:      Metrics{Path: "/metrics"},
		Redis:        Redis{URL: "redis://127.0.0.1:6379/", TimeoutMS: 50},
		Log:          Log{Level: "info", AccessLogSample: 1},
		AuthPolicies: []AuthPolicy{{Name: "p", Algorithm: "HS256", LeewaySecs: ptr(30), Key: []byte("s3cret")}},
		Upstreams: []Upstream{{Name: "up", BaseURL: "http://a", TimeoutMS: 30000, ConnectTimeoutMS: 2000,
			MaxConns: 1024, Retry: Retry{Attempts: 1, BackoffMS: 100}}},
		Routes:     []Route{{ID: "r", MatchPath: MatchPath{Prefix: "/a"}, Methods: []string{"GET", "POST"}, Upstream: "up"}},
		RateLimits: []RateLimit{{Name: "l", LimitPerMinute: 60, Burst: 60, Key: []string{"client_ip"}, Store: "redis", OnRedisFailure: "local"}},
		Path:       "x.yaml",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if !c.AccessLogEnabled() {
		t.Errorf("AccessLogEnabled() = false; want true by default")
	}
}

func TestExplicitValuesKept(t *testing.T) {
	t.Parallel()
	in := `
server: {workers: 3, max_body_bytes: 1048576}
log: {access_log: false, access_log_sample: 0.25, level: WARNING}
redis: {url: "redis://cfg:6379/1"}
auth_policies:
  - {name: p, algorithm: HS256, leeway_secs: 0}
upstreams:
  - {name: up, base_url: "http://a", retry: {attempts: 3}}
routes:
  - {id: r, match_path: {exact: /a}, upstream: up, rewrite_path: "/b"}
rate_limits:
  - {name: l, limit_per_minute: 60, burst: 5, store: Local, on_redis_failure: DENY, key: [route_path]}
`
	env := map[string]string{"JWT_SECRET": "s", "REDIS_URL": "redis://env:6379/", "LOG_LEVEL": "debug"}
	c, err := Parse([]byte(in), "x.yaml", getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	check("Workers", c.Server.Workers, 3)
	check("MaxBodyBytes", c.Server.MaxBodyBytes, int64(1048576))
	check("AccessLogEnabled", c.AccessLogEnabled(), false)
	check("AccessLogSample", c.Log.AccessLogSample, 0.25)
	check("Level", c.Log.Level, "warn")
	check("Redis.URL", c.Redis.URL, "redis://cfg:6379/1")
	check("LeewaySecs", *c.AuthPolicies[0].LeewaySecs, 0)
	check("Attempts", c.Upstreams[0].Retry.Attempts, 3)
	check("RewritePath", *c.Routes[0].RewritePath, "/b")
	check("Burst", c.RateLimits[0].Burst, 5)
	check("Store", c.RateLimits[0].Store, "local")
	check("OnRedisFailure", c.RateLimits[0].OnRedisFailure, "deny")
	check("Key", c.RateLimits[0].Key, []string{"route_path"})
}

func TestEnvDefaults(t *testing.T) {
	t.Parallel()
	f := func(env map[string]string, wantRedis, wantLevel string) {
		t.Helper()
		c, err := Parse([]byte("server: {}\n"), "x.yaml", getenvOf(env))
		if err != nil {
			t.Fatalf("Parse with %v: %v", env, err)
		}
		if c.Redis.URL != wantRedis || c.Log.Level != wantLevel {
			t.Errorf("env %v: redis %q, level %q; want %q, %q", env, c.Redis.URL, c.Log.Level, wantRedis, wantLevel)
		}
	}
	const def = "redis://127.0.0.1:6379/"
	f(map[string]string{}, def, "info")
	f(map[string]string{"REDIS_URL": "rediss://r:6380/"}, "rediss://r:6380/", "info")
	f(map[string]string{"LOG_LEVEL": "ERROR"}, def, "error")
	f(map[string]string{"LOG_LEVEL": "warn", "RUST_LOG": "debug"}, def, "warn")
	f(map[string]string{"RUST_LOG": "debug"}, def, "debug")
	f(map[string]string{"RUST_LOG": "rust_flux=trace,tower=info"}, def, "debug")
	f(map[string]string{"RUST_LOG": "hyper=warn"}, def, "info")
}

func TestRustLogLevel(t *testing.T) {
	t.Parallel()
	f := func(in, want string) {
		t.Helper()
		if got := rustLogLevel(in); got != want {
			t.Errorf("rustLogLevel(%q) = %q; want %q", in, got, want)
		}
	}
	f("", "info")
	f("info", "info")
	f("WARN", "warn")
	f("trace", "debug")
	f("off", "error")
	f("fluxgate=debug,info", "info")
	f("fluxgate=debug", "debug")
	f("hyper=debug,error", "error")
	f("tower_http=trace", "info")
	f("nonsense", "info")
	f(" debug ", "debug")
}

func TestKeyEnv(t *testing.T) {
	t.Parallel()
	f := func(p AuthPolicy, want string) {
		t.Helper()
		if got := KeyEnv(p); got != want {
			t.Errorf("KeyEnv(%+v) = %q; want %q", p, got, want)
		}
	}
	f(AuthPolicy{Name: "default"}, "JWT_KEY_DEFAULT")
	f(AuthPolicy{Name: "my-policy"}, "JWT_KEY_MY_POLICY")
	f(AuthPolicy{Name: "p", KeyID: "rsa-2024-01"}, "JWT_KEY_RSA_2024_01")
}

func TestKeySources(t *testing.T) {
	t.Parallel()
	in := `
auth_policies:
  - {name: from-file, algorithm: HS256, key_file: testdata/keys/hs.key}
  - {name: from-env, algorithm: HS256}
  - {name: by-kid, algorithm: HS256, key_id: k1}
  - {name: fallback, algorithm: HS256}
  - {name: jwks, algorithm: RS256, jwks_url: "https://idp/jwks"}
`
	env := map[string]string{"JWT_SECRET": "shared", "JWT_KEY_FROM_ENV": "own", "JWT_KEY_K1": "kid-key", "JWT_KEY_FROM_FILE": "ignored", "JWT_KEY_BY_KID": "ignored"}
	c, err := Parse([]byte(in), "config.yaml", getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hs-file-secret\n", "own", "kid-key", "shared", ""}
	for i, p := range c.AuthPolicies {
		if string(p.Key) != want[i] {
			t.Errorf("policy %s: Key = %q; want %q", p.Name, p.Key, want[i])
		}
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	const secret = "TOP-SECRET-VALUE"
	in := `
auth_policies:
  - {name: p, algorithm: XX256, key_id: "` + secret + `x", bogus: 1}
  - {name: p, algorithm: HS256}
  - {name: q, algorithm: HS256, key_file: testdata/keys/hs.key, jwks_url: "ftp://x"}
routes:
  - {id: r, match_path: {prefix: /a}, upstream: none, auth_policy: p}
`
	_, err := Parse([]byte(in), "config.yaml", getenvOf(map[string]string{"JWT_SECRET": secret, "JWT_KEY_P": secret}))
	if err == nil {
		t.Fatal("Parse = nil error; want errors")
	}
	for _, e := range err.(Errors) {
		if strings.Contains(e.Msg, secret) || strings.Contains(e.Msg, "hs-file-secret") {
			t.Errorf("error leaks key material: %s", e)
		}
	}
}

func TestKeyFileRelativeToConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.pem"), []byte("pem-bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(path, []byte("auth_policies:\n  - {name: p, algorithm: RS256, key_file: k.pem}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, getenvOf(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.AuthPolicies[0].Key) != "pem-bytes" || c.Path != path {
		t.Errorf("Load: Key %q, Path %q; want \"pem-bytes\", %q", c.AuthPolicies[0].Key, c.Path, path)
	}
}

func TestLoadShippedConfigs(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"config.yaml", "examples/seed.yaml"} {
		c, err := Load(file, getenvOf(nil))
		if err != nil {
			t.Errorf("Load(%s): %v", file, err)
			continue
		}
		if len(c.Routes) == 0 || len(c.AuthPolicies) == 0 || string(c.AuthPolicies[0].Key) != "s3cret" {
			t.Errorf("Load(%s) = %+v; want routes and a keyed policy", file, c)
		}
		_, err = Load(file, getenvOf(map[string]string{}))
		want := file + ":21:5: auth_policies[0]: no key: set JWT_KEY_DEFAULT or JWT_SECRET, or key_file/jwks_url"
		if file != "config.yaml" {
			want = file + ":7:5: auth_policies[0]: no key: set JWT_KEY_DEFAULT or JWT_SECRET, or key_file/jwks_url"
		}
		if err == nil || err.Error() != want {
			t.Errorf("Load(%s) without secret = %v; want %s", file, err, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/does-not-exist.yaml", getenvOf(nil))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v; want fs.ErrNotExist, not ErrInvalid", err)
	}
	_, err = Parse([]byte("bogus: 1\nserver: {workers: -1}\n"), "c.yaml", getenvOf(nil))
	var es Errors
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("Parse(invalid) = %#v; want 2 Errors matching ErrInvalid", err)
	}
	if !errors.Is(es[0], ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false; want true", es[0])
	}
}

func TestNilGetenv(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://from-os:1/")
	c, err := Parse([]byte("redis: {}\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "redis://from-os:1/" {
		t.Errorf("Redis.URL = %q; want the os environment's", c.Redis.URL)
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	f := func(e *Error, want string) {
		t.Helper()
		if got := e.Error(); got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
	}
	f(&Error{File: "config.yaml", Line: 14, Col: 15, Path: "routes[3].upstream", Msg: `unknown upstream "billing"`},
		`config.yaml:14:15: routes[3].upstream: unknown upstream "billing"`)
	f(&Error{File: "c.yaml", Line: 1, Col: 1, Msg: "empty config"}, "c.yaml:1:1: empty config")
	es := Errors{{File: "a", Line: 1, Col: 2, Path: "x", Msg: "m"}, {File: "a", Line: 3, Col: 4, Path: "y", Msg: "n"}}
	if got, want := es.Error(), "a:1:2: x: m\na:3:4: y: n"; got != want {
		t.Errorf("Errors.Error() = %q; want %q", got, want)
	}
}

func TestMergeAndAnchors(t *testing.T) {
	t.Parallel()
	in := `
upstreams:
  - &base
    name: a
    base_url: http://a
    retry: {attempts: 3}
  - <<: *base
    name: b
routes:
  - &r {id: r1, match_path: {prefix: /a}, upstream: a, methods: [GET]}
  - {<<: *r, id: r2, match_path: {prefix: /b}}
`
	c, err := Parse([]byte(in), "x.yaml", getenvOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Upstreams[1]
	if b.Name != "b" || b.BaseURL != "http://a" || b.Retry.Attempts != 3 {
		t.Errorf("merged upstream = %+v; want name b, base_url and retry from a", b)
	}
	r := c.Routes[1]
	if r.ID != "r2" || r.Upstream != "a" || r.MatchPath.Prefix != "/b" || !reflect.DeepEqual(r.Methods, []string{"GET"}) {
		t.Errorf("merged route = %+v; want r2 on /b with upstream a and GET", r)
	}
}

func TestZerosMeanDefault(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(readCase(t, "testdata/zeros_are_defaults.txt").input), "z.yaml", getenvOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	u, l := c.Upstreams[0], c.RateLimits[0]
	if c.Server.ShutdownGracePeriodSecs != 30 || c.Server.Workers != 0 || u.TimeoutMS != 30000 ||
		u.Retry.Attempts != 1 || u.Retry.BackoffMS != 100 || l.Burst != 3 || *c.AuthPolicies[0].LeewaySecs != 0 {
		t.Errorf("zeros: server %+v, upstream %+v, limit %+v, leeway %d; want defaults (leeway 0 kept)",
			c.Server, u, l, *c.AuthPolicies[0].LeewaySecs)
	}
}
