package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkAccessLogLine is the access-log cost of one request: building
// the JSON line and handing it to the buffered writer (written to
// io.Discard in batches).
func BenchmarkAccessLogLine(b *testing.B) {
	cfg, err := parseTestConfig(basicConfig("127.0.0.1:1", ""))
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Config: cfg, AccessLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var req fasthttp.Request
	req.SetRequestURI("/api/users/42?x=1")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
	ctx.SetBodyString("hello")
	sc := newScratch().(*scratch)
	sc.id = append(sc.id[:0], "0123456789abcdef-1"...)
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.accessLog(&ctx, sc, 0, 200, start)
	}
}
