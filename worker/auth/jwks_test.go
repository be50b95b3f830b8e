package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/config"
)

// jwksServer serves a key set on 127.0.0.1 and counts fetches.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu           sync.Mutex
	doc          []byte
	status       int
	cacheControl string
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cacheControl != "" {
			w.Header().Set("Cache-Control", s.cacheControl)
		}
		w.WriteHeader(s.status)
		w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]any) {
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

// jwkOf is the JWK of a test public key.
func jwkOf(kid string, pub any) map[string]any {
	m := map[string]any{"kid": kid, "use": "sig"}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		k.X.FillBytes(x)
		k.Y.FillBytes(y)
		m["kty"], m["crv"], m["x"], m["y"] = "EC", k.Curve.Params().Name, b64(x), b64(y)
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(k)
	}
	return m
}

func jwksPolicy(alg, url string) config.AuthPolicy {
	return config.AuthPolicy{Name: "jwks", Algorithm: alg, Issuer: "https://issuer.test", Audiences: []string{"api"}, JWKSURL: url}
}

func TestJWKSAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k, other := newTestKey(t, alg, 0), newTestKey(t, alg, 1)
			srv := newJWKSServer(t, jwkOf("k0", k.pub), jwkOf("k1", other.pub))
			v := newVerifier(t, jwksPolicy(alg, srv.URL), Options{})
			f := func(tok, want string) {
				t.Helper()
				if got := reasonOf(v.Verify(bearer(tok), t0)); got != want {
					t.Errorf("Verify = %s; want %s", got, want)
				}
			}
			f(k.mint(t, nil, "kid", "k0"), "ok")
			f(other.mint(t, nil, "kid", "k1"), "ok")
			f(k.mint(t, nil, "kid", "k1"), "bad_signature")
			f(k.mint(t, nil), "unknown_kid") // two keys: a kid is needed
		})
	}
}

func TestJWKSRotation(t *testing.T) {
	a, b := newTestKey(t, "ES256", 0), newTestKey(t, "ES256", 1)
	srv := newJWKSServer(t, jwkOf("a", a.pub))
	v := newVerifier(t, jwksPolicy("ES256", srv.URL), Options{})
	f := func(tok, want string, hits int64) {
		t.Helper()
		if got := reasonOf(v.Verify(bearer(tok), t0)); got != want {
			t.Errorf("Verify = %s; want %s", got, want)
		}
		if n := srv.hits.Load(); n != hits {
			t.Errorf("server hits = %d; want %d", n, hits)
		}
	}
	tokA, tokB := a.mint(t, nil, "kid", "a"), b.mint(t, nil, "kid", "b")
	f(tokA, "ok", 1)
	f(tokA, "ok", 1)           // cached
	f(a.mint(t, nil), "ok", 1) // no kid, one key in the set

	srv.set(jwkOf("b", b.pub)) // rotation: a is retired
	f(tokB, "ok", 2)           // unknown kid: one refresh picks b up
	f(tokA, "unknown_kid", 2)  // cached, but its key left the set; floor: no fetch
	if _, ok := v.cache.shards[v.cache.hash([]byte(tokA))%cacheShards].m[v.cache.hash([]byte(tokA))]; ok {
		t.Errorf("entry of a retired key still cached")
	}

	// An unchanged key keeps its identity across refreshes, so cached
	// tokens stay hits.
	id1, _ := v.Verify(bearer(tokB), t0)
	if err := v.jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	id2, _ := v.Verify(bearer(tokB), t0)
	if id1 == nil || id1 != id2 {
		t.Errorf("cached identity lost over a refresh with the same key")
	}
}

func TestJWKSServerDown(t *testing.T) {
	k := newTestKey(t, "RS256", 0)
	srv := newJWKSServer(t, jwkOf("k", k.pub))
	v := newVerifier(t, jwksPolicy("RS256", srv.URL), Options{CacheSize: -1})
	tok := k.mint(t, nil, "kid", "k")

	srv.setStatus(http.StatusInternalServerError)
	if err := v.jwks.Refresh(context.Background()); !errors.Is(err, ErrJWKS) {
		t.Errorf("Refresh with HTTP 500 = %v; want ErrJWKS", err)
	}
	srv.setStatus(http.StatusOK)
	srv.set() // an empty set is not usable either
	if err := v.jwks.Refresh(context.Background()); !errors.Is(err, ErrJWKS) {
		t.Errorf("Refresh with no keys = %v; want ErrJWKS", err)
	}
	srv.Close()
	if err := v.jwks.Refresh(context.Background()); !errors.Is(err, ErrJWKS) {
		t.Errorf("Refresh with server gone = %v; want ErrJWKS", err)
	}
	if got := reasonOf(v.Verify(bearer(tok), t0)); got != "ok" {
		t.Errorf("Verify with the last good set = %s; want ok", got)
	}
	if got := reasonOf(v.Verify(bearer(k.mint(t, nil, "kid", "new")), t0)); got != "unknown_kid" {
		t.Errorf("unknown kid with server gone = %s; want unknown_kid", got)
	}
	if got := reasonOf(v.Verify(bearer(tok), t0)); got != "ok" {
		t.Errorf("Verify after a failed unknown-kid refresh = %s; want ok", got)
	}
}

func TestJWKSRefreshFloor(t *testing.T) {
	k := newTestKey(t, "EdDSA", 0)
	srv := newJWKSServer(t, jwkOf("k", k.pub))
	v := newVerifier(t, jwksPolicy("EdDSA", srv.URL), Options{})
	spam := func(now time.Time, n int) {
		for i := range n {
			tok := k.mint(t, nil, "kid", "spam-"+strconv.Itoa(i))
			if got := reasonOf(v.Verify(bearer(tok), now)); got != "unknown_kid" {
				t.Fatalf("Verify = %s; want unknown_kid", got)
			}
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { spam(t0, 50) })
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("hits after 200 unknown kids = %d; want 2 (start + one refresh)", n)
	}
	spam(t0.Add(unknownKIDFloor-time.Nanosecond), 20)
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("hits within the floor = %d; want 2", n)
	}
	spam(t0.Add(unknownKIDFloor), 20)
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("hits after the floor = %d; want 3", n)
	}
	if got := reasonOf(v.Verify(bearer(k.mint(t, nil, "kid", "k")), t0)); got != "ok" {
		t.Errorf("known kid = %s; want ok", got)
	}
}

// TestJWKSRun drives the background refresher with a controlled timer.
func TestJWKSRun(t *testing.T) {
	a, b := newTestKey(t, "ES256", 0), newTestKey(t, "ES256", 1)
	srv := newJWKSServer(t, jwkOf("a", a.pub))
	srv.mu.Lock()
	srv.cacheControl = "public, max-age=600"
	srv.mu.Unlock()
	j, err := NewJWKS(srv.URL, "ES256", nil)
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int64
	j.onError = func(err error) {
		if errors.Is(err, ErrJWKS) {
			failures.Add(1)
		}
	}
	delays, ticks := make(chan time.Duration), make(chan time.Time)
	j.after = func(d time.Duration) <-chan time.Time { delays <- d; return ticks }
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := j.Keys().MaxAge(); got != 10*time.Minute {
		t.Errorf("MaxAge = %v; want 10m", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- j.Run(ctx) }()

	next := func(want time.Duration) {
		t.Helper()
		select {
		case d := <-delays:
			if d != want {
				t.Errorf("refresh delay = %v; want %v", d, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("refresher did not wait again")
		}
	}
	next(9 * time.Minute) // 90 % of max-age
	srv.set(jwkOf("b", b.pub))
	ticks <- time.Time{}
	next(9 * time.Minute)
	if j.Keys().lookup("b", true) == nil || j.Keys().lookup("a", true) != nil {
		t.Errorf("background refresh did not install the new set")
	}
	srv.setStatus(http.StatusServiceUnavailable)
	ticks <- time.Time{}
	next(retryMin)
	ticks <- time.Time{}
	next(2 * retryMin)
	if j.Keys().lookup("b", true) == nil {
		t.Errorf("failed refresh dropped the last good set")
	}
	if n := failures.Load(); n != 2 {
		t.Errorf("onError calls = %d; want 2", n)
	}
	srv.setStatus(http.StatusOK)
	ticks <- time.Time{}
	next(9 * time.Minute)
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
}

func TestJWKSLoad(t *testing.T) {
	k, other := newTestKey(t, "RS256", 0), newTestKey(t, "ES256", 0)
	j, err := NewJWKS("http://127.0.0.1:1/keys", "RS256", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := jwkOf("good", k.pub)
	mod := func(kid string, kv ...string) map[string]any {
		m := jwkOf(kid, k.pub)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	doc := func(keys ...map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return b
	}
	if err := j.Load(doc(
		good,
		mod("enc", "use", "enc"),
		mod("other-alg", "alg", "RS512"),
		mod("right-alg", "alg", "RS256"),
		mod("bad-n", "n", "!!"),
		mod("bad-e", "e", "AAAAAAAA"),
		mod("even-e", "e", "Ag"),
		mod("kty", "kty", "EC"),
		jwkOf("ec", other.pub),
		mod("good", "n", "AQAB"), // duplicate kid: the first wins
	), 0); err != nil {
		t.Fatal(err)
	}
	s := j.Keys()
	if s.Len() != 2 || s.lookup("good", true) == nil || s.lookup("right-alg", true) == nil || s.MaxAge() != defaultMaxAge {
		t.Errorf("Load kept %d keys (max-age %v); want good and right-alg", s.Len(), s.MaxAge())
	}
	first := s.lookup("good", true)
	if err := j.Load(doc(good), time.Hour); err != nil {
		t.Fatal(err)
	}
	if j.Keys().lookup("good", true) != first {
		t.Errorf("unchanged key got a new identity")
	}
	if j.Keys().lookup("", false) != first {
		t.Errorf("single-key set: token without kid finds no key")
	}
	for _, bad := range [][]byte{[]byte("not json"), doc(), doc(jwkOf("ec", other.pub)), []byte(`{"keys":7}`)} {
		if err := j.Load(bad, 0); !errors.Is(err, ErrJWKS) {
			t.Errorf("Load(%.40q) = %v; want ErrJWKS", bad, err)
		}
	}
	if j.Keys().lookup("good", true) != first {
		t.Errorf("failed Load replaced the set")
	}
}

func TestNewJWKSErrors(t *testing.T) {
	k := newTestKey(t, "RS256", 0)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	unusable := newJWKSServer(t, jwkOf("ec", newTestKey(t, "ES256", 0).pub))
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	f := func(p config.AuthPolicy, want error) {
		t.Helper()
		v, err := New(p, Options{})
		if !errors.Is(err, want) {
			t.Errorf("New(%s, %s) = %v; want %v", p.Algorithm, p.JWKSURL, err, want)
		}
		if v != nil {
			v.Close()
		}
	}
	f(jwksPolicy("RS256", gone.URL), ErrJWKS)
	f(jwksPolicy("RS256", unusable.URL), ErrJWKS)
	f(jwksPolicy("RS256", notFound.URL), ErrJWKS)
	f(jwksPolicy("HS256", unusable.URL), ErrKeyType)
	f(jwksPolicy("RS256", "ftp://127.0.0.1/keys"), ErrPolicy)
	f(jwksPolicy("XX256", unusable.URL), ErrAlgorithm)
	// A JWKS URL wins over a static key.
	p := jwksPolicy("RS256", gone.URL)
	p.Key = k.key
	f(p, ErrJWKS)
}

func TestCacheMaxAge(t *testing.T) {
	f := func(cc string, want time.Duration) {
		t.Helper()
		if got := cacheMaxAge(cc); got != want {
			t.Errorf("cacheMaxAge(%q) = %v; want %v", cc, got, want)
		}
	}
	f("", 0)
	f("public", 0)
	f("max-age=600", 10*time.Minute)
	f("public, Max-Age=60, must-revalidate", time.Minute)
	f(`max-age="120"`, 2*time.Minute)
	f("max-age=-5", 0)
	f("max-age=x", 0)
	f("no-store", minMaxAge)
	f("max-age=99999999999999", maxMaxAge)
}
