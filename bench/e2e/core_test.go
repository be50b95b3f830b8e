package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// closedAddr returns a loopback address that refuses connections: a port
// this test bound and released.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func coreConfig(t *testing.T, upstream string, workers int) string {
	return Config(workers, "  max_body_bytes: 0", fmt.Sprintf(`upstreams:
  - name: up
    base_url: "http://%s/base"
    timeout_ms: 500
  - name: dead
    base_url: "http://%s"
routes:
  - id: api
    match_path: {prefix: "/api"}
    methods: [GET, POST]
    upstream: up
    rewrite_path: "/v2"
  - id: raw
    match_path: {prefix: "/raw"}
    upstream: up
    rewrite_path: "/"
  - id: dead
    match_path: {exact: "/dead"}
    upstream: dead
`, upstream, closedAddr(t)))
}

type echoDoc struct {
	Upstream string            `json:"upstream"`
	Method   string            `json:"method"`
	URI      string            `json:"uri"`
	Host     string            `json:"host"`
	Headers  map[string]string `json:"headers"`
}

// TestCoreProxy runs the real binary (2 workers) in front of a real upstream
// process and checks routing, rewriting, headers and the gateway's own
// error answers from the outside.
func TestCoreProxy(t *testing.T) {
	t.Parallel()
	up := StartUpstream(t, "core")
	g := StartGateway(t, GatewayOptions{Config: coreConfig(t, up.Addr, 2)})

	req, _ := http.NewRequest("GET", g.URL("/api/hello?q=%2F&b=c+d&&x"), nil)
	req.Header.Set("Connection", "keep-alive, X-Secret")
	req.Header.Set("X-Secret", "hop-by-hop")
	req.Header.Set("X-Forwarded-For", "203.0.113.7") // untrusted peer: replaced
	resp, err := g.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo echoDoc
	err = json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/hello: %d, %v", resp.StatusCode, err)
	}
	if echo.URI != "/base/v2/hello?q=%2F&b=c+d&&x" {
		t.Errorf("upstream URI %q; want /base/v2/hello?q=%%2F&b=c+d&&x", echo.URI)
	}
	if got := echo.Headers["X-Forwarded-For"]; got != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For %q; want 127.0.0.1", got)
	}
	if _, ok := echo.Headers["X-Secret"]; ok {
		t.Error("header listed in Connection was forwarded")
	}
	rid := resp.Header.Get("X-Request-Id")
	if rid == "" || echo.Headers["X-Request-Id"] != rid {
		t.Errorf("X-Request-ID returned %q, upstream saw %q; want the same non-empty id", rid, echo.Headers["X-Request-Id"])
	}

	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nowhere", 404, "not_found"},
		{"DELETE", "/api/x", 405, "method_not_allowed"},
		{"GET", "/dead", 502, "upstream_unavailable"},
		{"GET", "/api/delay?ms=3000", 504, "upstream_timeout"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, g.URL(c.path), nil)
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		var body struct{ Error, Message, RequestID string }
		body.RequestID = "unset"
		dec := json.NewDecoder(resp.Body)
		err = dec.Decode(&struct {
			Error     *string `json:"error"`
			Message   *string `json:"message"`
			RequestID *string `json:"request_id"`
		}{&body.Error, &body.Message, &body.RequestID})
		resp.Body.Close()
		if resp.StatusCode != c.status || err != nil || body.Error != c.code {
			t.Errorf("%s %s: %d %+v (%v); want %d %q", c.method, c.path, resp.StatusCode, body, err, c.status, c.code)
		}
		if body.RequestID != resp.Header.Get("X-Request-Id") {
			t.Errorf("%s %s: request_id %q, header %q", c.method, c.path, body.RequestID, resp.Header.Get("X-Request-Id"))
		}
	}
	// A path with an invalid escape (Go's client refuses to send one).
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /api/%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("GET /api/%%zz: %q; want 400", line)
	}
	if code, _, err := g.Get("/healthz"); err != nil || code != 200 {
		t.Errorf("/healthz: %d %v", code, err)
	}
}

func runBinary(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(Binary(), args...)
	cmd.Env = append(os.Environ(), "JWT_SECRET=")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(out), code
}

// TestCheckCommand runs `fluxgate check` like `nginx -t`.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte(coreConfig(t, "127.0.0.1:9", 1)), 0o644)
	os.WriteFile(bad, []byte(`server:
  listen_addr: "127.0.0.1:0"
  bogus: 1
upstreams:
  - name: up
    base_url: "ftp://x"
routes:
  - id: r
    match_path: {prefix: "/a"}
    upstream: missing
`), 0o644)

	out, code := runBinary(t, "check", "-c", good)
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("check good: exit %d, %q; want 0 and configuration OK", code, out)
	}
	out, code = runBinary(t, "check", "-c", bad)
	if code != 1 {
		t.Errorf("check bad: exit %d; want 1", code)
	}
	pos := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bad) + `:(\d+):(\d+): `)
	if n := len(pos.FindAllString(out, -1)); n < 3 {
		t.Errorf("check bad: %d positioned errors in %q; want ≥ 3 (unknown field, bad URL, unknown upstream)", n, out)
	}
	for _, want := range []string{bad + ":3:3: server.bogus", bad + ":10:15: routes[0].upstream"} {
		if !strings.Contains(out, want) {
			t.Errorf("check bad: output lacks %q:\n%s", want, out)
		}
	}
	out, code = runBinary(t, "version")
	if code != 0 || !strings.Contains(out, "e2e") {
		t.Errorf("version: exit %d, %q; want 0 and the build's version", code, out)
	}
}

// TestInvalidConfigRefusesToStart: the gateway does not start on a bad
// config and says where the problem is.
func TestInvalidConfigRefusesToStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("server:\n  listen_addr: \"127.0.0.1:0\"\nroutes:\n  - id: a\n    match_path: {prefix: \"/a\"}\n    upstream: nope\n"), 0o644)
	cmd := exec.Command(Binary(), "run", "-c", path)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("gateway with an invalid config did not exit")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("exit: %v; want a non-zero exit", err)
	}
	if want := path + ":6:15: routes[0].upstream"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// peakRSS reads VmHWM (peak resident set) of pid in KiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no VmHWM for %d", pid)
	return 0
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestStreaming256MiB sends a 256 MiB body up and down through the real
// gateway (one worker) and checks every byte arrived while the worker's
// peak RSS stays bounded (far below the body size).
func TestStreaming256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	t.Parallel()
	const size = 256 << 20
	const limitKiB = 64 << 10 // 64 MiB: a quarter of the body
	up := StartUpstream(t, "stream")
	g := StartGateway(t, GatewayOptions{Config: coreConfig(t, up.Addr, 1)})
	workers := g.Workers(1)
	if len(workers) != 1 {
		t.Fatalf("workers of generation 1: %v; want exactly one", workers)
	}
	var wpid int
	for pid := range workers {
		wpid = pid
	}
	before := peakRSS(t, wpid)

	client := &http.Client{Timeout: 2 * time.Minute}
	req, _ := http.NewRequest("POST", g.URL("/raw/upload"), io.LimitReader(zeros{}, size))
	req.ContentLength = size
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(size) {
		t.Fatalf("upload: %d %q; want 200 %d", resp.StatusCode, body, size)
	}

	resp, err = client.Get(g.URL("/raw/bytes?n=" + strconv.Itoa(size)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v; want %d", n, err, size)
	}
	after := peakRSS(t, wpid)
	t.Logf("worker %d peak RSS: %d KiB before, %d KiB after 256 MiB up + 256 MiB down", wpid, before, after)
	if after > limitKiB {
		t.Errorf("worker peak RSS %d KiB after streaming; want ≤ %d KiB", after, limitKiB)
	}
}
