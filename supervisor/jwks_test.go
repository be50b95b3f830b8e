package supervisor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestJWKSCache drives the host cache with an explicit clock against a real
// HTTP server that counts fetches.
func TestJWKSCache(t *testing.T) {
	var hits atomic.Int64
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=100")
		w.Write([]byte(`{"keys":[],"n":` + string(rune('0'+n)) + `}`))
	}))
	defer srv.Close()

	c := newJWKSCache()
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	get := func(force bool) (string, time.Duration, error) {
		doc, age, err := c.get(context.Background(), srv.URL, force)
		return string(doc), age, err
	}
	step := func(name string, force bool, wantDoc string, wantHits int64) time.Duration {
		t.Helper()
		doc, age, err := get(force)
		if err != nil || doc != wantDoc || hits.Load() != wantHits {
			t.Fatalf("%s: doc %q, err %v, hits %d; want %q, nil, %d", name, doc, err, hits.Load(), wantDoc, wantHits)
		}
		return age
	}
	first := `{"keys":[],"n":1}`
	if age := step("first", false, first, 1); age != 100*time.Second {
		t.Errorf("first: maxAge %v; want 100s from Cache-Control", age)
	}
	now = now.Add(50 * time.Second)
	if age := step("fresh", false, first, 1); age != 50*time.Second {
		t.Errorf("fresh: maxAge %v; want the 50s left", age)
	}
	step("forced (key rotation)", true, `{"keys":[],"n":2}`, 2)
	now = now.Add(5 * time.Second)
	step("forced within the floor", true, `{"keys":[],"n":2}`, 2)
	now = now.Add(jwksForceFloor)
	step("forced after the floor", true, `{"keys":[],"n":3}`, 3)
	now = now.Add(95 * time.Second) // stale (past 90 % of max-age)
	down.Store(true)
	if age := step("stale, provider down: last good", false, `{"keys":[],"n":3}`, 4); age != jwksStaleMaxAge {
		t.Errorf("last good copy: maxAge %v; want %v", age, jwksStaleMaxAge)
	}
	step("stale, failed moments ago: no new fetch", false, `{"keys":[],"n":3}`, 4)
	if c.fetchesOK.Load() != 3 || c.fetchesErr.Load() != 1 {
		t.Errorf("fetches ok %d, error %d; want 3, 1", c.fetchesOK.Load(), c.fetchesErr.Load())
	}

	// Many concurrent first requests for a new URL: one fetch.
	down.Store(false)
	c2 := newJWKSCache()
	before := hits.Load()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := c2.get(context.Background(), srv.URL+"/other", false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := hits.Load() - before; n != 1 {
		t.Errorf("20 concurrent requests made %d fetches; want 1", n)
	}
}
