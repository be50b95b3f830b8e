//go:build !race

package auth

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestWarmPathAllocs is the allocation budget of a cache hit, of the
// refusals answered without parsing, and of ApplyClaims on a reused header.
func TestWarmPathAllocs(t *testing.T) {
	for _, alg := range allAlgs {
		k := newTestKey(t, alg, 0)
		p := k.policy()
		p.ForwardClaims = map[string]string{"sub": "X-User", "scope": "X-Scope"}
		v := newVerifier(t, p, Options{})
		auth := bearer(k.mint(t, nil))
		id, e := v.Verify(auth, t0)
		if e != nil {
			t.Fatal(e)
		}
		if n := testing.AllocsPerRun(200, func() { v.Verify(auth, t0) }); n != 0 {
			t.Errorf("%s: warm Verify allocs = %v; want 0", alg, n)
		}
		early := t0.Add(-3600e9) // before nbf: refused from the cache
		if n := testing.AllocsPerRun(200, func() { v.Verify(auth, early) }); n != 0 {
			t.Errorf("%s: not-yet-valid hit allocs = %v; want 0", alg, n)
		}
		malformed := []byte("Bearer x")
		if n := testing.AllocsPerRun(200, func() { v.Verify(nil, t0); v.Verify(malformed, t0) }); n != 0 {
			t.Errorf("%s: refusal allocs = %v; want 0", alg, n)
		}
		var h fasthttp.RequestHeader
		v.ApplyClaims(&h, id)
		if n := testing.AllocsPerRun(200, func() { h.Set("X-User", "forged"); v.ApplyClaims(&h, id) }); n != 0 {
			t.Errorf("%s: ApplyClaims allocs = %v; want 0", alg, n)
		}
	}
}

// TestWarmPathAllocsJWKS: a hit also confirms the key is still in the set.
func TestWarmPathAllocsJWKS(t *testing.T) {
	k := newTestKey(t, "ES256", 0)
	srv := newJWKSServer(t, jwkOf("k", k.pub))
	v := newVerifier(t, jwksPolicy("ES256", srv.URL), Options{})
	for _, auth := range [][]byte{bearer(k.mint(t, nil, "kid", "k")), bearer(k.mint(t, nil))} {
		if _, e := v.Verify(auth, t0); e != nil {
			t.Fatal(e)
		}
		if n := testing.AllocsPerRun(200, func() { v.Verify(auth, t0) }); n != 0 {
			t.Errorf("warm JWKS Verify allocs = %v; want 0", n)
		}
	}
}
