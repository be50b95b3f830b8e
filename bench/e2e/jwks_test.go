package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v5"
)

type jwksKey struct {
	kid string
	key *rsa.PrivateKey
}

func newJWKSKey(t *testing.T, kid string) jwksKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jwksKey{kid, k}
}

func (k jwksKey) jwk() map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "RS256",
		"n": b64(k.key.N.Bytes()), "e": b64(big.NewInt(int64(k.key.E)).Bytes())}
}

func (k jwksKey) token(t *testing.T) string {
	t.Helper()
	signer, err := jwt.NewSignerRS(jwt.RS256, k.key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewBuilder(signer, jwt.WithKeyID(k.kid)).Build(jwt.RegisteredClaims{
		Issuer: "idp", Subject: "u1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// TestJWKSSharedPerHost: 4 workers share the supervisor's key set cache, so
// the identity provider sees one fetch at start, one on rotation (an
// unknown kid), none for a flood of tokens with an unknown kid within the
// floor, and the cached keys keep working when it goes down.
func TestJWKSSharedPerHost(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := newJWKSKey(t, "k1"), newJWKSKey(t, "k2"), newJWKSKey(t, "k3")
	var keys atomic.Pointer[[]map[string]string]
	keys.Store(&[]map[string]string{k1.jwk()})
	var hits atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=300")
		json.NewEncoder(w).Encode(map[string]any{"keys": *keys.Load()})
	}))
	defer idp.Close()

	up := StartUpstream(t, "jwks")
	g := StartGateway(t, GatewayOptions{Config: Config(4, "", fmt.Sprintf(`auth_policies:
  - name: idp
    algorithm: RS256
    issuer: idp
    jwks_url: %q
upstreams:
  - name: up
    base_url: "http://%s"
routes:
  - id: api
    match_path: {prefix: "/api"}
    upstream: up
    auth_policy: idp
`, idp.URL, up.Addr))})
	if n := hits.Load(); n != 1 {
		t.Errorf("identity provider fetches after 4 workers started: %d; want 1", n)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", g.URL("/api/x"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// New connections: the kernel spreads them over the workers.
	t1, t2, t3 := k1.token(t), k2.token(t), k3.token(t)
	for i := 0; i < 16; i++ {
		if s := status(t1); s != 200 {
			t.Fatalf("k1 token: %d; want 200", s)
		}
	}
	keys.Store(&[]map[string]string{k1.jwk(), k2.jwk()}) // rotation
	for i := 0; i < 16; i++ {
		if s := status(t2); s != 200 {
			t.Fatalf("k2 token after rotation (request %d): %d; want 200", i, s)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("fetches after rotation: %d; want 2", n)
	}
	for i := 0; i < 50; i++ {
		if s := status(t3); s != 401 {
			t.Fatalf("unknown kid: %d; want 401", s)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("fetches after 50 unknown-kid tokens within the floor: %d; want still 2", n)
	}
	idp.Close()
	for i := 0; i < 8; i++ {
		if s := status(t2); s != 200 {
			t.Fatalf("k2 token with the identity provider down: %d; want 200", s)
		}
	}
	m := scrape(t, g)
	if m[`fluxgate_jwks_fetches_total{result="ok"}`] != 2 {
		t.Errorf("fluxgate_jwks_fetches_total{result=ok} = %v; want 2", m[`fluxgate_jwks_fetches_total{result="ok"}`])
	}
}
