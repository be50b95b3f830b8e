// Command upstream is fluxgate's demo and test backend: a small fasthttp
// server that describes the request it received, and can be slow, fail or
// stream on demand. `make run` starts it beside the gateway; the end-to-end
// tests and benchmarks start it as a real separate process.
//
// Endpoints (any path prefix works; the last path segment picks):
//
//	…/delay?ms=N       answer after N milliseconds
//	…/status?code=N    answer with status N
//	…/bytes?n=N        stream N bytes of response body
//	…/upload           read the whole body, answer its length
//	anything else      JSON echo: method, path, query, selected headers
//
// It prints "listening on ADDR" once it accepts connections.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address (port 0 = any free port)")
	name := flag.String("name", "demo", "name reported in responses")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	u := &upstream{name: *name}
	srv := &fasthttp.Server{
		Handler:               u.handle,
		StreamRequestBody:     true,
		NoDefaultServerHeader: true,
		MaxRequestBodySize:    1 << 40,
		IdleTimeout:           90 * time.Second,
	}
	fmt.Printf("listening on %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-sig:
		_ = srv.Shutdown()
	case err := <-done:
		if err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
	}
}

type upstream struct {
	name string
	hits atomic.Uint64
}

var chunk = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

func (u *upstream) handle(ctx *fasthttp.RequestCtx) {
	n := u.hits.Add(1)
	ctx.Response.Header.Set("X-Upstream", u.name)
	ctx.Response.Header.Set("X-Upstream-Hits", strconv.FormatUint(n, 10))
	path := ctx.Path()
	last := path[bytes.LastIndexByte(path, '/')+1:]
	args := ctx.QueryArgs()
	switch string(last) {
	case "delay":
		ms, _ := args.GetUint("ms")
		time.Sleep(time.Duration(ms) * time.Millisecond) // behaviour under test: a slow backend
		ctx.SetBodyString("slept " + strconv.Itoa(ms) + "ms\n")
		return
	case "status":
		code, err := args.GetUint("code")
		if err != nil || code < 100 || code > 599 {
			code = 500
		}
		ctx.SetStatusCode(code)
		ctx.SetBodyString("status " + strconv.Itoa(code) + "\n")
		return
	case "bytes":
		total, _ := args.GetUint("n")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for left := total; left > 0; {
				k := min(left, len(chunk))
				if _, err := w.Write(chunk[:k]); err != nil {
					return
				}
				left -= k
			}
		})
		return
	case "upload":
		got, err := io.Copy(io.Discard, bodyReader(ctx))
		if err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
		}
		ctx.SetBodyString(strconv.FormatInt(got, 10))
		return
	}
	body, _ := io.ReadAll(bodyReader(ctx))
	echo := map[string]any{
		"upstream": u.name,
		"method":   string(ctx.Method()),
		"uri":      string(ctx.Request.Header.RequestURI()),
		"host":     string(ctx.Request.Header.Host()),
		"body_len": len(body),
		"headers":  headers(&ctx.Request.Header),
	}
	ctx.SetContentType("application/json")
	_ = json.NewEncoder(ctx).Encode(echo)
}

// bodyReader returns the request body as a stream (nil-safe: a request
// without a streamed body yields its buffered body, possibly empty).
func bodyReader(ctx *fasthttp.RequestCtx) io.Reader {
	if r := ctx.RequestBodyStream(); r != nil {
		return r
	}
	return bytes.NewReader(ctx.Request.Body())
}

func headers(h *fasthttp.RequestHeader) map[string]string {
	out := map[string]string{}
	for k, v := range h.All() {
		out[string(k)] = string(v)
	}
	return out
}
