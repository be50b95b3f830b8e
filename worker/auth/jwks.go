package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cristalhq/jwt/v5"
)

const (
	// defaultMaxAge is how long a key set is fresh when the response has no
	// Cache-Control max-age.
	defaultMaxAge = 5 * time.Minute
	// minMaxAge and maxMaxAge clamp the max-age a server sends.
	minMaxAge = 30 * time.Second
	maxMaxAge = 24 * time.Hour
	// unknownKIDFloor is the least time between two fetches triggered by
	// tokens with an unknown kid.
	unknownKIDFloor = 10 * time.Second
	// retryMin is the first retry delay after a failed background refresh;
	// it doubles up to the set's max-age.
	retryMin = 10 * time.Second
	// maxJWKSBytes bounds a key set document.
	maxJWKSBytes = 1 << 20
)

// JWKS is a JSON Web Key Set fetched from a URL and kept fresh. It can be
// driven by a Verifier (New starts Run) or from elsewhere: Refresh fetches
// now, Load installs a document obtained by other means (e.g. from a
// host-wide fetcher shared by worker processes). Safe for concurrent use.
// A failed fetch or an unusable document never replaces the current set.
type JWKS struct {
	url    string
	alg    string
	client *http.Client

	keys        atomic.Pointer[KeySet]
	fetchMu     sync.Mutex   // serialises fetches and loads
	lastUnknown atomic.Int64 // Unix ns of the last unknown-kid refresh

	// after is time.After; tests replace it before Run starts.
	after func(time.Duration) <-chan time.Time
	// onError, if set before Run starts, gets each failed refresh of Run.
	onError func(error)
	// fetch, if set before the first Refresh, replaces the HTTP fetch (a
	// host-wide cache shared by the worker processes).
	fetch FetchFunc
}

// FetchFunc returns the key set document at url and how long it is fresh,
// as an HTTP fetch would; force asks for a copy fetched now rather than a
// cached one (a token carried an unknown kid). It is called from request
// goroutines and the refresher, concurrently.
type FetchFunc func(ctx context.Context, url string, force bool) (doc []byte, maxAge time.Duration, err error)

// KeySet is one immutable generation of keys usable for the algorithm.
type KeySet struct {
	byKID  map[string]*jwk
	only   *jwk // the key, when the set holds exactly one
	maxAge time.Duration
}

// jwk is one usable public key; its pointer identity marks the key across
// refreshes (an unchanged key keeps its pointer).
type jwk struct {
	pub      crypto.PublicKey
	verifier jwt.Verifier
}

// Len reports the number of usable keys.
func (s *KeySet) Len() int { return len(s.byKID) }

// MaxAge reports how long the set is fresh after it was fetched.
func (s *KeySet) MaxAge() time.Duration { return s.maxAge }

// lookup returns the key for a token's kid. A token without kid gets the
// key without kid, else the only key.
func (s *KeySet) lookup(kid string, hasKID bool) *jwk {
	if hasKID {
		return s.byKID[kid]
	}
	if k := s.byKID[""]; k != nil {
		return k
	}
	return s.only
}

// NewJWKS returns a fetcher of url's keys for algorithm. It does not fetch;
// Keys is empty until Refresh or Load succeeds. A nil client means one
// with a 5 s timeout.
func NewJWKS(url, algorithm string, client *http.Client) (*JWKS, error) {
	switch f := algFamily(algorithm); f {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, algorithm)
	case famHMAC:
		return nil, fmt.Errorf("%w: a JWKS cannot serve %s secrets", ErrKeyType, algorithm)
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("%w: jwks_url must be http:// or https://", ErrPolicy)
	}
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	j := &JWKS{url: url, alg: algorithm, client: client, after: time.After}
	j.keys.Store(&KeySet{byKID: map[string]*jwk{}, maxAge: defaultMaxAge})
	return j, nil
}

// Keys returns the current key set; never nil.
func (j *JWKS) Keys() *KeySet { return j.keys.Load() }

// Refresh fetches the key set now and installs it if it holds a usable key.
// On error the current set stays. Fetches are serialised, so an older
// document never replaces a newer one.
func (j *JWKS) Refresh(ctx context.Context) error { return j.refresh(ctx, false) }

// refresh is Refresh; force is passed to a FetchFunc.
func (j *JWKS) refresh(ctx context.Context, force bool) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	if j.fetch != nil {
		doc, maxAge, err := j.fetch(ctx, j.url, force)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrJWKS, err)
		}
		return j.loadLocked(doc, maxAge)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP status %d", ErrJWKS, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading body: %v", ErrJWKS, err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("%w: document larger than %d bytes", ErrJWKS, maxJWKSBytes)
	}
	return j.loadLocked(body, cacheMaxAge(resp.Header.Get("Cache-Control")))
}

// Load installs the key set document doc ({"keys": [...]}), fresh for
// maxAge (clamped to [30 s, 24 h]; 0 = 5 min). Keys of another type,
// curve or algorithm, with a use other than "sig", or that do not parse
// are skipped; a document without a usable key is an error and changes
// nothing.
func (j *JWKS) Load(doc []byte, maxAge time.Duration) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	return j.loadLocked(doc, maxAge)
}

// loadLocked is Load with fetchMu held.
func (j *JWKS) loadLocked(doc []byte, maxAge time.Duration) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return fmt.Errorf("%w: document is not a JSON key set", ErrJWKS)
	}
	if maxAge == 0 {
		maxAge = defaultMaxAge
	}
	maxAge = min(maxMaxAge, max(minMaxAge, maxAge))

	prev := j.Keys()
	next := &KeySet{byKID: make(map[string]*jwk, len(set.Keys)), maxAge: maxAge}
	for _, raw := range set.Keys {
		kid, pub, ok := parseJWK(raw, j.alg)
		if !ok {
			continue
		}
		if _, dup := next.byKID[kid]; dup {
			continue // the first key with a kid wins
		}
		if old := prev.byKID[kid]; old != nil && old.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			next.byKID[kid] = old // unchanged key: cached tokens stay valid
			continue
		}
		v, err := publicVerifier(j.alg, pub)
		if err != nil {
			continue
		}
		next.byKID[kid] = &jwk{pub: pub, verifier: v}
	}
	if len(next.byKID) == 0 {
		return fmt.Errorf("%w: no usable %s key in the set", ErrJWKS, j.alg)
	}
	if len(next.byKID) == 1 {
		for _, k := range next.byKID {
			next.only = k
		}
	}
	j.keys.Store(next)
	return nil
}

// Run refreshes the key set shortly before its max-age runs out until ctx
// is done, then returns ctx.Err(). After a failure it retries after 10 s,
// doubling up to the max-age, and keeps the last good set meanwhile.
func (j *JWKS) Run(ctx context.Context) error {
	delay, retry := refreshDelay(j.Keys().maxAge), retryMin
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.after(delay):
		}
		if err := j.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if j.onError != nil {
				j.onError(err)
			}
			delay, retry = retry, min(2*retry, j.Keys().maxAge)
			continue
		}
		delay, retry = refreshDelay(j.Keys().maxAge), retryMin
	}
}

// refreshForUnknownKID fetches the set for a token whose kid is unknown,
// unless such a fetch started less than 10 s before now. It blocks the
// caller for at most the fetch (5 s timeout) and reports whether the set
// was refreshed.
func (j *JWKS) refreshForUnknownKID(now time.Time) bool {
	n := now.UnixNano()
	last := j.lastUnknown.Load()
	if n-last < int64(unknownKIDFloor) || !j.lastUnknown.CompareAndSwap(last, n) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultHTTPTimeout)
	defer cancel()
	return j.refresh(ctx, true) == nil
}

// refreshDelay is when to refresh a set fresh for maxAge: at 90 % of it.
func refreshDelay(maxAge time.Duration) time.Duration { return maxAge - maxAge/10 }

// cacheMaxAge reads max-age from a Cache-Control value; 0 when absent,
// the minimum for no-cache or no-store.
func cacheMaxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-cache" || d == "no-store":
			return minMaxAge
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
			if err == nil && n >= 0 {
				return time.Duration(min(n, int64(maxMaxAge/time.Second))) * time.Second
			}
		}
	}
	return 0
}

// parseJWK decodes one JWK usable with alg; ok is false for any other.
func parseJWK(raw json.RawMessage, alg string) (kid string, pub crypto.PublicKey, ok bool) {
	var k struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Crv string `json:"crv"`
		N   string `json:"n"`
		E   string `json:"e"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	if json.Unmarshal(raw, &k) != nil || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != alg) {
		return "", nil, false
	}
	switch algFamily(alg) {
	case famRSA:
		if k.Kty != "RSA" {
			return "", nil, false
		}
		n, err1 := base64URL([]byte(k.N))
		e, err2 := base64URL([]byte(k.E))
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return "", nil, false
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return "", nil, false
		}
		return k.Kid, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, true
	case famEC:
		curve := ecCurve(alg)
		if k.Kty != "EC" || k.Crv != curve.Params().Name {
			return "", nil, false
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64URL([]byte(k.X))
		y, err2 := base64URL([]byte(k.Y))
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return "", nil, false
		}
		point := append(append([]byte{4}, x...), y...)
		p, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return "", nil, false
		}
		return k.Kid, p, true
	case famEd25519:
		x, err := base64URL([]byte(k.X))
		if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return "", nil, false
		}
		return k.Kid, ed25519.PublicKey(x), true
	}
	return "", nil, false
}

// base64URL decodes unpadded (or padded) base64url.
func base64URL(b []byte) ([]byte, error) {
	s := strings.TrimRight(string(b), "=")
	return base64.RawURLEncoding.DecodeString(s)
}
