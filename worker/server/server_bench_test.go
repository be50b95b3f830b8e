package server

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v5"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// benchChain measures one request through the whole gateway chain: client →
// in-memory listener → Server (route, auth, rate limit, proxy) → a real
// upstream on loopback → back. Allocations include the in-process client and
// upstream (both fasthttp, allocation-free in steady state).
func benchChain(b *testing.B, extra, routes string, env map[string]string, uri string, hdr map[string]string) {
	benchChainWant(b, extra, routes, env, uri, hdr, 200)
}

func benchChainStatus(b *testing.B, uri string, status int) {
	benchChainWant(b, "", "", nil, uri, nil, status)
}

func benchChainWant(b *testing.B, extra, routes string, env map[string]string, uri string, hdr map[string]string, status int) {
	benchChainLog(b, extra, routes, env, uri, hdr, status, nil)
}

// benchChainLog is benchChainWant with the access log written to
// accessLog (nil = off).
func benchChainLog(b *testing.B, extra, routes string, env map[string]string, uri string, hdr map[string]string, status int, accessLog io.Writer) {
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	benchChainUp(b, up, extra, routes, env, uri, hdr, status, accessLog)
}

// benchUpstream measures plain GETs of uri proxied to up.
func benchUpstream(b *testing.B, up *testUpstream, uri string) {
	benchChainUp(b, up, "", "", nil, uri, nil, 200, nil)
}

func benchChainUp(b *testing.B, up *testUpstream, extra, routes string, env map[string]string, uri string, hdr map[string]string, status int, accessLog io.Writer) {
	// A generous upstream timeout: the shared test config's 300 ms is for
	// the 504 test, and a loaded machine would turn it into failures here.
	yaml := strings.Replace(basicConfig(up.addr, extra), "timeout_ms: 300", "timeout_ms: 10000", 1)
	cfg, err := parseConfigEnv(yaml+routes, env)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Log.AccessLog = new(bool) // measured separately
	s, err := New(Options{Config: cfg})
	if accessLog != nil {
		on := true
		cfg.Log.AccessLog = &on
		s, err = New(Options{Config: cfg, AccessLog: accessLog})
	}
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = ln.Close(); _ = s.Close() })

	client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConns: 1024}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + uri)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for pb.Next() {
			if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != status {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}

func BenchmarkChainPlain(b *testing.B) {
	benchChain(b, "", "", nil, "/status", nil)
}

// BenchmarkChainAccessLog is BenchmarkChainPlain with the access log on,
// written to /dev/null through the buffered line writer: the difference is
// the cost of logging.
func BenchmarkChainAccessLog(b *testing.B) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	benchChainLog(b, "", "", nil, "/status", nil, 200, devnull)
}

func BenchmarkChainRewrite(b *testing.B) {
	benchChain(b, "", "", nil, "/api/users/42?x=1", nil)
}

func BenchmarkChainAuthHS256(b *testing.B) {
	tok := mintHS256(b, "alice", "gateway", "read", time.Now().Add(time.Hour))
	benchChain(b, authPolicies, secureRoute, map[string]string{"JWT_SECRET": testSecret}, "/secure/x",
		map[string]string{"Authorization": "Bearer " + tok})
}

func BenchmarkChainRateLimitLocal(b *testing.B) {
	benchChain(b, `rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    store: local
`, `  - id: limited
    match_path: {prefix: "/limited"}
    upstream: up
    rate_limit: roomy
`, nil, "/limited/x", nil)
}

func BenchmarkChainAuthRS256(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signer, err := jwt.NewSignerRS(jwt.RS256, key)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := jwt.NewBuilder(signer).Build(testClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", Issuer: "gateway", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Scope:            "read",
	})
	if err != nil {
		b.Fatal(err)
	}
	policies := strings.Replace(authPolicies, "HS256", "RS256", 1)
	benchChain(b, policies, secureRoute, map[string]string{"JWT_SECRET": string(pub)}, "/secure/x",
		map[string]string{"Authorization": "Bearer " + tok.String()})
}

func BenchmarkChainNotFound(b *testing.B) {
	benchChainStatus(b, "/nowhere", 404)
}

// BenchmarkChainChunked16K proxies a 16 KiB response that the upstream
// sends chunked, in four flushed 4 KiB chunks (a typical dynamic response).
func BenchmarkChainChunked16K(b *testing.B) {
	chunk := []byte(strings.Repeat("x", 4096))
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for i := 0; i < 4; i++ {
				_, _ = w.Write(chunk)
				_ = w.Flush()
			}
		})
	})
	benchUpstream(b, up, "/status")
}
