package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
)

func TestNew(t *testing.T) {
	f := func(base, wantHost, wantPath, wantAddr string) {
		t.Helper()
		u, err := New(config.Upstream{Name: "x", BaseURL: base}, Options{})
		if err != nil {
			t.Fatalf("New(%q): %v", base, err)
		}
		if string(u.host) != wantHost || string(u.basePath) != wantPath || u.pool.addr != wantAddr {
			t.Errorf("New(%q) = host %q path %q addr %q; want %q %q %q", base, u.host, u.basePath, u.pool.addr, wantHost, wantPath, wantAddr)
		}
	}
	f("http://api:8080", "api:8080", "", "api:8080")
	f("http://api", "api", "", "api:80")
	f("http://api:80/", "api", "", "api:80")
	f("http://api:8080/base/", "api:8080", "/base", "api:8080")
	f("http://[::1]:9000/a%2Fb", "[::1]:9000", "/a%2Fb", "[::1]:9000")
	for _, bad := range []string{"https://api", "api:8080", "http://", "http://u:p@api", "http://api/?q=1", "ftp://api"} {
		if _, err := New(config.Upstream{Name: "x", BaseURL: bad}, Options{}); err == nil {
			t.Errorf("New(%q) = nil error; want one", bad)
		}
	}
	u, err := New(config.Upstream{Name: "x", BaseURL: "http://a"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name() != "x" || u.attempts != 1 || u.backoff != 100*time.Millisecond || u.pool.timeout != 30*time.Second || u.pool.connectTimeout != 2*time.Second || cap(u.pool.slots) != 1024 {
		t.Errorf("defaults not applied: %+v", u)
	}
}

// TestURI checks base path + path + raw query, byte for byte.
func TestURI(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBody(ctx.Request.Header.RequestURI())
	})
	cases := []struct{ base, path, query, want string }{
		{"", "/v1/items", "?a=%2F&b=c+d&&x", "/v1/items?a=%2F&b=c+d&&x"},
		{"/base", "/v1/a%2Fb", "?a=%2F&b=c+d&&x", "/base/v1/a%2Fb?a=%2F&b=c+d&&x"},
		{"/base/", "/x", "", "/base/x"},
		{"/base", "/x", "?", "/base/x?"},
		{"/b%20c", "/x//y", "?q=%zz&%00", "/b%20c/x//y?q=%zz&%00"},
		{"", "/x", "?semi;colon=1&a=ü", "/x?semi;colon=1&a=ü"},
	}
	for _, tc := range cases {
		u := newUpstream(t, upstreamConfig(up.addr+tc.base, nil), Options{})
		path := tc.path
		g := startGateway(t, u, gatewayConfig{path: func(*fasthttp.RequestCtx) []byte { return []byte(path) }})
		_, got := rawRoundTrip(t, g.addr, "GET /client/path"+tc.query+" HTTP/1.1\r\nHost: gw\r\n\r\n")
		if got != tc.want {
			t.Errorf("base %q path %q query %q: upstream got %q; want %q", tc.base, tc.path, tc.query, got, tc.want)
		}
	}
}

// refusedAddr returns a loopback address where connections are refused:
// a port this test bound and closed again. Another process could grab the
// port in between; on a test machine's loopback that is unlikely, and the
// test would then see a different error, not pass wrongly.
func refusedAddr(t *testing.T) string {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectRefused(t *testing.T) {
	addr := refusedAddr(t)
	for _, method := range []string{"GET", "POST"} {
		u := newUpstream(t, upstreamConfig(addr, func(up *config.Upstream) {
			up.Retry = config.Retry{Attempts: 3, BackoffMS: 1}
		}), Options{})
		g := startGateway(t, u, gatewayConfig{})
		resp := g.do(t, method, "/x", nil, "body")
		r := g.result(t)
		if resp.StatusCode() != 502 || !errors.Is(r.err, ErrConnect) || r.attempts != 3 {
			t.Errorf("%s to refused port: status %d err %v attempts %d; want 502 ErrConnect 3", method, resp.StatusCode(), r.err, r.attempts)
		}
	}
}

func TestConnectTimeoutPoolExhausted(t *testing.T) {
	block := make(chan struct{})
	arrived := make(chan struct{}, 1)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		arrived <- struct{}{}
		<-block
	})
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) {
		up.MaxConns = 1
		up.ConnectTimeoutMS = 50
	}), Options{})
	g := startGateway(t, u, gatewayConfig{})
	t.Cleanup(func() { close(block) })             // runs before the servers shut down
	go g.client.Get(nil, "http://"+g.addr+"/hold") //nolint:errcheck // released at cleanup
	<-arrived
	c2 := &fasthttp.HostClient{Addr: g.addr}
	code, _, err := c2.Get(nil, "http://"+g.addr+"/second")
	if err != nil || code != 502 {
		t.Errorf("second request with the pool full: %d %v; want 502", code, err)
	}
}

// resetAfter returns a raw upstream that reads one request, writes partial
// and resets the connection (SO_LINGER 0).
func resetAfter(t *testing.T, partial string) string {
	addr, _ := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, partial)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	return addr
}

func TestUpstreamReset(t *testing.T) {
	cases := []struct{ name, partial string }{
		{"before any byte", ""},
		{"mid status line", "HTTP/1.1 20"},
		{"mid headers", "HTTP/1.1 200 OK\r\nContent-Le"},
		{"mid small body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, upstreamConfig(resetAfter(t, tc.partial), nil), Options{})
			g := startGateway(t, u, gatewayConfig{})
			resp := g.do(t, "GET", "/x", nil, "")
			r := g.result(t)
			if resp.StatusCode() != 502 || !errors.Is(r.err, ErrUpstreamReset) {
				t.Errorf("status %d err %v; want 502 ErrUpstreamReset", resp.StatusCode(), r.err)
			}
		})
	}
}

// TestUpstreamResetMidStream: once the head of a large response went to
// the client, a reset can only cut the client connection.
func TestUpstreamResetMidStream(t *testing.T) {
	addr := resetAfter(t, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("x", 100000))
	u := newUpstream(t, upstreamConfig(addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || err == nil || n >= 1000000 {
		t.Errorf("status %d, read %d bytes, err %v; want 200 and a truncated body", resp.StatusCode, n, err)
	}
	if r := g.result(t); r.err != nil {
		t.Errorf("Forward = %v; want nil (the head was passed on)", r.err)
	}
}

func TestTimeout(t *testing.T) {
	block := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { <-block })
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) { up.TimeoutMS = 100 }), Options{})
	g := startGateway(t, u, gatewayConfig{})
	t.Cleanup(func() { close(block) })
	start := time.Now()
	resp := g.do(t, "GET", "/slow", nil, "")
	took := time.Since(start)
	r := g.result(t)
	if resp.StatusCode() != 504 || !errors.Is(r.err, ErrTimeout) {
		t.Errorf("status %d err %v; want 504 ErrTimeout", resp.StatusCode(), r.err)
	}
	if took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %v; want about 100ms", took)
	}
}

// TestTimeoutTrickledHeaders: headers dribbling in still must be complete
// within timeout_ms.
func TestTimeoutTrickledHeaders(t *testing.T) {
	addr, _ := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		for i := 0; i < 100; i++ {
			if _, err := io.WriteString(c, "X"); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond) // upstream behaviour: slow headers
		}
	})
	u := newUpstream(t, upstreamConfig(addr, func(up *config.Upstream) { up.TimeoutMS = 200 }), Options{})
	g := startGateway(t, u, gatewayConfig{})
	start := time.Now()
	resp := g.do(t, "GET", "/", nil, "")
	if took := time.Since(start); resp.StatusCode() != 504 || took > 1500*time.Millisecond {
		t.Errorf("status %d after %v; want 504 after about 200ms", resp.StatusCode(), took)
	}
}

// TestSlowButFlowing: bodies that keep flowing are never cut, however long
// they take in total.
func TestSlowButFlowing(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		// Upload: read the whole (slow) request body.
		n, err := io.Copy(io.Discard, ctx.RequestBodyStream())
		if err != nil {
			ctx.SetStatusCode(500)
			return
		}
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			fmt.Fprintf(w, "got %d;", n)
			for i := 0; i < 10; i++ {
				time.Sleep(60 * time.Millisecond) // upstream behaviour: slow download
				_, _ = w.WriteString("tick;")
				_ = w.Flush()
			}
		})
	})
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) { up.TimeoutMS = 200 }), Options{})
	g := startGateway(t, u, gatewayConfig{})
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.WriteString(c, "POST /up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(c, "5\r\nhello\r\n")
		time.Sleep(60 * time.Millisecond) // client behaviour: slow upload
	}
	_, _ = io.WriteString(c, "0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	want := "got 50;" + strings.Repeat("tick;", 10)
	if err != nil || string(body) != want {
		t.Errorf("body %q, %v; want %q", body, err, want)
	}
}

func TestRetries(t *testing.T) {
	cases := []struct {
		method  string
		status  int // upstream's status
		attempt int // config attempts
		want    int // upstream hits
	}{
		{"GET", 503, 3, 3},
		{"GET", 502, 2, 2},
		{"HEAD", 504, 3, 3},
		{"PUT", 503, 3, 3},
		{"DELETE", 503, 3, 3},
		{"OPTIONS", 503, 3, 3},
		{"POST", 503, 3, 1},
		{"PATCH", 503, 3, 1},
		{"GET", 500, 3, 1},
		{"GET", 200, 3, 1},
		{"GET", 503, 1, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %d x%d", tc.method, tc.status, tc.attempt), func(t *testing.T) {
			up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
				ctx.SetStatusCode(tc.status)
				ctx.SetBodyString("upstream says")
			})
			u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) {
				up.Retry = config.Retry{Attempts: tc.attempt, BackoffMS: 1}
			}), Options{})
			g := startGateway(t, u, gatewayConfig{})
			resp := g.do(t, tc.method, "/r", nil, "small body")
			r := g.result(t)
			if got := up.hits.Load(); got != int64(tc.want) || r.attempts != tc.want {
				t.Errorf("upstream hits %d, attempts %d; want %d", got, r.attempts, tc.want)
			}
			if resp.StatusCode() != tc.status || r.err != nil {
				t.Errorf("client got %d (err %v); want the upstream's own %d", resp.StatusCode(), r.err, tc.status)
			}
			if tc.method != "HEAD" && string(resp.Body()) != "upstream says" {
				t.Errorf("body %q; want the upstream's", resp.Body())
			}
		})
	}
}

func TestRetryOnTimeout(t *testing.T) {
	block := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { <-block })
	for _, tc := range []struct {
		method string
		want   int64
	}{{"GET", 2}, {"POST", 1}} {
		before := up.hits.Load()
		u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) {
			up.TimeoutMS = 50
			up.Retry = config.Retry{Attempts: 2, BackoffMS: 1}
		}), Options{})
		g := startGateway(t, u, gatewayConfig{})
		if tc.method == "GET" {
			t.Cleanup(func() { close(block) }) // before any server shuts down
		}
		resp := g.do(t, tc.method, "/t", nil, "x")
		r := g.result(t)
		if hits := up.hits.Load() - before; resp.StatusCode() != 504 || hits != tc.want || !errors.Is(r.err, ErrTimeout) {
			t.Errorf("%s: status %d hits %d err %v; want 504 %d ErrTimeout", tc.method, resp.StatusCode(), hits, r.err, tc.want)
		}
	}
}

// TestNoRetryStreamedBody: a body over replayBodyMax is streamed and so not
// retried after it was sent, even for PUT.
func TestNoRetryStreamedBody(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		_, _ = io.Copy(io.Discard, ctx.RequestBodyStream())
		ctx.SetStatusCode(503)
	})
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) {
		up.Retry = config.Retry{Attempts: 3, BackoffMS: 1}
	}), Options{})
	g := startGateway(t, u, gatewayConfig{})
	resp := g.do(t, "PUT", "/big", nil, strings.Repeat("b", replayBodyMax+1))
	r := g.result(t)
	if resp.StatusCode() != 503 || up.hits.Load() != 1 || r.attempts != 1 {
		t.Errorf("status %d hits %d attempts %d; want 503 1 1", resp.StatusCode(), up.hits.Load(), r.attempts)
	}
	// At the limit the body is buffered and retried.
	resp = g.do(t, "PUT", "/small", nil, strings.Repeat("b", replayBodyMax))
	r = g.result(t)
	if resp.StatusCode() != 503 || up.hits.Load() != 4 || r.attempts != 3 {
		t.Errorf("status %d hits %d attempts %d; want 503 4 3", resp.StatusCode(), up.hits.Load(), r.attempts)
	}
}

func TestBackoff(t *testing.T) {
	base := 100 * time.Millisecond
	f := func(n int, r uint64, want time.Duration) {
		t.Helper()
		if got := backoff(base, n, r); got != want {
			t.Errorf("backoff(%v, %d, %d) = %v; want %v", base, n, r, got, want)
		}
	}
	f(1, 0, 0)
	f(1, uint64(base)-1, base-1)
	f(1, uint64(base), 0)
	f(2, uint64(base)+5, base+5)
	f(3, uint64(4*base)-1, 4*base-1)
	f(40, uint64(maxBackoff)-1, maxBackoff-1)
	f(40, uint64(maxBackoff), 0)
	if got := backoff(0, 3, 12345); got != 0 {
		t.Errorf("backoff with base 0 = %v; want 0", got)
	}
}

// TestBackoffWithinDeadline: three tries with backoff 20ms sleep at most
// 20ms + 40ms in total.
func TestBackoffWithinDeadline(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(503) })
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) {
		up.Retry = config.Retry{Attempts: 3, BackoffMS: 20}
	}), Options{})
	g := startGateway(t, u, gatewayConfig{})
	start := time.Now()
	resp := g.do(t, "GET", "/b", nil, "")
	took := time.Since(start)
	if resp.StatusCode() != 503 || up.hits.Load() != 3 {
		t.Fatalf("status %d hits %d; want 503 3", resp.StatusCode(), up.hits.Load())
	}
	if took > 60*time.Millisecond+time.Second {
		t.Errorf("took %v; want at most 60ms of backoff (plus slack)", took)
	}
}

func TestKeepAlive(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})
	for i := 0; i < 20; i++ {
		method := []string{"GET", "POST", "HEAD"}[i%3]
		if resp := g.do(t, method, "/k", nil, "b"); resp.StatusCode() != 200 {
			t.Fatalf("status %d", resp.StatusCode())
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential requests; want 1", n)
	}
}

// TestKeepAliveAfterIdle: a pooled connection idle for longer than
// timeout_ms is still reused (its expired deadline does not matter).
func TestKeepAliveAfterIdle(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) { up.TimeoutMS = 20 }), Options{})
	g := startGateway(t, u, gatewayConfig{})
	for i := 0; i < 3; i++ {
		if resp := g.do(t, "GET", "/k", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("status %d", resp.StatusCode())
		}
		time.Sleep(50 * time.Millisecond) // client behaviour: idle past timeout_ms
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections; want 1", n)
	}
}

// TestStalePooledConn: the upstream closes each connection after one
// response (without saying so); the next request finds the pooled
// connection closed before sending and uses a fresh one, at no cost in
// tries, whatever the method.
func TestStalePooledConn(t *testing.T) {
	served := make(chan struct{}, 16)
	addr, conns := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		served <- struct{}{}
	})
	u := newUpstream(t, upstreamConfig(addr, nil), Options{}) // attempts 1: no retries
	g := startGateway(t, u, gatewayConfig{})
	for i, method := range []string{"GET", "POST", "POST", "PATCH"} {
		resp := g.do(t, method, "/s", nil, "body")
		r := g.result(t)
		if resp.StatusCode() != 200 || r.attempts != 1 {
			t.Fatalf("request %d (%s): status %d attempts %d err %v; want 200 1", i, method, resp.StatusCode(), r.attempts, r.err)
		}
		<-served // the upstream has closed its end
	}
	if conns.Load() != 4 {
		t.Errorf("upstream saw %d connections; want 4", conns.Load())
	}
}

// TestStaleHotPooledConn: idempotent requests reuse a just-released
// connection without the liveness check; when the upstream had closed it
// silently, the failure before the first response byte is resent on a
// fresh connection at no cost in tries.
func TestStaleHotPooledConn(t *testing.T) {
	served := make(chan struct{}, 16)
	addr, conns := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		served <- struct{}{}
	})
	u := newUpstream(t, upstreamConfig(addr, nil), Options{}) // attempts 1: no retries
	g := startGateway(t, u, gatewayConfig{})
	for i, method := range []string{"GET", "GET", "HEAD", "GET", "DELETE"} {
		resp := g.do(t, method, "/s", nil, "")
		r := g.result(t)
		if resp.StatusCode() != 200 || r.attempts != 1 {
			t.Fatalf("request %d (%s): status %d attempts %d err %v; want 200 1", i, method, resp.StatusCode(), r.attempts, r.err)
		}
		<-served
	}
	if conns.Load() != 5 {
		t.Errorf("upstream saw %d connections; want 5", conns.Load())
	}
}

func TestBodyTooLarge(t *testing.T) {
	addr, complete := completeUpstream(t)
	u := newUpstream(t, upstreamConfig(addr, nil), Options{MaxBodyBytes: 1000})
	g := startGateway(t, u, gatewayConfig{})
	big := strings.Repeat("x", 2000)
	f := func(name, raw string, want int) {
		t.Helper()
		resp, _ := rawRoundTrip(t, g.addr, raw)
		r := g.result(t)
		if resp.StatusCode != want {
			t.Errorf("%s: status %d (%v); want %d", name, resp.StatusCode, r.err, want)
		}
	}
	f("content-length over", "POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 2000\r\n\r\n"+big, 413)
	f("chunked over", "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n"+big+"\r\n0\r\n\r\n", 413)
	f("chunked in small chunks over", "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"+strings.Repeat("64\r\n"+big[:100]+"\r\n", 20)+"0\r\n\r\n", 413)
	if complete.Load() != 0 {
		t.Errorf("upstream received %d complete requests; want 0", complete.Load())
	}
	f("content-length at limit", "POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n"+big[:1000], 200)
	f("chunked at limit", "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"+big[:1000]+"\r\n0\r\n\r\n", 200)
}

// TestBodilessResponses: HEAD keeps the announced length, 204 and 304 pass.
func TestBodilessResponses(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/204":
			ctx.SetStatusCode(204)
		case "/304":
			ctx.SetStatusCode(304)
			ctx.Response.Header.Set("ETag", `"v1"`)
		default:
			ctx.SetBodyString(strings.Repeat("z", 12345))
		}
	})
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})
	resp, body := rawRoundTrip(t, g.addr, "HEAD /big HTTP/1.1\r\nHost: gw\r\n\r\n")
	// net/http hides Content-Length of a HEAD response in ContentLength.
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 12345 {
		t.Errorf("HEAD: %d len %d body %q; want 200 len 12345 no body", resp.StatusCode, resp.ContentLength, body)
	}
	resp, body = rawRoundTrip(t, g.addr, "GET /204 HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != 204 || body != "" {
		t.Errorf("204: %d %q", resp.StatusCode, body)
	}
	resp, body = rawRoundTrip(t, g.addr, "GET /304 HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != `"v1"` {
		t.Errorf("304: %d %q %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	resp, body = rawRoundTrip(t, g.addr, "GET /big HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != 200 || len(body) != 12345 {
		t.Errorf("GET: %d len %d", resp.StatusCode, len(body))
	}
}

// TestConcurrentPoolLimit: many concurrent requests share max_conns
// connections; those waiting for one get it as soon as it is released.
func TestConcurrentPoolLimit(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/big" {
			ctx.SetBodyString(strings.Repeat("y", bufferResponseMax+1)) // streamed
			return
		}
		ctx.SetBodyString("ok")
	})
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) { up.MaxConns = 4 }), Options{})
	g := startGateway(t, u, gatewayConfig{})
	g.client.MaxConns = 64
	const n = 64
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			path := []string{"/small", "/big"}[i%2]
			code, body, err := g.client.Get(nil, "http://"+g.addr+path)
			switch {
			case err != nil:
				errs <- err
			case code != 200 || (path == "/small" && string(body) != "ok") || (path == "/big" && len(body) != bufferResponseMax+1):
				errs <- fmt.Errorf("%s: status %d, %d bytes", path, code, len(body))
			default:
				errs <- nil
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < n; i++ {
		g.result(t)
	}
	if c := up.conns.Load(); c > 4 {
		t.Errorf("upstream saw %d connections; want at most max_conns 4", c)
	}
	waitFor(t, "all connections back in the pool", func() bool { return u.pool.idleCount() == int(up.conns.Load()) })
}

// TestBufferedServer: without StreamRequestBody the body fasthttp buffered
// is forwarded (and replayable).
func TestBufferedServer(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		b, _ := io.ReadAll(ctx.RequestBodyStream())
		ctx.SetBody(b)
	})
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{MaxBodyBytes: 1 << 20})
	g := startGateway(t, u, gatewayConfig{buffered: true})
	body := strings.Repeat("q", 200000)
	if resp := g.do(t, "POST", "/b", nil, body); resp.StatusCode() != 200 || string(resp.Body()) != body {
		t.Errorf("status %d, %d bytes echoed; want 200 %d", resp.StatusCode(), len(resp.Body()), len(body))
	}
	resp, _ := rawRoundTrip(t, g.addr, "POST /c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("chunked: status %d", resp.StatusCode)
	}
}

func TestClose(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})
	g.do(t, "GET", "/", nil, "")
	if u.pool.idleCount() != 1 {
		t.Fatalf("idle %d; want 1", u.pool.idleCount())
	}
	u.Close()
	if u.pool.idleCount() != 0 || len(u.pool.slots) != 0 {
		t.Errorf("after Close: idle %d, open %d; want 0 0", u.pool.idleCount(), len(u.pool.slots))
	}
}
