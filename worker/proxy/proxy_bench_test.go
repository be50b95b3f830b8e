package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// benchForward is a Forward round trip over in-memory pipes to an
// in-memory fasthttp upstream, with a RequestCtx as the server makes it.
type benchForward struct {
	u    *Upstream
	ctx  fasthttp.RequestCtx
	info Info
	path []byte
}

func newBenchForward(tb testing.TB, body []byte) *benchForward {
	return newBenchForwardOn(tb, body, fasthttputil.NewInmemoryListener())
}

// newBenchForwardOn serves the upstream on ln (in-memory or loopback TCP).
func newBenchForwardOn(tb testing.TB, body []byte, ln net.Listener) *benchForward {
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetBody(body)
	}, NoDefaultDate: true}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	tb.Cleanup(func() { _ = s.Shutdown() })
	u := newUpstream(tb, upstreamConfig("upstream.local:80", nil), Options{ForwardedHeader: true})
	if ml, ok := ln.(*fasthttputil.InmemoryListener); ok {
		u.pool.dial = ml.Dial
	} else {
		u.pool.addr = ln.Addr().String()
	}
	b := &benchForward{u: u, path: []byte("/api/v1/items"), info: Info{
		ClientIP:  netip.MustParseAddr("203.0.113.9"),
		RequestID: []byte("0123456789abcdef"),
	}}
	req := &b.ctx.Request
	req.Header.SetMethod("GET")
	req.Header.SetRequestURI("/api/v1/items?limit=10&sort=-id")
	req.Header.SetHost("gw.example")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("Authorization", "Bearer abc.def.ghi")
	req.Header.Set("Connection", "keep-alive")
	b.ctx.Init(req, &net.TCPAddr{IP: net.IPv4(203, 0, 113, 9), Port: 4711}, nil)
	return b
}

func (b *benchForward) run(tb testing.TB) {
	b.ctx.Response.Reset()
	if _, err := b.u.Forward(&b.ctx, b.path, &b.info); err != nil {
		tb.Fatal(err)
	}
	if b.ctx.Response.StatusCode() != 200 {
		tb.Fatalf("status %d", b.ctx.Response.StatusCode())
	}
}

func BenchmarkForward(b *testing.B) {
	bf := newBenchForward(b, []byte(`{"items":[1,2,3]}`))
	bf.run(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bf.run(b)
	}
}

// BenchmarkForwardTCP is BenchmarkForward over loopback TCP, including the
// liveness peek of the pooled connection.
func BenchmarkForwardTCP(b *testing.B) {
	bf := newBenchForwardOn(b, []byte(`{"items":[1,2,3]}`), listen(b))
	bf.run(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bf.run(b)
	}
}

func BenchmarkClientIP(b *testing.B) {
	tr, err := ParseTrusted([]string{"10.0.0.0/8", "192.168.0.0/16", "fd00::/8"})
	if err != nil {
		b.Fatal(err)
	}
	peer := netip.MustParseAddr("10.1.2.3")
	xff := []byte("203.0.113.9, 198.51.100.4, 10.0.0.7, 192.168.1.1")
	b.ReportAllocs()
	for b.Loop() {
		if ip := tr.ClientIP(peer, xff); !ip.IsValid() {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkRequestHeader(b *testing.B) {
	bf := newBenchForward(b, nil)
	var rw rewrite
	var out fasthttp.RequestHeader
	peer := netip.MustParseAddr("203.0.113.9")
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		rw.requestHeader(&out, &bf.ctx.Request.Header, bf.u, bf.path, &bf.info, peer)
	}
}

func BenchmarkResponseHeader(b *testing.B) {
	var src, dst fasthttp.ResponseHeader
	src.SetStatusCode(200)
	src.SetContentType("application/json")
	src.Set("Cache-Control", "no-store")
	src.Set("Connection", "keep-alive")
	src.Set("X-Upstream", "a")
	var rw rewrite
	b.ReportAllocs()
	for b.Loop() {
		dst.Reset()
		rw.responseHeader(&dst, &src)
	}
}
