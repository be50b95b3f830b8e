package auth

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestApplyClaims(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	p := k.policy()
	p.ForwardClaims = map[string]string{"sub": "X-User", "roles": "x-roles", "tenant": "X-Tenant", "evil": "X-Evil", "n": "X-N"}
	v := newVerifier(t, p, Options{})
	c := goodClaims()
	c["roles"] = []string{"admin", "ops"}
	c["evil"] = "a\r\nX-Injected: 1"
	c["n"] = 7
	id, e := v.Verify(bearer(k.mint(t, c)), t0)
	if e != nil {
		t.Fatal(e)
	}
	forged := func() *fasthttp.RequestHeader {
		var h fasthttp.RequestHeader
		h.Set("X-User", "root")
		h.Add("x-user", "root2")
		h.Set("X-Roles", "superuser")
		h.Set("X-Tenant", "other")
		h.Set("X-Evil", "forged")
		h.Set("X-Other", "kept")
		return &h
	}
	f := func(h *fasthttp.RequestHeader, name, want string) {
		t.Helper()
		var got []string
		for _, b := range h.PeekAll(name) {
			got = append(got, string(b))
		}
		if (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("header %s = %q; want %q", name, got, want)
		}
	}

	h := forged()
	v.ApplyClaims(h, id)
	f(h, "X-User", "user-1")
	f(h, "X-Roles", "admin ops")
	f(h, "X-Tenant", "") // claim absent: the forged copy is gone
	f(h, "X-Evil", "")   // control characters: not forwarded
	f(h, "X-N", "7")
	f(h, "X-Other", "kept")

	h = forged()
	v.ApplyClaims(h, nil)
	for _, n := range []string{"X-User", "X-Roles", "X-Tenant", "X-Evil", "X-N"} {
		f(h, n, "")
	}
	f(h, "X-Other", "kept")
}
