package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

var benchAlgs = []string{"HS256", "RS256", "PS256", "ES256", "EdDSA"}

// benchVerifier returns a verifier for alg (cacheSize as in Options) and
// the Authorization value of a valid token with typical claims.
func benchVerifier(b *testing.B, alg string, cacheSize int) (*Verifier, []byte) {
	k := newTestKey(b, alg, 0)
	p := k.policy()
	p.RequiredScopes = []string{"read"}
	v := newVerifier(b, p, Options{CacheSize: cacheSize})
	auth := bearer(k.mint(b, nil, "kid", "key-1"))
	if _, e := v.Verify(auth, t0); e != nil {
		b.Fatal(e)
	}
	return v, auth
}

// BenchmarkVerifyCold verifies the signature and claims on every call.
func BenchmarkVerifyCold(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, auth := benchVerifier(b, alg, -1)
			b.ReportAllocs()
			for b.Loop() {
				if _, e := v.Verify(auth, t0); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkVerifyWarm is the cache-hit path: the budget is 0 allocs and
// well under 1 µs for every algorithm.
func BenchmarkVerifyWarm(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, auth := benchVerifier(b, alg, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, e := v.Verify(auth, t0); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkVerifyWarmParallel is the cache-hit path under contention.
func BenchmarkVerifyWarmParallel(b *testing.B) {
	v, auth := benchVerifier(b, "ES256", 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, e := v.Verify(auth, t0); e != nil {
				b.Fatal(e)
			}
		}
	})
}

// BenchmarkVerifyMissing is the cheapest refusal.
func BenchmarkVerifyMissing(b *testing.B) {
	v, _ := benchVerifier(b, "HS256", 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, e := v.Verify(nil, t0); e == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkVerifyWarmJWKS is a cache hit that also looks its key up in the
// current JWKS generation.
func BenchmarkVerifyWarmJWKS(b *testing.B) {
	k := newTestKey(b, "RS256", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwkOf("k", k.pub)}})
	}))
	defer srv.Close()
	v := newVerifier(b, jwksPolicy("RS256", srv.URL), Options{})
	auth := bearer(k.mint(b, nil, "kid", "k"))
	if _, e := v.Verify(auth, t0); e != nil {
		b.Fatal(e)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, e := v.Verify(auth, t0); e != nil {
			b.Fatal(e)
		}
	}
}
