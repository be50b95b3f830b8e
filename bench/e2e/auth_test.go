package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// authTestdata is the auth package's openssl-made material: tokens signed
// by the openssl CLI (iss "openssl", aud "fluxgate-test", sub
// "openssl-user", scope "read write", exp 2100) and their public keys.
func authTestdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "worker", "auth", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuthThroughBinary: RS256 (key from a file) and ES256 (key from the
// JWT_KEY_{NAME} environment variable) policies in the real gateway,
// checked with tokens made by openssl, and each RFC 6750 answer.
func TestAuthThroughBinary(t *testing.T) {
	t.Parallel()
	up := StartUpstream(t, "auth")
	token := func(name string) string {
		b, err := os.ReadFile(authTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	esPEM, err := os.ReadFile(authTestdata(t, "openssl_es256.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config(2, "", fmt.Sprintf(`auth_policies:
  - name: rs
    algorithm: RS256
    issuer: openssl
    audiences: [fluxgate-test]
    required_scopes: [read]
    key_file: %q
  - name: es-policy
    algorithm: ES256
    issuer: openssl
    required_scopes: [admin]
upstreams:
  - name: up
    base_url: "http://%s"
routes:
  - id: rs
    match_path: {prefix: "/rs"}
    upstream: up
    auth_policy: rs
  - id: es
    match_path: {prefix: "/es"}
    upstream: up
    auth_policy: es-policy
`, authTestdata(t, "openssl_rs256.pub.pem"), up.Addr))
	g := StartGateway(t, GatewayOptions{Config: cfg, Env: []string{"JWT_KEY_ES_POLICY=" + string(esPEM)}})

	rs, es := token("openssl_rs256.jwt"), token("openssl_es256.jwt")
	tampered := rs[:len(rs)-4] + "AAAA"
	cases := []struct {
		path, authz string
		status      int
		wwwAuth     string
	}{
		{"/rs/x", "Bearer " + rs, 200, ""},
		{"/rs/x", "", 401, `Bearer realm="fluxgate"`},
		{"/rs/x", "Bearer " + tampered, 401, `error="invalid_token"`},
		{"/rs/x", "Bearer " + es, 401, `error="invalid_token"`}, // ES256 token on an RS256 policy
		{"/es/x", "Bearer " + es, 403, `error="insufficient_scope"`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", g.URL(c.path), nil)
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %.20q: status %d; want %d", c.path, c.authz, resp.StatusCode, c.status)
		}
		got := resp.Header.Get("WWW-Authenticate")
		if c.status == 403 && !strings.Contains(got, `scope="admin"`) {
			t.Errorf("%s: WWW-Authenticate %q lacks the missing scope", c.path, got)
		}
		if !strings.Contains(got, c.wwwAuth) {
			t.Errorf("%s %.20q: WWW-Authenticate %q; want it to contain %q", c.path, c.authz, got, c.wwwAuth)
		}
	}
	// No token or key material in the logs.
	for _, l := range g.Lines() {
		for k, v := range l {
			if s, ok := v.(string); ok && (strings.Contains(s, rs[:40]) || strings.Contains(s, "BEGIN PUBLIC KEY")) {
				t.Errorf("log field %s leaks token or key material", k)
			}
		}
	}
}
