package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// Chain benchmarks of rate-limited routes through the Redis store, beside
// BenchmarkChainPlain and BenchmarkChainRateLimitLocal (server_bench_test.go):
//
//	go test -run '^$' -bench 'Chain(Plain|RateLimit)' ./worker/server/
//
// gives the cost of a limit side by side: none, local store, Redis store
// (one script call per request, auto-pipelined, against a real redis-server
// on a unix socket), and a key Redis already refused (answered 429 from the
// per-process cache, no round trip).

// benchRedis is a redis-server started by a benchmark on a unix socket and
// stopped by PID at cleanup.
type benchRedis struct {
	sock string
	cmd  *exec.Cmd
}

func startBenchRedis(b *testing.B) *benchRedis {
	b.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		b.Skip("no redis-server")
	}
	dir, err := os.MkdirTemp("", "fg-bench-redis-") // short: socket paths ≤ 107 bytes
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRedis{sock: filepath.Join(dir, "redis.sock")}
	var out bytes.Buffer
	r.cmd = exec.Command(bin, "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir)
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { r.cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		select {
		case <-exited:
		default:
			r.cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		os.RemoveAll(dir)
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if reply, err := r.do("PING"); err == nil && reply == "PONG" {
			return r
		}
		select {
		case <-exited:
			b.Fatalf("redis-server exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("redis-server not ready: %s", out.String())
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
}

// do runs one command on a fresh connection and returns a simple, integer
// or bulk string reply as text.
func (r *benchRedis) do(args ...string) (string, error) {
	c, err := net.DialTimeout("unix", r.sock, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var w bytes.Buffer
	fmt.Fprintf(&w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&w, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(w.Bytes()); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", fmt.Errorf("empty reply")
	case line[0] == '+' || line[0] == ':':
		return line[1:], nil
	case line[0] == '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		_, err := io.ReadFull(br, buf)
		return string(buf[:n]), err
	default:
		return "", fmt.Errorf("redis %v: %s", args, line)
	}
}

// scriptCalls is evalsha + eval calls from INFO commandstats.
func (r *benchRedis) scriptCalls(b *testing.B) int {
	b.Helper()
	info, err := r.do("INFO", "commandstats")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(info, "\n") {
		for _, cmd := range []string{"evalsha", "eval"} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
				c, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
				n += c
			}
		}
	}
	return n
}

// limitedRoute is a route /limited/... under policy name; the policies
// key on the route (one hot key, whatever the in-memory client's address).
func limitedRoute(name string) string {
	return `  - id: limited
    match_path: {prefix: "/limited"}
    upstream: up
    rate_limit: ` + name + "\n"
}

// BenchmarkChainRateLimitRedis is BenchmarkChainRateLimitLocal with the
// Redis store: every request is admitted by the Lua script on a real
// redis-server (a limit that never refuses). It fails if decisions fell
// back (fewer script calls than requests).
func BenchmarkChainRateLimitRedis(b *testing.B) {
	r := startBenchRedis(b)
	benchChain(b, fmt.Sprintf(`redis:
  url: "unix://%s"
  timeout_ms: 1000
rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    key: [route_path]
`, r.sock), limitedRoute("roomy"), nil, "/limited/x", nil)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if calls := r.scriptCalls(b); calls < b.N {
		b.Fatalf("%d script calls for %d requests: decisions fell back", calls, b.N)
	}
}

// BenchmarkChainRateLimitRedisBlocked is a route whose key Redis has
// refused: every request is answered 429 (with the rate-limit headers and
// the JSON error) from the per-process cache, without a Redis round trip.
func BenchmarkChainRateLimitRedisBlocked(b *testing.B) {
	r := startBenchRedis(b)
	// The key's TAT an hour ahead (Redis TIME, µs): refused until then.
	if _, err := r.do("EVAL", `local t = redis.call('TIME')
redis.call('SET', KEYS[1], string.format('%.0f', t[1] * 1000000 + t[2] + 3600000000))`, "1", "rl:{tight:limited}"); err != nil {
		b.Fatal(err)
	}
	benchChainWant(b, fmt.Sprintf(`redis:
  url: "unix://%s"
  timeout_ms: 1000
rate_limits:
  - name: tight
    limit_per_minute: 1
    burst: 1
    key: [route_path]
`, r.sock), limitedRoute("tight"), nil, "/limited/x", nil, 429)
	b.StopTimer()
	// Only the first requests, racing before the refusal is cached (or
	// before the marker's invalidation arrived), run the script.
	if calls, most := r.scriptCalls(b), 2*runtime.GOMAXPROCS(0)+2; calls > most {
		b.Fatalf("%d script calls for %d refusals of a blocked key; want ≤ %d", calls, b.N, most)
	}
}

// The same three routes with 8 client goroutines per GOMAXPROCS, as a busy
// worker sees them: Redis round trips overlap (auto-pipelining) instead of
// adding up. The upstream timeout is 5 s (basicConfig's 300 ms is too
// tight for 16 requests in flight on a loaded 2-core host).
//
//	go test -run '^$' -bench 'ChainBusy' ./worker/server/

func benchChainBusy(b *testing.B, extra, routes, uri string) {
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg, err := parseConfigEnv(fmt.Sprintf(`
server:
  listen_addr: "127.0.0.1:0"
%s
upstreams:
  - name: up
    base_url: "http://%s/base"
    timeout_ms: 5000
routes:
  - id: exact
    match_path: {exact: "/status"}
    upstream: up
%s`, extra, up.addr, routes), nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Log.AccessLog = new(bool)
	s, err := New(Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = ln.Close(); _ = s.Close() })

	client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConns: 1024}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + uri)
		for pb.Next() {
			if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkChainBusyPlain(b *testing.B) {
	benchChainBusy(b, "", "", "/status")
}

func BenchmarkChainBusyRateLimitLocal(b *testing.B) {
	benchChainBusy(b, `rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    store: local
`, limitedRoute("roomy"), "/limited/x")
}

func BenchmarkChainBusyRateLimitRedis(b *testing.B) {
	r := startBenchRedis(b)
	benchChainBusy(b, fmt.Sprintf(`redis:
  url: "unix://%s"
  timeout_ms: 1000
rate_limits:
  - name: roomy
    limit_per_minute: 100000000
    key: [route_path]
`, r.sock), limitedRoute("roomy"), "/limited/x")
	if calls := r.scriptCalls(b); calls < b.N {
		b.Fatalf("%d script calls for %d requests: decisions fell back", calls, b.N)
	}
}
