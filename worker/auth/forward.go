package auth

import (
	"cmp"
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// setForward validates forward_claims and stores it sorted by header.
func (v *Verifier) setForward(m map[string]string) error {
	seen := make(map[string]bool, len(m))
	for claim, header := range m {
		if claim == "" {
			return fmt.Errorf("%w: forward_claims: empty claim name", ErrPolicy)
		}
		if !validHeaderName(header) {
			return fmt.Errorf("%w: forward_claims.%s: %q is not a valid header name", ErrPolicy, claim, header)
		}
		canon := textproto.CanonicalMIMEHeaderKey(header)
		if reservedHeader(canon) {
			return fmt.Errorf("%w: forward_claims.%s: header %q is managed by the gateway", ErrPolicy, claim, header)
		}
		if seen[canon] {
			return fmt.Errorf("%w: forward_claims: header %q used twice", ErrPolicy, header)
		}
		seen[canon] = true
		v.forward = append(v.forward, forwardClaim{claim: claim, header: canon})
	}
	slices.SortFunc(v.forward, func(a, b forwardClaim) int { return cmp.Compare(a.header, b.header) })
	return nil
}

// ApplyClaims removes every configured forward_claims header from h, then
// sets those whose claim id carries. Call it for every request forwarded on
// the route, so that copies sent by the client cannot pass as verified
// claims. id must come from this Verifier; nil only removes. A claim whose
// string form holds a control character is not forwarded.
func (v *Verifier) ApplyClaims(h *fasthttp.RequestHeader, id *Identity) {
	for _, f := range v.forward {
		h.Del(f.header)
		if id == nil {
			continue
		}
		if s, ok := id.claims[f.claim]; ok && safeHeaderValue(s) {
			h.Set(f.header, s)
		}
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// reservedHeader reports whether a canonical header name carries framing,
// hop-by-hop or credential semantics that claims must not overwrite.
func reservedHeader(canon string) bool {
	switch canon {
	case "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
		"Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Authorization",
		"Proxy-Authenticate", "Authorization", "Cookie", "Forwarded",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id":
		return true
	}
	return false
}

// safeHeaderValue reports whether s can be sent as a header value as it is:
// no control characters (CR and LF included) other than tab.
func safeHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
