package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v5"
	"github.com/fluxgate/fluxgate/config"
)

// t0 is the fixed "now" of most tests.
var t0 = time.Unix(1_800_000_000, 0)

// testKey is a signer for one algorithm plus the policy key bytes.
type testKey struct {
	alg    string
	signer jwt.Signer
	key    []byte // HS secret or PEM public key
	pub    any    // public key (nil for HS)
}

// keyCache holds generated private keys: RSA generation is slow, and tests
// need two keys of each kind (right and wrong).
type keyCache struct {
	once sync.Once
	rsa  [2]*rsa.PrivateKey
	ec   map[string][2]*ecdsa.PrivateKey
	ed   [2]ed25519.PrivateKey
}

var keys keyCache

func (c *keyCache) init() {
	c.once.Do(func() {
		c.ec = map[string][2]*ecdsa.PrivateKey{}
		for i := range 2 {
			c.rsa[i], _ = rsa.GenerateKey(rand.Reader, 2048)
			_, c.ed[i], _ = ed25519.GenerateKey(rand.Reader)
		}
		for alg, curve := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
			a, _ := ecdsa.GenerateKey(curve, rand.Reader)
			b, _ := ecdsa.GenerateKey(curve, rand.Reader)
			c.ec[alg] = [2]*ecdsa.PrivateKey{a, b}
		}
	})
}

var allAlgs = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// newTestKey returns key number i (0 or 1) for alg.
func newTestKey(t testing.TB, alg string, i int) testKey {
	t.Helper()
	keys.init()
	a := jwt.Algorithm(alg)
	var (
		s   jwt.Signer
		pub any
		err error
		key []byte
	)
	switch algFamily(alg) {
	case famHMAC:
		key = []byte("secret-" + alg + "-" + string(rune('a'+i)) + "-0123456789abcdef0123456789abcdef")
		s, err = jwt.NewSignerHS(a, key)
	case famRSA:
		pub = &keys.rsa[i].PublicKey
		if alg[0] == 'P' {
			s, err = jwt.NewSignerPS(a, keys.rsa[i])
		} else {
			s, err = jwt.NewSignerRS(a, keys.rsa[i])
		}
	case famEC:
		pub = &keys.ec[alg][i].PublicKey
		s, err = jwt.NewSignerES(a, keys.ec[alg][i])
	case famEd25519:
		pub = keys.ed[i].Public()
		s, err = jwt.NewSignerEdDSA(keys.ed[i])
	}
	if err != nil {
		t.Fatal(err)
	}
	if pub != nil {
		key = pemPublic(t, pub)
	}
	return testKey{alg: alg, signer: s, key: key, pub: pub}
}

func pemPublic(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mintRaw builds a compact token from raw header and claims JSON.
func mintRaw(t testing.TB, s jwt.Signer, header, claims string) string {
	t.Helper()
	signing := b64([]byte(header)) + "." + b64([]byte(claims))
	sig, err := s.Sign([]byte(signing))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// claims are the claims of a good token at t0 for testPolicy.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": "https://issuer.test", "sub": "user-1", "aud": "api",
		"exp": t0.Unix() + 3600, "iat": t0.Unix() - 60, "nbf": t0.Unix() - 60,
		"scope": "read write",
	}
}

// mint signs claims (nil = goodClaims) with key k; extra header fields
// (e.g. kid) may be given.
func (k testKey) mint(t testing.TB, claims map[string]any, hdr ...string) string {
	t.Helper()
	if claims == nil {
		claims = goodClaims()
	}
	h := map[string]any{"alg": k.alg, "typ": "JWT"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	hj, _ := json.Marshal(h)
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return mintRaw(t, k.signer, string(hj), string(cj))
}

// policy is the usual test policy for key k.
func (k testKey) policy() config.AuthPolicy {
	return config.AuthPolicy{
		Name: "test", Algorithm: k.alg, Issuer: "https://issuer.test",
		Audiences: []string{"api"}, Key: k.key,
	}
}

func newVerifier(t testing.TB, p config.AuthPolicy, opts Options) *Verifier {
	t.Helper()
	v, err := New(p, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// reasonOf is the outcome of Verify as one string: "ok" or the reason.
func reasonOf(id *Identity, e *Error) string {
	switch {
	case e != nil && id != nil:
		return "BOTH"
	case e != nil:
		return e.Reason
	case id == nil:
		return "NEITHER"
	}
	return "ok"
}

func bearer(tok string) []byte { return []byte("Bearer " + tok) }

func intp(i int) *int { return &i }
