package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/ctl"
)

// testUpstream is a real HTTP server on 127.0.0.1:0 that echoes what it got.
type testUpstream struct {
	addr string
	hits atomic.Int64
	last atomic.Pointer[string] // last request URI
}

func startUpstream(t testing.TB, h fasthttp.RequestHandler) *testUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &testUpstream{addr: ln.Addr().String()}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		u.hits.Add(1)
		if h != nil {
			h(ctx)
			return
		}
		uri := string(ctx.Request.Header.RequestURI())
		u.last.Store(&uri)
		ctx.Response.Header.Set("X-Seen-XFF", string(ctx.Request.Header.Peek("X-Forwarded-For")))
		ctx.Response.Header.Set("X-Seen-Request-ID", string(ctx.Request.Header.Peek("X-Request-ID")))
		ctx.SetBodyString("upstream:" + uri)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

// gateway is a Server under test serving on 127.0.0.1:0.
type gateway struct {
	s    *Server
	addr string
	done chan error
}

func startGateway(t *testing.T, yaml string) *gateway {
	t.Helper()
	return startGatewayEnv(t, yaml, nil)
}

func startGatewayEnv(t *testing.T, yaml string, env map[string]string) *gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return serveConfig(t, cfg, nil)
}

func parseTestConfig(yaml string) (*config.Config, error) {
	return parseConfigEnv(yaml, nil)
}

func parseConfigEnv(yaml string, env map[string]string) (*config.Config, error) {
	return config.Parse([]byte(yaml), "test.yaml", func(k string) string { return env[k] })
}

// serveConfig starts a Server for cfg on 127.0.0.1:0; access, when set,
// receives the access log.
func serveConfig(t *testing.T, cfg *config.Config, access io.Writer) *gateway {
	t.Helper()
	s, err := New(Options{Config: cfg, Generation: 7, Slot: 1, AccessLog: access})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{s: s, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { g.done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = s.Close()
	})
	return g
}

func basicConfig(upstream string, extra string) string {
	return fmt.Sprintf(`
server:
  listen_addr: "127.0.0.1:0"
  max_header_bytes: 4096
  idle_grace_ms: 100
%[2]s
upstreams:
  - name: up
    base_url: "http://%[1]s/base"
    timeout_ms: 300
  - name: down
    base_url: "http://127.0.0.1:1"
routes:
  - id: api
    match_path: {prefix: "/api"}
    methods: ["GET", "POST"]
    upstream: up
    rewrite_path: "/v2"
  - id: exact
    match_path: {exact: "/status"}
    upstream: up
  - id: protected
    match_path: {prefix: "/protected"}
    upstream: up
  - id: dead
    match_path: {prefix: "/dead"}
    upstream: down
`, upstream, extra)
}

func do(t *testing.T, addr, method, uri string, hdr map[string]string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://" + addr + uri)
	req.URI().DisablePathNormalizing = true
	req.Header.SetMethod(method)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp := &fasthttp.Response{}
	c := &fasthttp.Client{DisablePathNormalizing: true}
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return resp
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForLine waits (with a deadline) for a line containing substr.
func waitForLine(t *testing.T, b *syncBuffer, substr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.Contains(line, substr) {
				return line
			}
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling interval of a condition with a deadline
	}
	t.Fatalf("no line containing %q in %q", substr, b.String())
	return ""
}

type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func decodeError(t *testing.T, resp *fasthttp.Response) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(resp.Body(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", resp.Body(), err)
	}
	if e.RequestID == "" || e.RequestID != string(resp.Header.Peek("X-Request-ID")) {
		t.Fatalf("request_id %q does not match X-Request-ID %q", e.RequestID, resp.Header.Peek("X-Request-ID"))
	}
	return e
}

func TestRoutingAndErrors(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))

	cases := []struct {
		method, uri string
		status      int
		body        string // upstream body, when proxied
		code        string // error code, when the gateway answers
		allow       string
	}{
		{"GET", "/api/users?a=%2F&b=c+d&&x", 200, "upstream:/base/v2/users?a=%2F&b=c+d&&x", "", ""},
		{"POST", "/api", 200, "upstream:/base/v2", "", ""},
		{"HEAD", "/api/x", 200, "", "", ""},
		{"DELETE", "/api/x", 405, "", "method_not_allowed", "GET, HEAD, POST"},
		{"GET", "/status", 200, "upstream:/base/status", "", ""},
		{"GET", "/status/x", 404, "", "not_found", ""},
		{"GET", "/nothing", 404, "", "not_found", ""},
		{"GET", "/api/../protected/x", 200, "upstream:/base/protected/x", "", ""},
		{"GET", "/%61pi/y", 200, "upstream:/base/v2/y", "", ""},
		{"GET", "/api/%zz", 400, "", "bad_request", ""},
		{"GET", "/dead/x", 502, "", "upstream_unavailable", ""},
		{"POST", "/healthz", 405, "", "method_not_allowed", "GET, HEAD"},
	}
	for _, c := range cases {
		resp := do(t, g.addr, c.method, c.uri, nil)
		if resp.StatusCode() != c.status {
			t.Errorf("%s %s: status %d; want %d (body %q)", c.method, c.uri, resp.StatusCode(), c.status, resp.Body())
			continue
		}
		if c.code != "" {
			if e := decodeError(t, resp); e.Error != c.code {
				t.Errorf("%s %s: error %q; want %q", c.method, c.uri, e.Error, c.code)
			}
		}
		if c.body != "" && string(resp.Body()) != c.body {
			t.Errorf("%s %s: body %q; want %q", c.method, c.uri, resp.Body(), c.body)
		}
		if got := string(resp.Header.Peek("Allow")); got != c.allow {
			t.Errorf("%s %s: Allow %q; want %q", c.method, c.uri, got, c.allow)
		}
	}
}

func TestRequestIDKeptOrGenerated(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))

	resp := do(t, g.addr, "GET", "/api/a", map[string]string{"X-Request-ID": "abc-123"})
	if got := string(resp.Header.Peek("X-Request-ID")); got != "abc-123" {
		t.Errorf("kept id: X-Request-ID %q; want abc-123", got)
	}
	if got := string(resp.Header.Peek("X-Seen-Request-ID")); got != "abc-123" {
		t.Errorf("upstream saw X-Request-ID %q; want abc-123", got)
	}
	a := string(do(t, g.addr, "GET", "/api/a", nil).Header.Peek("X-Request-ID"))
	b := string(do(t, g.addr, "GET", "/api/a", map[string]string{"X-Request-ID": "bad id\"with junk"}).Header.Peek("X-Request-ID"))
	if a == "" || b == "" || a == b || strings.Contains(b, "junk") {
		t.Errorf("generated ids %q, %q: want two distinct fresh ids", a, b)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		<-release // never answers within the 300 ms timeout
	})
	t.Cleanup(func() { close(release) }) // runs before the upstream's shutdown
	g := startGateway(t, basicConfig(up.addr, ""))
	resp := do(t, g.addr, "GET", "/api/slow", nil)
	if resp.StatusCode() != 504 {
		t.Fatalf("status %d; want 504", resp.StatusCode())
	}
	if e := decodeError(t, resp); e.Error != "upstream_timeout" {
		t.Errorf("error %q; want upstream_timeout", e.Error)
	}
}

// rawRequest sends raw bytes on a fresh connection and returns the status
// line of the answer.
func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading answer to %q: %v", raw, err)
	}
	return strings.TrimSpace(line)
}

func TestMalformedRequestsNeverForwarded(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))
	cases := []struct{ raw, want string }{
		{"GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n", "HTTP/1.1 431"},
		{"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400"},
		{"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "HTTP/1.1 400"},
		{"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 400"},
		{"GARBAGE\r\n\r\n", "HTTP/1.1 400"},
	}
	for _, c := range cases {
		if got := rawRequest(t, g.addr, c.raw); !strings.HasPrefix(got, c.want) {
			t.Errorf("%.60q: %q; want %q", c.raw, got, c.want)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests; want 0", n)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	cfg := strings.Replace(basicConfig(up.addr, ""), "  idle_grace_ms: 100", "  idle_grace_ms: 100\n  max_body_bytes: 10", 1)
	g := startGateway(t, cfg)
	got := rawRequest(t, g.addr, "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890")
	if !strings.HasPrefix(got, "HTTP/1.1 413") {
		t.Errorf("oversized body: %q; want 413", got)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests; want 0", n)
	}
}

func TestReadyzReportsStatus(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))
	var body readyBody
	resp := do(t, g.addr, "GET", "/readyz", nil)
	if err := json.Unmarshal(resp.Body(), &body); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("readyz: %d %q", resp.StatusCode(), resp.Body())
	}
	if body.Worker != 1 || body.WorkerGen != 7 || body.Status != "ready" {
		t.Errorf("readyz = %+v; want worker 1, generation 7, ready", body)
	}
	g.s.SetStatus(ctl.Status{Ready: false, Generation: 8, LastReload: "ok"})
	resp = do(t, g.addr, "GET", "/readyz", nil)
	_ = json.Unmarshal(resp.Body(), &body)
	if resp.StatusCode() != 503 || body.Status != "shutting_down" || body.Generation != 8 {
		t.Errorf("readyz after SetStatus = %d %+v; want 503 shutting_down gen 8", resp.StatusCode(), body)
	}
	if resp := do(t, g.addr, "GET", "/healthz", nil); resp.StatusCode() != 200 {
		t.Errorf("healthz = %d; want 200", resp.StatusCode())
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))
	do(t, g.addr, "GET", "/api/a", nil)
	do(t, g.addr, "GET", "/nope", nil)
	do(t, g.addr, "GET", "/dead/x", nil)
	body := string(do(t, g.addr, "GET", "/metrics", nil).Body())
	for _, want := range []string{
		`fluxgate_upstream_errors_total{upstream="down",kind="connect"} 1`,
		`fluxgate_upstream_request_duration_seconds_count{upstream="up"} 1`,
		`fluxgate_http_requests_total{route="api",method="GET",status="200"} 1`,
		`fluxgate_http_requests_total{route="none",method="GET",status="404"} 1`,
		`fluxgate_http_request_duration_seconds_bucket{route="api",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestDrainClosesKeepAlive checks the drain protocol on one keep-alive
// connection: the response after Drain starts says Connection: close, the
// listener stops accepting, an idle connection is closed after the grace,
// and Drain returns once no connection is left.
func TestDrainClosesKeepAlive(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil)
	g := startGateway(t, basicConfig(up.addr, ""))

	busy, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	idle, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	br := bufio.NewReader(busy)
	ir := bufio.NewReader(idle)
	get := func(c net.Conn, r *bufio.Reader) *fasthttp.Response {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /api/a HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp := &fasthttp.Response{}
		if err := resp.Read(r); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := get(busy, br); resp.ConnectionClose() {
		t.Fatal("Connection: close before drain")
	}
	get(idle, ir)

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- g.s.Drain(ctx)
	}()
	// Serve returns once the listener copy is closed.
	select {
	case err := <-g.done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Drain")
	}
	if resp := get(busy, br); !resp.ConnectionClose() {
		t.Error("response during drain lacks Connection: close")
	}
	// The idle connection is closed by the gateway after the idle grace.
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := ir.ReadByte(); err != io.EOF {
		t.Errorf("idle connection read: %v; want EOF", err)
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("Drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return")
	}
}
