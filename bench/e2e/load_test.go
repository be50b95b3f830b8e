package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Load is a keep-alive HTTP load generator: conns goroutines, each with
// its own connection slot in one transport, looping GET on a URL.
type Load struct {
	url    string
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	tr     *http.Transport

	requests, failures, resets, replays, dials atomic.Int64

	mu      sync.Mutex
	errs    []string // first few failures
	samples [][]sample
}

// sample is one request: when it started (since Load start) and how long it took.
type sample struct {
	at, took time.Duration
}

// LoadResult summarises a load run.
type LoadResult struct {
	Requests, Failures int64
	// Resets counts ECONNRESET/EPIPE seen on any client connection.
	Resets int64
	// Replays counts requests the transport sent on a second connection
	// because the first broke (idempotent retries hidden from the caller).
	Replays int64
	// Dials counts connections opened.
	Dials   int64
	Errors  []string
	samples []sample
}

// StartLoad starts conns workers hammering url.
func StartLoad(url string, conns int) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{url: url, start: time.Now(), cancel: cancel, samples: make([][]sample, conns)}
	d := &net.Dialer{Timeout: 5 * time.Second}
	l.tr = &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			l.dials.Add(1)
			return &countingConn{Conn: c, l: l}, nil
		},
	}
	client := &http.Client{Transport: l.tr, Timeout: 15 * time.Second}
	for i := range conns {
		l.wg.Go(func() { l.run(ctx, client, i) })
	}
	return l
}

func (l *Load) run(ctx context.Context, client *http.Client, i int) {
	var mine []sample
	defer func() {
		l.mu.Lock()
		l.samples[i] = mine
		l.mu.Unlock()
	}()
	for ctx.Err() == nil {
		gotConns := 0
		trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConns++ }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, l.url, nil)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		took := time.Since(t0)
		l.requests.Add(1)
		if gotConns > 1 {
			l.replays.Add(int64(gotConns - 1))
		}
		if err != nil {
			l.failures.Add(1)
			l.mu.Lock()
			if len(l.errs) < 10 {
				l.errs = append(l.errs, fmt.Sprintf("%v: %v", time.Since(l.start).Round(time.Millisecond), err))
			}
			l.mu.Unlock()
			continue
		}
		mine = append(mine, sample{at: t0.Sub(l.start), took: took})
	}
}

// Requests is the number of requests so far.
func (l *Load) Requests() int64 { return l.requests.Load() }

// Since is the time since the load started (for sample windows).
func (l *Load) Since() time.Duration { return time.Since(l.start) }

// Stop ends the load, waits for in-flight requests and returns the result.
func (l *Load) Stop() LoadResult {
	l.cancel()
	l.wg.Wait()
	l.tr.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := LoadResult{
		Requests: l.requests.Load(), Failures: l.failures.Load(), Resets: l.resets.Load(),
		Replays: l.replays.Load(), Dials: l.dials.Load(), Errors: l.errs,
	}
	for _, s := range l.samples {
		r.samples = append(r.samples, s...)
	}
	return r
}

// P99 is the 99th percentile latency of successful requests that started
// within [from, to) since the load start.
func (r LoadResult) P99(from, to time.Duration) (time.Duration, int) {
	var d []time.Duration
	for _, s := range r.samples {
		if s.at >= from && s.at < to {
			d = append(d, s.took)
		}
	}
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)*99/100], len(d)
}

func (r LoadResult) String() string {
	return fmt.Sprintf("requests=%d failures=%d resets=%d replays=%d dials=%d errors=%q",
		r.Requests, r.Failures, r.Resets, r.Replays, r.Dials, r.Errors)
}

// countingConn counts connection resets.
type countingConn struct {
	net.Conn
	l *Load
}

func (c *countingConn) note(err error) {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		c.l.resets.Add(1)
	}
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.note(err)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.note(err)
	return n, err
}
