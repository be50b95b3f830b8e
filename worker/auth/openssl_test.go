package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/config"
)

// TestOpenSSLTokens verifies tokens signed by the openssl CLI
// (testdata/gen_openssl.sh), not by the library under test.
func TestOpenSSLTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct{ alg, name string }{{"RS256", "rs256"}, {"ES256", "es256"}, {"EdDSA", "eddsa"}} {
		t.Run(tc.alg, func(t *testing.T) {
			key, err := os.ReadFile(filepath.Join("testdata", "openssl_"+tc.name+".pub.pem"))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := os.ReadFile(filepath.Join("testdata", "openssl_"+tc.name+".jwt"))
			if err != nil {
				t.Fatal(err)
			}
			tok = bytes.TrimSpace(tok)
			p := config.AuthPolicy{Name: "openssl", Algorithm: tc.alg, Issuer: "openssl", Audiences: []string{"fluxgate-test"},
				RequiredScopes: []string{"read"}, Key: key}
			v := newVerifier(t, p, Options{CacheSize: -1})
			id, e := v.Verify(append([]byte("Bearer "), tok...), now)
			if e != nil {
				t.Fatalf("Verify = %v", e)
			}
			if id.Subject != "openssl-user" || id.ExpiresAt.Unix() != 4102444800 {
				t.Errorf("identity = %+v", id)
			}
			// Another character in the signature must fail.
			bad := bytes.Clone(tok)
			i := len(bad) - 3
			bad[i] = map[bool]byte{true: 'B', false: 'A'}[bad[i] == 'A']
			if got := reasonOf(v.Verify(append([]byte("Bearer "), bad...), now)); got != "bad_signature" {
				t.Errorf("altered signature: Verify = %s; want bad_signature", got)
			}
		})
	}
}
