package auth

import (
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary Authorization values to an HS256 verifier
// (and, signature permitting, its claim checks). It must never panic, must
// return exactly one of identity and error, and a success must be served
// again from the cache.
func FuzzVerify(f *testing.F) {
	k := newTestKey(f, "HS256", 0)
	p := k.policy()
	p.RequiredScopes = []string{"read"}
	p.ForwardClaims = map[string]string{"sub": "X-User", "roles": "X-Roles"}
	v, err := New(p, Options{CacheSize: 256})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()

	good := k.mint(f, nil)
	f.Add([]byte("Bearer " + good))
	f.Add([]byte("bearer\t" + good + " "))
	f.Add([]byte(""))
	f.Add([]byte("Basic abc"))
	f.Add([]byte("Bearer a.b.c"))
	f.Add([]byte("Bearer " + strings.Replace(good, ".", "..", 1)))
	f.Add([]byte("Bearer " + mintRaw(f, k.signer, `{"alg":"HS256","kid":"x","crit":[]}`, `{"exp":1e400}`)))
	f.Add([]byte("Bearer " + mintRaw(f, k.signer, `{"alg":"HS256"}`, `{"iss":"https://issuer.test","aud":["api"],"exp":1800000001.5,"scp":"read","roles":[1,[2],{"a":null}]}`)))
	f.Add([]byte("Bearer " + mintRaw(f, k.signer, `{"alg":"HS256"}`, `{"iss":"https://issuer.test","aud":"api","exp":-1e308,"nbf":1e308,"iat":"x"}`)))

	f.Fuzz(func(t *testing.T, auth []byte) {
		id, e := v.Verify(auth, t0)
		if (id == nil) == (e == nil) {
			t.Fatalf("Verify(%q) = %v, %v: want exactly one", auth, id, e)
		}
		if e != nil {
			if e.Status != 401 && e.Status != 403 || e.Reason == "" || e.WWWAuthenticate == "" {
				t.Fatalf("Verify(%q): bad error %+v", auth, e)
			}
			return
		}
		if id2, e2 := v.Verify(auth, t0); id2 != id || e2 != nil {
			t.Fatalf("Verify(%q) again = %v, %v; want the cached identity", auth, id2, e2)
		}
		id.Claim("sub")
	})
}
