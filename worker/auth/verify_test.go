package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v5"
)

func TestVerifyAlgorithms(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k, other := newTestKey(t, alg, 0), newTestKey(t, alg, 1)
			v := newVerifier(t, k.policy(), Options{CacheSize: -1})
			f := func(name, tok, want string) {
				t.Helper()
				if got := reasonOf(v.Verify(bearer(tok), t0)); got != want {
					t.Errorf("%s: Verify = %s; want %s", name, got, want)
				}
			}
			good := k.mint(t, nil)
			f("good", good, "ok")
			f("wrong key", other.mint(t, nil), "bad_signature")

			parts := strings.Split(good, ".")
			c := goodClaims()
			c["sub"] = "admin"
			forged := strings.Split(k.mint(t, c), ".")[1]
			f("tampered payload", parts[0]+"."+forged+"."+parts[2], "bad_signature")
			f("no signature", parts[0]+"."+parts[1]+".", "bad_signature")
			f("signature of another token", parts[0]+"."+parts[1]+"."+strings.Split(k.mint(t, c), ".")[2], "bad_signature")

			// Same family, other algorithm: must be refused on alg alone.
			sibling := map[string]string{"HS256": "HS512", "HS384": "HS256", "HS512": "HS256",
				"RS256": "PS256", "RS384": "RS256", "RS512": "RS256", "PS256": "RS256", "PS384": "PS256", "PS512": "PS256",
				"ES256": "HS256", "ES384": "HS256", "ES512": "HS256", "EdDSA": "HS256"}[alg]
			sk := newTestKey(t, sibling, 0)
			f("other algorithm "+sibling, sk.mint(t, nil), "bad_algorithm")

			id, e := v.Verify(bearer(good), t0)
			if e != nil || id.Subject != "user-1" || !id.ExpiresAt.Equal(t0.Add(time.Hour)) || id.Issuer != "https://issuer.test" {
				t.Errorf("identity = %+v, %v", id, e)
			}
		})
	}
}

func TestAlgNone(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	v := newVerifier(t, k.policy(), Options{})
	claims := b64([]byte(`{"iss":"https://issuer.test","aud":"api","exp":1800003600}`))
	for _, alg := range []string{"none", "None", "NONE", "", "hs256"} {
		hdr := b64([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		for _, sig := range []string{"", "AAAA"} {
			if got := reasonOf(v.Verify(bearer(hdr+"."+claims+"."+sig), t0)); got != "bad_algorithm" {
				t.Errorf("alg %q sig %q: Verify = %s; want bad_algorithm", alg, sig, got)
			}
		}
	}
	// alg must be exactly "alg": a differently cased key does not count.
	tok := mintRaw(t, k.signer, `{"ALG":"HS256"}`, `{"iss":"https://issuer.test","aud":"api","exp":1800003600}`)
	if got := reasonOf(v.Verify(bearer(tok), t0)); got != "malformed" {
		t.Errorf("ALG header: Verify = %s; want malformed", got)
	}
}

// TestHSRSConfusion is the classic attack: the RSA public key (public!)
// used as an HMAC secret against an RS256 policy.
func TestHSRSConfusion(t *testing.T) {
	rk := newTestKey(t, "RS256", 0)
	v := newVerifier(t, rk.policy(), Options{})
	hs, err := jwt.NewSignerHS(jwt.HS256, rk.key)
	if err != nil {
		t.Fatal(err)
	}
	forged := testKey{alg: "HS256", signer: hs}.mint(t, nil)
	if got := reasonOf(v.Verify(bearer(forged), t0)); got != "bad_algorithm" {
		t.Errorf("HS256 token signed with the RSA PEM: Verify = %s; want bad_algorithm", got)
	}
	// Even claiming RS256 in the header, an HMAC "signature" is no RSA one.
	tok := mintRaw(t, hs, `{"alg":"RS256"}`, `{"iss":"https://issuer.test","aud":"api","exp":1800003600}`)
	if got := reasonOf(v.Verify(bearer(tok), t0)); got != "bad_signature" {
		t.Errorf("RS256 header, HMAC signature: Verify = %s; want bad_signature", got)
	}
	// And an HS policy refuses PEM key material outright.
	p := rk.policy()
	p.Algorithm = "HS256"
	if _, err := New(p, Options{}); err == nil {
		t.Errorf("New(HS256 with PEM key) = nil error")
	}
}

func TestTimeChecks(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	exp, nbf, iat := t0.Unix()+100, t0.Unix()-100, t0.Unix()-100
	f := func(leeway *int, claims map[string]any, now time.Time, want string) {
		t.Helper()
		p := k.policy()
		p.LeewaySecs = leeway
		for _, size := range []int{-1, 0} { // cold, and twice through the cache
			v := newVerifier(t, p, Options{CacheSize: size})
			tok := k.mint(t, claims)
			for range 2 {
				if got := reasonOf(v.Verify(bearer(tok), now)); got != want {
					t.Errorf("leeway %v claims %v at %v (cache %d): Verify = %s; want %s", leeway, claims, now.Unix()-t0.Unix(), size, got, want)
				}
			}
		}
	}
	c := func(kv ...any) map[string]any {
		m := map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": exp}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// exp: valid while now < exp + leeway (default 30 s).
	f(nil, c(), at(129*time.Second), "ok")
	f(nil, c(), at(130*time.Second-time.Nanosecond), "ok")
	f(nil, c(), at(130*time.Second), "expired")
	f(intp(0), c(), at(100*time.Second-time.Nanosecond), "ok")
	f(intp(0), c(), at(100*time.Second), "expired")
	f(intp(0), c("exp", 1800000099.5), at(99*time.Second+time.Second/2-1), "ok")
	f(intp(0), c("exp", 1800000099.5), at(99*time.Second+time.Second/2), "expired")
	f(nil, c("exp", nil), t0, "malformed")
	f(nil, c("exp", "1800000100"), t0, "malformed")
	f(nil, c("exp", true), t0, "malformed")
	f(nil, c("exp", 1e300), t0, "ok")
	f(nil, c("exp", -1e300), t0, "expired")

	// nbf: valid once now >= nbf - leeway.
	f(nil, c("nbf", nbf), t0, "ok")
	f(nil, c("nbf", t0.Unix()+30), t0, "ok")
	f(nil, c("nbf", t0.Unix()+31), t0, "not_yet_valid")
	f(intp(0), c("nbf", t0.Unix()), t0, "ok")
	f(intp(0), c("nbf", t0.Unix()+1), t0, "not_yet_valid")
	f(intp(0), c("nbf", t0.Unix()+1), at(time.Second), "ok")
	f(nil, c("nbf", "soon"), t0, "malformed")

	// iat: may not lie in the future beyond the leeway.
	f(nil, c("iat", iat), t0, "ok")
	f(nil, c("iat", t0.Unix()+30), t0, "ok")
	f(nil, c("iat", t0.Unix()+31), t0, "not_yet_valid")
	f(intp(0), c("iat", t0.Unix()+1), t0, "not_yet_valid")
	f(intp(5), c("iat", t0.Unix()+5), t0, "ok")
	f(nil, c("iat", []int{1}), t0, "malformed")
}

func TestIssuerAudience(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	f := func(issuer string, audiences []string, claims map[string]any, want string) {
		t.Helper()
		p := k.policy()
		p.Issuer, p.Audiences = issuer, audiences
		v := newVerifier(t, p, Options{})
		c := map[string]any{"exp": t0.Unix() + 60}
		for n, x := range claims {
			c[n] = x
		}
		if got := reasonOf(v.Verify(bearer(k.mint(t, c)), t0)); got != want {
			t.Errorf("issuer %q audiences %q claims %v: Verify = %s; want %s", issuer, audiences, claims, got, want)
		}
	}
	iss := "https://issuer.test"
	f(iss, nil, map[string]any{"iss": iss}, "ok")
	f(iss, nil, map[string]any{"iss": iss + "/"}, "bad_issuer")
	f(iss, nil, map[string]any{}, "bad_issuer")
	f(iss, nil, map[string]any{"iss": 7}, "bad_issuer")
	f("", nil, map[string]any{"iss": "anyone"}, "ok")
	f("", nil, map[string]any{}, "ok")

	aud := []string{"api", "admin"}
	f("", aud, map[string]any{"aud": "api"}, "ok")
	f("", aud, map[string]any{"aud": "admin"}, "ok")
	f("", aud, map[string]any{"aud": "API"}, "bad_audience")
	f("", aud, map[string]any{"aud": []string{"other", "admin"}}, "ok")
	f("", aud, map[string]any{"aud": []string{"other"}}, "bad_audience")
	f("", aud, map[string]any{"aud": []string{}}, "bad_audience")
	f("", aud, map[string]any{"aud": 1}, "bad_audience")
	f("", aud, map[string]any{"aud": []any{1, "api"}}, "bad_audience")
	f("", aud, map[string]any{}, "bad_audience")
	f("", nil, map[string]any{}, "ok")
	f("", nil, map[string]any{"aud": "whatever"}, "ok")
}

func TestScopes(t *testing.T) {
	k := newTestKey(t, "ES256", 0)
	p := k.policy()
	p.RequiredScopes = []string{"read", "write"}
	v := newVerifier(t, p, Options{})
	f := func(claims map[string]any, want string) {
		t.Helper()
		c := goodClaims()
		delete(c, "scope")
		for n, x := range claims {
			c[n] = x
		}
		id, e := v.Verify(bearer(k.mint(t, c)), t0)
		if got := reasonOf(id, e); got != want {
			t.Errorf("claims %v: Verify = %s; want %s", claims, got, want)
		}
		if want == "missing_scope" && e != nil {
			if e.Status != 403 || e.Code != "insufficient_scope" ||
				e.WWWAuthenticate != `Bearer realm="fluxgate", error="insufficient_scope", error_description="missing required scope", scope="read write"` {
				t.Errorf("claims %v: error = %+v", claims, e)
			}
		}
	}
	f(map[string]any{"scope": "read write"}, "ok")
	f(map[string]any{"scope": "write  admin read"}, "ok")
	f(map[string]any{"scope": "read"}, "missing_scope")
	f(map[string]any{"scope": "readwrite"}, "missing_scope")
	f(map[string]any{"scope": []string{"read", "write"}}, "missing_scope") // scope must be a string
	f(map[string]any{"scp": []string{"read", "write"}}, "ok")
	f(map[string]any{"scp": []string{"write"}}, "missing_scope")
	f(map[string]any{"scp": "read write"}, "ok")
	f(map[string]any{"scp": "read"}, "missing_scope")
	f(map[string]any{"scp": 3}, "missing_scope")
	f(map[string]any{"scope": "read", "scp": []string{"write"}}, "ok")
	f(map[string]any{}, "missing_scope")
	// Invalid tokens are 401 before scopes are looked at.
	f(map[string]any{"exp": t0.Unix() - 3600}, "expired")
}

func TestBearerParsing(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	v := newVerifier(t, k.policy(), Options{})
	tok := k.mint(t, nil)
	f := func(auth, want string) {
		t.Helper()
		if got := reasonOf(v.Verify([]byte(auth), t0)); got != want {
			t.Errorf("Verify(%.40q) = %s; want %s", auth, got, want)
		}
	}
	f("", "missing_token")
	f("   ", "missing_token")
	f("Basic dXNlcjpwYXNz", "missing_token")
	f("Bear", "missing_token")
	f("Bearertoken", "missing_token")
	f("Token "+tok, "missing_token")
	f("Bearer", "malformed")
	f("Bearer ", "malformed")
	f("Bearer "+tok, "ok")
	f("bearer "+tok, "ok")
	f("BEARER "+tok, "ok")
	f("Bearer   "+tok, "ok")
	f("Bearer\t"+tok, "ok")
	f(" Bearer "+tok+" ", "ok")
	f("Bearer "+tok+"x", "bad_signature")
	f("Bearer "+tok+" x", "malformed")
	f("Bearer "+tok+"=", "malformed")
	f("Bearer "+tok+".", "malformed")
	f("Bearer "+strings.Replace(tok, ".", "", 1), "malformed")
	f("Bearer a.b", "malformed")
	f("Bearer a.b.c.d", "malformed")
	f("Bearer ..", "malformed")
	f("Bearer a.b.c", "malformed")
	f("Bearer eyJ!.e.c", "malformed")
	f("Bearer "+b64([]byte("not json"))+"."+b64([]byte("{}"))+".AAAA", "malformed")
	f("Bearer "+b64([]byte(`{"alg":"HS256"}`))+"."+b64([]byte("not json"))+".AAAA", "bad_signature")
	f("Bearer "+b64([]byte(`{"alg":"HS256"}`))+".@@@.AAAA", "malformed")
	f("Bearer eyJhbGciOiJIUzI1NiJ9.eyJ.AAA", "malformed")                               // "eyJ" has unused bits set
	f("Bearer eyJhbGciOiJIUzI1NiJ9.eyI.AAA", "bad_signature")                           // claims are checked after the signature
	f("Bearer "+b64([]byte(`{"alg":"HS256"}`))+"."+b64([]byte(`{}`))+".A", "malformed") // 1 char of base64
	f("Bearer "+b64([]byte(`["alg","HS256"]`))+"."+b64([]byte(`{}`))+".AAAA", "malformed")
	f("Bearer "+b64([]byte(`null`))+"."+b64([]byte(`{}`))+".AAAA", "malformed")
	f("Bearer "+strings.Repeat("eyJh", 25<<10)+".e.e", "malformed") // 100 KiB
	f("Bearer "+strings.Repeat("a", maxTokenBytes-4)+".b.c", "malformed")
	// Unused bits set in a segment's last character: another spelling of
	// the same bytes, refused.
	// HS256: 32 bytes = 43 characters, the last with 2 unused bits.
	parts := strings.Split(tok, ".")
	f("Bearer "+parts[0]+"."+parts[1]+"."+parts[2][:len(parts[2])-1]+string(rune(parts[2][len(parts[2])-1]+1)), "malformed")

	// Claims that do not decode after a good signature.
	for _, claims := range []string{`not json`, `null`, `[]`, `"x"`, `{"exp":1800003600,`} {
		tok := mintRaw(t, k.signer, `{"alg":"HS256"}`, claims)
		f("Bearer "+tok, "malformed")
	}
	for _, hdr := range []string{`{"alg":"HS256","crit":["exp"]}`, `{"alg":"HS256","kid":7}`, `{"alg":["HS256"]}`, `{"alg":"HS256"`} {
		tok := mintRaw(t, k.signer, hdr, `{"iss":"https://issuer.test","aud":"api","exp":1800003600}`)
		f("Bearer "+tok, "malformed")
	}
	f("Bearer "+mintRaw(t, k.signer, `{"alg":"HS256"}`, `{"iss":"https://issuer.test","aud":"api","exp":1800003600,"sub":5}`), "malformed")
}

func TestErrorShapes(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	v := newVerifier(t, k.policy(), Options{})
	_, e := v.Verify(nil, t0)
	if e.Status != 401 || e.Code != "missing_token" || e.Reason != "missing_token" || e.WWWAuthenticate != `Bearer realm="fluxgate"` {
		t.Errorf("missing: %+v", e)
	}
	c := goodClaims()
	c["exp"] = t0.Unix() - 3600
	_, e = v.Verify(bearer(k.mint(t, c)), t0)
	if e.Status != 401 || e.Code != "invalid_token" || e.Reason != "expired" ||
		e.WWWAuthenticate != `Bearer realm="fluxgate", error="invalid_token", error_description="token expired"` {
		t.Errorf("expired: %+v", e)
	}
	if e.Error() != "auth: expired: token expired" {
		t.Errorf("Error() = %q", e.Error())
	}
	// Every problem has a fixed reason from the documented set and a
	// description that can be quoted as it is.
	reasons := "missing_token malformed bad_algorithm bad_signature expired not_yet_valid bad_issuer bad_audience missing_scope unknown_kid"
	for p := probMissing; p < numProblems; p++ {
		e := v.errs[p]
		if !strings.Contains(" "+reasons+" ", " "+e.Reason+" ") || strings.ContainsAny(e.Description, `"\`) || e.Description == "" {
			t.Errorf("problem %d: %+v", p, e)
		}
	}
}

func TestKeyID(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	p := k.policy()
	p.KeyID = "k1"
	v := newVerifier(t, p, Options{})
	f := func(tok, want string) {
		t.Helper()
		if got := reasonOf(v.Verify(bearer(tok), t0)); got != want {
			t.Errorf("Verify = %s; want %s", got, want)
		}
	}
	f(k.mint(t, nil, "kid", "k1"), "ok")
	f(k.mint(t, nil), "ok")
	f(k.mint(t, nil, "kid", "k2"), "unknown_kid")
	// Without a policy key_id, any kid is accepted with the static key.
	v = newVerifier(t, k.policy(), Options{})
	if got := reasonOf(v.Verify(bearer(k.mint(t, nil, "kid", "anything")), t0)); got != "ok" {
		t.Errorf("no key_id: Verify = %s; want ok", got)
	}
}

func TestCache(t *testing.T) {
	k := newTestKey(t, "RS256", 0)
	v := newVerifier(t, k.policy(), Options{})
	tok := k.mint(t, nil)
	id1, e1 := v.Verify(bearer(tok), t0)
	id2, e2 := v.Verify([]byte("bearer  "+tok), t0.Add(time.Minute))
	if e1 != nil || e2 != nil || id1 != id2 {
		t.Fatalf("second Verify = %p, %v; want the cached %p", id2, e2, id1)
	}
	if v.cache.len() != 1 {
		t.Errorf("cache len = %d; want 1", v.cache.len())
	}
	// Expiry is honoured on a hit, and the entry goes.
	exp := t0.Add(time.Hour + 30*time.Second)
	if got := reasonOf(v.Verify(bearer(tok), exp.Add(-time.Nanosecond))); got != "ok" {
		t.Errorf("hit just before exp+leeway: %s", got)
	}
	if got := reasonOf(v.Verify(bearer(tok), exp)); got != "expired" {
		t.Errorf("hit at exp+leeway: %s; want expired", got)
	}
	if v.cache.len() != 0 {
		t.Errorf("cache len after expiry = %d; want 0", v.cache.len())
	}
	// nbf is re-checked on a hit too (a clock that goes back).
	c := goodClaims()
	c["nbf"] = t0.Unix()
	tok = k.mint(t, c)
	if got := reasonOf(v.Verify(bearer(tok), t0)); got != "ok" {
		t.Fatalf("nbf token: %s", got)
	}
	if got := reasonOf(v.Verify(bearer(tok), t0.Add(-31*time.Second))); got != "not_yet_valid" {
		t.Errorf("hit before nbf-leeway: %s; want not_yet_valid", got)
	}
	// A token that differs in its last character is not served from the
	// entry of its neighbour, nor accepted as another spelling.
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		alt := tok[:len(tok)-1] + string(c)
		if alt == tok {
			continue
		}
		if got := reasonOf(v.Verify(bearer(alt), t0)); got == "ok" {
			t.Errorf("token with last character %q verified", c)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	v := newVerifier(t, k.policy(), Options{CacheSize: 64})
	for i := range 1000 {
		c := goodClaims()
		c["jti"] = i
		if got := reasonOf(v.Verify(bearer(k.mint(t, c)), t0)); got != "ok" {
			t.Fatalf("token %d: %s", i, got)
		}
	}
	if n := v.cache.len(); n > 64 || n < 32 {
		t.Errorf("cache len = %d; want in [32, 64]", n)
	}
	// Expired entries are the preferred victims.
	for i := range 64 {
		c := goodClaims()
		c["jti"], c["exp"] = 5000+i, t0.Unix()+1
		v.Verify(bearer(k.mint(t, c)), t0)
	}
	fresh := k.mint(t, nil)
	later := t0.Add(time.Minute) // the 64 short tokens have expired
	id, _ := v.Verify(bearer(fresh), later)
	if id2, _ := v.Verify(bearer(fresh), later); id2 != id || id == nil {
		t.Errorf("fresh token not cached")
	}
}

func TestClaimForms(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	v := newVerifier(t, k.policy(), Options{})
	tok := mintRaw(t, k.signer, `{"alg":"HS256"}`, `{"iss":"https://issuer.test","aud":["api","x"],"exp":1800003600,
		"sub":"u1","n":42,"f":1.5,"t":true,"z":null,"roles":["a","b",3,null,["c"]],"o":{ "k" : [1, 2] },"s":"a\u00e9\nb"}`)
	id, e := v.Verify(bearer(tok), t0)
	if e != nil {
		t.Fatal(e)
	}
	f := func(name, want string, wantOK bool) {
		t.Helper()
		if got, ok := id.Claim(name); got != want || ok != wantOK {
			t.Errorf("Claim(%q) = %q, %v; want %q, %v", name, got, ok, want, wantOK)
		}
	}
	f("sub", "u1", true)
	f("aud", "api x", true)
	f("n", "42", true)
	f("f", "1.5", true)
	f("t", "true", true)
	f("z", "", false)
	f("missing", "", false)
	f("roles", "a b 3 c", true)
	f("o", `{"k":[1,2]}`, true)
	f("s", "a\u00e9\nb", true)
	f("exp", "1800003600", true)
}
