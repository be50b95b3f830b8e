package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cristalhq/jwt/v5"
	"github.com/fluxgate/fluxgate/config"
)

const (
	// maxTokenBytes bounds the compact token; longer ones are malformed.
	maxTokenBytes = 16 << 10
	// defaultLeeway applies when the policy leaves LeewaySecs nil.
	defaultLeeway = 30 * time.Second
	// defaultHTTPTimeout bounds one JWKS fetch with the default client.
	defaultHTTPTimeout = 5 * time.Second
	// maxDateSecs clamps NumericDate values so that nanosecond arithmetic
	// cannot overflow (about the year 2242).
	maxDateSecs = 1 << 33
)

// Options tunes a Verifier. The zero value is ready to use.
type Options struct {
	// CacheSize is the number of verified tokens kept; 0 = 10000, negative
	// = no cache (every call verifies the signature).
	CacheSize int
	// HTTPClient fetches the JWKS; nil = a client with a 5 s timeout.
	HTTPClient *http.Client
	// OnJWKSError, if set, is called with the error of each failed
	// background JWKS refresh (the last good key set stays in use). It runs
	// on the refresher goroutine and must not block; the error never holds
	// key material. nil = failures are only retried.
	OnJWKSError func(err error)
	// FetchJWKS, when set, replaces the HTTP fetch of the key set (the
	// worker processes of a host share one cache through it, so N workers do
	// not multiply the load on the identity provider). nil = fetch directly.
	FetchJWKS FetchFunc
}

// Verifier validates bearer tokens for one policy. Safe for concurrent use.
type Verifier struct {
	alg       string
	keyID     string // static key: must equal a token's kid when both are set
	static    jwt.Verifier
	jwks      *JWKS // nil for a static key
	issuer    string
	audiences []string
	scopes    []string
	leeway    int64 // nanoseconds
	forward   []forwardClaim
	cache     *cache // nil = disabled
	errs      [numProblems]*Error

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// forwardClaim sends the string form of claim upstream as header.
type forwardClaim struct{ claim, header string }

// Identity is a verified token. Immutable and shared from the cache.
type Identity struct {
	// Subject is the sub claim ("" when absent).
	Subject string
	// Issuer is the iss claim ("" when absent).
	Issuer string
	// ExpiresAt is the exp claim.
	ExpiresAt time.Time

	claims map[string]string
	// Unix nanoseconds, leeway applied: valid while nbfLimit <= now,
	// iatLimit <= now and now < expLimit.
	expLimit, nbfLimit, iatLimit int64
}

// Claim returns the string form of a top-level claim: strings as they are,
// numbers as written in the token, booleans as true/false, arrays as their
// elements' string forms joined by one space, objects as compact JSON. A
// null claim is absent.
func (id *Identity) Claim(name string) (string, bool) {
	s, ok := id.claims[name]
	return s, ok
}

// New builds a verifier for p. It parses the key (the HS secret bytes, or a
// PEM public key for RS/PS/ES/EdDSA: PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC
// KEY" or an X.509 "CERTIFICATE"). No usable key (empty, wrong type or curve
// for the algorithm, bad PEM, RSA under 2048 bits, PEM data as an HS
// secret) is an error. With JWKSURL set, the key set is fetched once now (an
// error if no usable set can be had) and refreshed in the background until
// Close.
func New(p config.AuthPolicy, opts Options) (*Verifier, error) {
	if algFamily(p.Algorithm) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, p.Algorithm)
	}
	v := &Verifier{
		alg:       p.Algorithm,
		keyID:     p.KeyID,
		issuer:    p.Issuer,
		audiences: slices.Clone(p.Audiences),
		scopes:    slices.Clone(p.RequiredScopes),
		leeway:    int64(defaultLeeway),
		cache:     newCache(opts.CacheSize),
	}
	if p.LeewaySecs != nil {
		if *p.LeewaySecs < 0 || *p.LeewaySecs > 86400 {
			return nil, fmt.Errorf("%w: leeway_secs %d not in [0, 86400]", ErrPolicy, *p.LeewaySecs)
		}
		v.leeway = int64(*p.LeewaySecs) * int64(time.Second)
	}
	for _, s := range v.scopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("%w: required scope %q is not a valid scope token", ErrPolicy, s)
		}
	}
	if err := v.setForward(p.ForwardClaims); err != nil {
		return nil, err
	}
	v.errs = buildErrors(v.scopes)

	if p.JWKSURL == "" {
		sv, err := staticVerifier(p.Algorithm, p.Key)
		if err != nil {
			return nil, err
		}
		v.static = sv
		return v, nil
	}
	j, err := NewJWKS(p.JWKSURL, p.Algorithm, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	j.fetch = opts.FetchJWKS
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultHTTPTimeout)
	err = j.Refresh(ctx)
	cancel()
	if err != nil {
		return nil, err
	}
	j.onError = opts.OnJWKSError
	v.jwks = j
	ctx, v.stop = context.WithCancel(context.Background())
	v.done = make(chan struct{})
	go func() {
		defer close(v.done)
		_ = j.Run(ctx) // only returns once ctx is cancelled
	}()
	return v, nil
}

// Close stops the JWKS refresher and waits for it. Verify keeps working
// with the last key set. Safe to call more than once.
func (v *Verifier) Close() {
	v.stopOnce.Do(func() {
		if v.stop != nil {
			v.stop()
			<-v.done
		}
	})
}

// Verify checks the Authorization header value (the raw bytes, e.g.
// "Bearer eyJ..."; empty = missing) at time now. It returns the identity,
// or the failure to answer with; exactly one is non-nil. A cache hit does
// not allocate. With a JWKS, a token with an unknown kid may block for one
// key set fetch (see the package doc).
func (v *Verifier) Verify(authorization []byte, now time.Time) (*Identity, *Error) {
	token, p := bearerToken(authorization)
	if p != probNone {
		return nil, v.errs[p]
	}
	nowNS := now.UnixNano()
	var h uint64
	if v.cache != nil {
		h = v.cache.hash(token)
		if e := v.cache.get(h, token); e != nil {
			if p := timeProblem(e.id, nowNS); p != probNone {
				if p == probExpired {
					v.cache.drop(h, e)
				}
				return nil, v.errs[p]
			}
			if e.key == nil || v.jwks.Keys().lookup(e.kid, e.hasKID) == e.key {
				return e.id, nil
			}
			v.cache.drop(h, e) // its key left the set: verify afresh
		}
	}
	if !wellFormed(token) {
		return nil, v.errs[probMalformed]
	}
	id, key, kid, hasKID, p := v.verifyToken(token, now)
	if p != probNone {
		return nil, v.errs[p]
	}
	if v.cache != nil {
		v.cache.put(h, &entry{token: string(token), id: id, key: key, kid: kid, hasKID: hasKID}, nowNS)
	}
	return id, nil
}

// bearerToken extracts the token from an Authorization value; the problem
// is probNone when there is one. Its characters are checked by wellFormed,
// on a cache miss only: a hit equals a token that passed.
func bearerToken(auth []byte) ([]byte, problem) {
	auth = bytes.Trim(auth, " \t")
	if len(auth) == 0 {
		return nil, probMissing
	}
	const scheme = "Bearer"
	if len(auth) < len(scheme) || !strings.EqualFold(string(auth[:len(scheme)]), scheme) {
		return nil, probMissing // another scheme: no bearer token (RFC 6750 §3.1)
	}
	rest := auth[len(scheme):]
	if len(rest) == 0 {
		return nil, probMalformed
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return nil, probMissing // e.g. "BearerX ...": another scheme
	}
	token := bytes.TrimLeft(rest, " \t")
	switch {
	case len(token) == 0:
		return nil, probMalformed
	case len(token) > maxTokenBytes:
		return nil, probTooLarge
	}
	return token, probNone
}

// wellFormed reports whether token is three canonical base64url segments
// joined by dots, i.e. could be a compact JWS. Canonical means no unused
// bits set in a segment's last character, so that one token has exactly
// one spelling (the decoder alone would accept several).
func wellFormed(token []byte) bool {
	// Bitmaps of [A-Za-z0-9_-] for bytes 0-63 and 64-127.
	const lo uint64 = 0x03ff<<48 | 1<<45                  // '0'-'9', '-'
	const hi uint64 = 0x07fffffe<<32 | 1<<31 | 0x07fffffe // 'a'-'z', '_', 'A'-'Z'
	dots, start := 0, 0
	for i, c := range token {
		switch {
		case c < 64 && lo>>c&1 == 1, c >= 64 && c < 128 && hi>>(c-64)&1 == 1:
		case c == '.':
			if dots++; dots > 2 || !canonicalSegment(token[start:i]) {
				return false
			}
			start = i + 1
		default:
			return false
		}
	}
	return dots == 2 && canonicalSegment(token[start:])
}

// canonicalSegment reports whether the unused low bits of seg's last
// character are zero (seg holds base64url characters only).
func canonicalSegment(seg []byte) bool {
	var unused byte
	switch len(seg) % 4 {
	case 0:
		return true
	case 1:
		return false
	case 2:
		unused = 0x0f
	case 3:
		unused = 0x03
	}
	c := seg[len(seg)-1]
	var v byte
	switch {
	case c >= 'A' && c <= 'Z':
		v = c - 'A'
	case c >= 'a' && c <= 'z':
		v = c - 'a' + 26
	case c >= '0' && c <= '9':
		v = c - '0' + 52
	case c == '-':
		v = 62
	default: // '_'
		v = 63
	}
	return v&unused == 0
}

// timeProblem checks the validity window of id at now (Unix ns); probNone
// means valid.
func timeProblem(id *Identity, now int64) problem {
	switch {
	case now >= id.expLimit:
		return probExpired
	case now < id.nbfLimit:
		return probNotBefore
	case now < id.iatLimit:
		return probIssuedInFuture
	}
	return probNone
}

// verifyToken is the cold path: parse, pick the key, check the signature
// and the claims. probNone means valid.
func (v *Verifier) verifyToken(token []byte, now time.Time) (id *Identity, key *jwk, kid string, hasKID bool, p problem) {
	tk, err := jwt.ParseNoVerify(token)
	if err != nil {
		return nil, nil, "", false, probMalformed
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(headerJSON(tk), &hdr); err != nil || hdr == nil {
		return nil, nil, "", false, probMalformed
	}
	if _, ok := hdr["crit"]; ok {
		return nil, nil, "", false, probMalformed // no extension is understood
	}
	alg, ok := jsonString(hdr["alg"])
	if !ok {
		return nil, nil, "", false, probMalformed
	}
	if alg != v.alg {
		return nil, nil, "", false, probBadAlgorithm
	}
	if raw, ok := hdr["kid"]; ok {
		if kid, ok = jsonString(raw); !ok {
			return nil, nil, "", false, probMalformed
		}
		hasKID = true
	}

	sv := v.static
	if v.jwks != nil {
		key = v.jwks.Keys().lookup(kid, hasKID)
		if key == nil && v.jwks.refreshForUnknownKID(now) {
			key = v.jwks.Keys().lookup(kid, hasKID)
		}
		if key == nil {
			return nil, nil, "", false, probUnknownKID
		}
		sv = key.verifier
	} else if hasKID && v.keyID != "" && kid != v.keyID {
		return nil, nil, "", false, probUnknownKID
	}
	if err := sv.Verify(tk); err != nil {
		if err == jwt.ErrAlgorithmMismatch {
			return nil, nil, "", false, probBadAlgorithm
		}
		return nil, nil, "", false, probBadSignature
	}

	id, p = v.checkClaims(tk.Claims(), now.UnixNano())
	if p != probNone {
		return nil, nil, "", false, p
	}
	return id, key, kid, hasKID, probNone
}

// headerJSON returns the decoded JOSE header of a parsed token.
func headerJSON(tk *jwt.Token) []byte {
	b, err := base64URL(tk.HeaderPart())
	if err != nil {
		return nil
	}
	return b
}

// checkClaims validates the claims of a token whose signature is good and
// builds its identity. probNone means valid.
func (v *Verifier) checkClaims(raw []byte, now int64) (*Identity, problem) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, probMalformed
	}
	id := &Identity{nbfLimit: math.MinInt64, iatLimit: math.MinInt64}

	rawExp, ok := claims["exp"]
	if !ok {
		return nil, probNoExp
	}
	exp, ok := numericDate(rawExp)
	if !ok {
		return nil, probMalformed
	}
	id.ExpiresAt = time.Unix(0, exp).UTC()
	id.expLimit = exp + v.leeway
	if raw, ok := claims["nbf"]; ok {
		nbf, ok := numericDate(raw)
		if !ok {
			return nil, probMalformed
		}
		id.nbfLimit = nbf - v.leeway
	}
	if raw, ok := claims["iat"]; ok {
		iat, ok := numericDate(raw)
		if !ok {
			return nil, probMalformed
		}
		id.iatLimit = iat - v.leeway
	}
	if raw, ok := claims["sub"]; ok {
		if id.Subject, ok = jsonString(raw); !ok {
			return nil, probMalformed
		}
	}
	if raw, ok := claims["iss"]; ok {
		if id.Issuer, ok = jsonString(raw); !ok {
			return nil, probBadIssuer
		}
	}
	if v.issuer != "" && id.Issuer != v.issuer {
		return nil, probBadIssuer
	}
	if len(v.audiences) > 0 {
		raw, ok := claims["aud"]
		if !ok {
			return nil, probNoAudience
		}
		if !v.audienceOK(raw) {
			return nil, probBadAudience
		}
	}
	if p := timeProblem(id, now); p != 0 {
		return nil, p
	}
	if len(v.scopes) > 0 && !hasScopes(claims, v.scopes) {
		return nil, probMissingScope
	}

	id.claims = make(map[string]string, len(claims))
	for name, raw := range claims {
		if s, ok := claimString(raw); ok {
			id.claims[name] = s
		}
	}
	return id, probNone
}

// audienceOK reports whether aud (a string or an array of strings)
// contains one of the policy's audiences.
func (v *Verifier) audienceOK(raw json.RawMessage) bool {
	if s, ok := jsonString(raw); ok {
		return slices.Contains(v.audiences, s)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return false
	}
	for _, a := range list {
		if slices.Contains(v.audiences, a) {
			return true
		}
	}
	return false
}

// hasScopes reports whether every required scope is in the scope claim
// (space-separated string) or the scp claim (array, or space-separated
// string). A claim of another shape grants nothing.
func hasScopes(claims map[string]json.RawMessage, required []string) bool {
	var granted []string
	if s, ok := jsonString(claims["scope"]); ok {
		granted = append(granted, strings.Fields(s)...)
	}
	if raw, ok := claims["scp"]; ok {
		if s, ok := jsonString(raw); ok {
			granted = append(granted, strings.Fields(s)...)
		} else {
			var list []string
			if json.Unmarshal(raw, &list) == nil {
				granted = append(granted, list...)
			}
		}
	}
	for _, r := range required {
		if !slices.Contains(granted, r) {
			return false
		}
	}
	return true
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// numericDate decodes a JSON number of seconds since the epoch (fractions
// allowed) into Unix nanoseconds, clamped to ±maxDateSecs.
func numericDate(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	f = max(-maxDateSecs, min(maxDateSecs, f))
	sec := math.Floor(f)
	return int64(sec)*int64(time.Second) + int64((f-sec)*1e9), true
}

// claimString is the string form of a claim value (see Identity.Claim).
func claimString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case 'n':
		return "", false
	case '"':
		return jsonString(raw)
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", false
		}
		parts := make([]string, 0, len(elems))
		for _, e := range elems {
			if s, ok := claimString(e); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " "), true
	case '{':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return "", false
		}
		return b.String(), true
	}
	return string(raw), true // number, true, false
}

// validScopeToken reports whether s is an RFC 6749 scope-token, which can
// be quoted in a WWW-Authenticate header as it is.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
