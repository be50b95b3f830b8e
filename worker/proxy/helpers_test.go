package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
)

// upstreamConfig returns a config.Upstream for addr with the config
// defaults, adjusted by mod.
func upstreamConfig(addr string, mod func(*config.Upstream)) config.Upstream {
	up := config.Upstream{
		Name:             "test",
		BaseURL:          "http://" + addr,
		TimeoutMS:        30000,
		ConnectTimeoutMS: 2000,
		MaxConns:         1024,
		Retry:            config.Retry{Attempts: 1, BackoffMS: 100},
	}
	if mod != nil {
		mod(&up)
	}
	return up
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testUpstream is a fasthttp upstream server that counts requests and
// connections.
type testUpstream struct {
	addr  string
	hits  atomic.Int64
	conns atomic.Int64
}

func startUpstream(t testing.TB, h fasthttp.RequestHandler) *testUpstream {
	t.Helper()
	ln := listen(t)
	tu := &testUpstream{addr: ln.Addr().String()}
	s := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			tu.hits.Add(1)
			h(ctx)
		},
		ConnState: func(_ net.Conn, st fasthttp.ConnState) {
			if st == fasthttp.StateNew {
				tu.conns.Add(1)
			}
		},
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		NoDefaultDate:                 true,
	}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	return tu
}

// rawUpstream accepts connections and hands each to serve.
func rawUpstream(t testing.TB, serve func(net.Conn)) (addr string, hits *atomic.Int64) {
	t.Helper()
	ln := listen(t)
	hits = new(atomic.Int64)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), hits
}

// readRequestHead reads one request head from br (for raw upstreams).
func readRequestHead(br *bufio.Reader) (*http.Request, error) {
	return http.ReadRequest(br)
}

// gatewayResult is what the gateway handler saw of one Forward.
type gatewayResult struct {
	attempts int
	err      error
}

// gateway is a fasthttp.Server configured as the caller must configure it,
// with Forward as the handler.
type gateway struct {
	addr    string
	results chan gatewayResult
	client  *fasthttp.HostClient
}

type gatewayConfig struct {
	info    Info
	path    func(ctx *fasthttp.RequestCtx) []byte // default: raw path of the request
	trusted *Trusted
	// buffered turns StreamRequestBody off (a misconfigured caller).
	buffered bool
}

func startGateway(t testing.TB, u *Upstream, gc gatewayConfig) *gateway {
	t.Helper()
	ln := listen(t)
	g := &gateway{addr: ln.Addr().String(), results: make(chan gatewayResult, 1024)}
	s := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			info := gc.info
			if !info.ClientIP.IsValid() {
				peer := peerAddr(ctx)
				info.PeerTrusted = gc.trusted.Contains(peer)
				info.ClientIP = gc.trusted.ClientIP(peer, ctx.Request.Header.Peek("X-Forwarded-For"))
			}
			path := rawPath(ctx)
			if gc.path != nil {
				path = gc.path(ctx)
			}
			n, err := u.Forward(ctx, path, &info)
			g.results <- gatewayResult{n, err}
			if err != nil {
				ctx.Response.Reset()
				ctx.SetStatusCode(statusFor(err))
				ctx.SetBodyString(err.Error())
			}
		},
		StreamRequestBody:            !gc.buffered,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		ReadTimeout:                  time.Minute,
		Logger:                       quiet{},
	}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	g.client = &fasthttp.HostClient{Addr: g.addr, MaxIdemponentCallAttempts: 1, DisablePathNormalizing: true}
	return g
}

// result returns the outcome of the next Forward, failing after a minute.
func (g *gateway) result(t testing.TB) gatewayResult {
	t.Helper()
	select {
	case r := <-g.results:
		return r
	case <-time.After(time.Minute):
		t.Fatal("no Forward finished within a minute")
		return gatewayResult{}
	}
}

// statusFor is the mapping the caller's error writer is expected to make.
func statusFor(err error) int {
	switch {
	case errors.Is(err, ErrConnect), errors.Is(err, ErrUpstreamReset):
		return fasthttp.StatusBadGateway
	case errors.Is(err, ErrTimeout):
		return fasthttp.StatusGatewayTimeout
	case errors.Is(err, ErrBodyTooLarge):
		return fasthttp.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadFraming):
		return fasthttp.StatusBadRequest
	}
	return fasthttp.StatusInternalServerError
}

func rawPath(ctx *fasthttp.RequestCtx) []byte {
	uri := ctx.Request.Header.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return uri[:i]
	}
	return uri
}

func newUpstream(t testing.TB, up config.Upstream, opts Options) *Upstream {
	t.Helper()
	u, err := New(up, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// do sends a request through the gateway with the fasthttp client.
func (g *gateway) do(t testing.TB, method, uri string, hdr map[string]string, body string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + g.addr + uri)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.SetBodyString(body)
	}
	resp := &fasthttp.Response{}
	if err := g.client.Do(req, resp); err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return resp
}

// rawExchange writes raw to the gateway and returns the status line of the
// answer ("" if the connection closed without one).
func rawExchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// rawRoundTrip writes raw to addr and reads one response with its body.
func rawRoundTrip(t testing.TB, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	req := &http.Request{Method: raw[:strings.IndexByte(raw, ' ')]}
	resp, err := http.ReadResponse(br, req)
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	var sb strings.Builder
	if _, err := io.Copy(&sb, resp.Body); err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp, sb.String()
}

// echoHeaders answers with the request head as the upstream received it.
func echoHeaders(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain")
	ctx.SetBody(ctx.Request.Header.Header())
}

// quiet drops fasthttp's server log lines (refused requests are expected).
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// waitFor polls cond until it holds, failing after 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}
