package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// JWKS sharing. Workers do not fetch JSON Web Key Sets from the identity
// provider themselves: they ask the supervisor (ctl.KindJWKSRequest), which
// keeps one cached document per URL for the whole host. So N workers (and
// every generation) cost the identity provider one fetch per freshness
// period, plus at most one forced fetch per jwksForceFloor when tokens carry
// an unknown kid, whatever the number of workers and bad tokens.
const (
	// jwksForceFloor is the least time between two fetches of one URL.
	jwksForceFloor = 10 * time.Second
	// jwksDefaultMaxAge is the freshness of a document without max-age.
	jwksDefaultMaxAge = 5 * time.Minute
	// jwksStaleMaxAge is the freshness reported for the last good document
	// while the identity provider fails, so workers ask again soon.
	jwksStaleMaxAge = 30 * time.Second
	// jwksFetchTimeout bounds one fetch.
	jwksFetchTimeout = 5 * time.Second
	// jwksMaxBytes bounds a key set document.
	jwksMaxBytes = 1 << 20
)

// errJWKSStatus means the identity provider answered with another status
// than 200.
var errJWKSStatus = errors.New("supervisor: jwks fetch: unexpected status")

// jwksCache is the host's key set cache. Safe for concurrent use: get is
// called from one goroutine per worker request, never from the loop.
type jwksCache struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry

	fetchesOK, fetchesErr atomic.Uint64
}

// jwksEntry is one URL's document; its mutex makes fetches single-flight.
type jwksEntry struct {
	mu      sync.Mutex
	doc     []byte
	maxAge  time.Duration
	fetched time.Time // of doc; zero when none yet
	tried   time.Time // last fetch attempt, successful or not
	forced  time.Time // last forced fetch (unknown kid)
}

func newJWKSCache() *jwksCache {
	return &jwksCache{
		client:  &http.Client{Timeout: jwksFetchTimeout},
		now:     time.Now,
		entries: map[string]*jwksEntry{},
	}
}

// get returns url's document and how long it stays fresh. A fresh cached
// copy is returned as is; a stale one is fetched anew (at most once per
// floor while fetches fail), and so is a forced request (an unknown kid),
// at most once per floor. When the fetch fails the last good copy is
// returned with a short freshness; without one, the error.
func (c *jwksCache) get(ctx context.Context, url string, force bool) ([]byte, time.Duration, error) {
	c.mu.Lock()
	e := c.entries[url]
	if e == nil {
		e = &jwksEntry{}
		c.entries[url] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	age := now.Sub(e.fetched)
	fresh := e.doc != nil && age < e.maxAge-e.maxAge/10
	recent := func(t time.Time) bool { return !t.IsZero() && now.Sub(t) < jwksForceFloor }
	switch {
	case fresh && !force:
		return e.doc, e.maxAge - age, nil
	case force && e.doc != nil && recent(e.forced):
		// Unknown kids: at most one forced fetch per floor.
		return e.doc, max(e.maxAge-age, time.Second), nil
	case !force && recent(e.tried) && e.doc != nil:
		// Stale, and the last attempt failed moments ago: don't hammer.
		return e.doc, jwksStaleMaxAge, nil
	case e.doc == nil && recent(e.tried):
		return nil, 0, fmt.Errorf("supervisor: jwks %s: last fetch failed less than %v ago", url, jwksForceFloor)
	}
	e.tried = now
	if force {
		e.forced = now
	}
	doc, maxAge, err := c.fetch(ctx, url)
	if err != nil {
		c.fetchesErr.Add(1)
		if e.doc != nil {
			return e.doc, jwksStaleMaxAge, nil
		}
		return nil, 0, err
	}
	c.fetchesOK.Add(1)
	e.doc, e.maxAge, e.fetched = doc, maxAge, now
	return doc, maxAge, nil
}

// fetch GETs url once.
func (c *jwksCache) fetch(ctx context.Context, url string) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("supervisor: jwks %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("supervisor: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w %d from %s", errJWKSStatus, resp.StatusCode, url)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("supervisor: jwks %s: %w", url, err)
	}
	if len(doc) > jwksMaxBytes {
		return nil, 0, fmt.Errorf("supervisor: jwks %s: document larger than %d bytes", url, jwksMaxBytes)
	}
	return doc, maxAgeOf(resp.Header.Get("Cache-Control")), nil
}

// maxAgeOf reads max-age from a Cache-Control value; default when absent.
func maxAgeOf(cc string) time.Duration {
	for part := range strings.SplitSeq(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(part)), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return jwksDefaultMaxAge
}
