package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v5"
	"github.com/valyala/fasthttp"
)

const testSecret = "server-test-secret-0123456789abcdef"

type testClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
}

func mintHS256(t testing.TB, sub, iss, scope string, exp time.Time) string {
	t.Helper()
	signer, err := jwt.NewSignerHS(jwt.HS256, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewBuilder(signer).Build(testClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: sub, Issuer: iss, ExpiresAt: jwt.NewNumericDate(exp)},
		Scope:            scope,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

const authPolicies = `auth_policies:
  - name: default
    algorithm: HS256
    issuer: gateway
    required_scopes: ["read"]
    forward_claims: {sub: X-Auth-Subject}
`

const secureRoute = `  - id: secure
    match_path: {prefix: "/secure"}
    upstream: up
    auth_policy: default
`

func authConfig(upstream string) string {
	return basicConfig(upstream, authPolicies) + secureRoute
}

func TestAuthChain(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGatewayEnv(t, authConfig(up.addr), map[string]string{"JWT_SECRET": testSecret})
	now := time.Now()
	good := mintHS256(t, "alice", "gateway", "read write", now.Add(time.Hour))

	cases := []struct {
		name, authz string
		status      int
		code        string
		wwwAuth     string // substring expected in WWW-Authenticate
	}{
		{"good", "Bearer " + good, 200, "", ""},
		{"missing", "", 401, "missing_token", `Bearer realm="fluxgate"`},
		{"garbage", "Bearer abc.def.ghi", 401, "invalid_token", `error="invalid_token"`},
		{"expired", "Bearer " + mintHS256(t, "alice", "gateway", "read", now.Add(-time.Hour)), 401, "invalid_token", `error="invalid_token"`},
		{"wrong issuer", "Bearer " + mintHS256(t, "alice", "evil", "read", now.Add(time.Hour)), 401, "invalid_token", `error="invalid_token"`},
		{"no scope", "Bearer " + mintHS256(t, "alice", "gateway", "write", now.Add(time.Hour)), 403, "insufficient_scope", `error="insufficient_scope"`},
	}
	for _, c := range cases {
		hdr := map[string]string{"X-Auth-Subject": "forged"}
		if c.authz != "" {
			hdr["Authorization"] = c.authz
		}
		resp := do(t, g.addr, "GET", "/secure/x", hdr)
		if resp.StatusCode() != c.status {
			t.Errorf("%s: status %d; want %d (%s)", c.name, resp.StatusCode(), c.status, resp.Body())
			continue
		}
		if c.code != "" {
			if e := decodeError(t, resp); e.Error != c.code {
				t.Errorf("%s: error %q; want %q", c.name, e.Error, c.code)
			}
		}
		if got := string(resp.Header.Peek("WWW-Authenticate")); !strings.Contains(got, c.wwwAuth) {
			t.Errorf("%s: WWW-Authenticate %q; want it to contain %q", c.name, got, c.wwwAuth)
		}
	}
	body := string(do(t, g.addr, "GET", "/metrics", nil).Body())
	for _, want := range []string{
		`fluxgate_auth_failures_total{policy="default",reason="missing_token"} 1`,
		`fluxgate_auth_failures_total{policy="default",reason="missing_scope"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestClaimForwardingReplacesForgedHeader(t *testing.T) {
	t.Parallel()
	tok := mintHS256(t, "alice", "gateway", "read", time.Now().Add(time.Hour))
	seen := make(chan string, 1)
	up2 := startUpstream(t, func(ctx *fasthttp.RequestCtx) { seen <- string(ctx.Request.Header.Peek("X-Auth-Subject")) })
	g2 := startGatewayEnv(t, authConfig(up2.addr), map[string]string{"JWT_SECRET": testSecret})
	resp := do(t, g2.addr, "GET", "/secure/x", map[string]string{"Authorization": "Bearer " + tok, "X-Auth-Subject": "mallory"})
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	if got := <-seen; got != "alice" {
		t.Errorf("upstream saw X-Auth-Subject %q; want alice", got)
	}
}

func TestRateLimitChain(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	cfg := basicConfig(up.addr, `rate_limits:
  - name: tight
    limit_per_minute: 1
    burst: 3
    store: local
    key: [client_ip, route_path]
`) + `  - id: limited
    match_path: {prefix: "/limited"}
    upstream: up
    rate_limit: tight
`
	g := startGateway(t, cfg)
	for i := 0; i < 3; i++ {
		resp := do(t, g.addr, "GET", "/limited/x", nil)
		if resp.StatusCode() != 200 {
			t.Fatalf("request %d: status %d; want 200", i, resp.StatusCode())
		}
		if got, want := string(resp.Header.Peek("X-RateLimit-Remaining")), strconv.Itoa(2-i); got != want {
			t.Errorf("request %d: X-RateLimit-Remaining %q; want %q", i, got, want)
		}
		if got := string(resp.Header.Peek("X-RateLimit-Limit")); got != "3" {
			t.Errorf("request %d: X-RateLimit-Limit %q; want 3", i, got)
		}
	}
	resp := do(t, g.addr, "GET", "/limited/x", nil)
	if resp.StatusCode() != 429 {
		t.Fatalf("4th request: status %d; want 429", resp.StatusCode())
	}
	if e := decodeError(t, resp); e.Error != "rate_limited" {
		t.Errorf("error %q; want rate_limited", e.Error)
	}
	ra, err := strconv.Atoi(string(resp.Header.Peek("Retry-After")))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q; want whole seconds in [1, 60]", resp.Header.Peek("Retry-After"))
	}
	// A spoofed X-Forwarded-For from an untrusted peer does not change the key.
	resp = do(t, g.addr, "GET", "/limited/x", map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if resp.StatusCode() != 429 {
		t.Errorf("spoofed XFF: status %d; want 429 (same key)", resp.StatusCode())
	}
	// Another route is another key.
	if resp := do(t, g.addr, "GET", "/api/x", nil); resp.StatusCode() != 200 {
		t.Errorf("/api: status %d; want 200", resp.StatusCode())
	}
	body := string(do(t, g.addr, "GET", "/metrics", nil).Body())
	want := fmt.Sprintf(`fluxgate_ratelimit_decisions_total{policy="tight",result="refused",source="local"} %d`, 2)
	if !strings.Contains(body, want) {
		t.Errorf("metrics lack %q", want)
	}
}

func TestAccessLogLine(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	cfg, err := parseTestConfig(basicConfig(up.addr, ""))
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	g := serveConfig(t, cfg, &buf)
	resp := do(t, g.addr, "GET", "/api/logged", map[string]string{"X-Request-ID": "log-me-1"})
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	line := waitForLine(t, &buf, "log-me-1")
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("access log line %q is not JSON: %v", line, err)
	}
	for k, want := range map[string]any{"request_id": "log-me-1", "method": "GET", "path": "/api/logged", "route": "api", "upstream": "up",
		"status": float64(200), "client": "127.0.0.1", "bytes_in": float64(0), "bytes_out": float64(len(resp.Body()))} {
		if rec[k] != want {
			t.Errorf("access log %s = %v; want %v", k, rec[k], want)
		}
	}
}
