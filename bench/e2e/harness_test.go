// Package e2e runs the real fluxgate binary (and real upstream processes)
// on loopback and checks the product contract from the outside.
//
// Harness invariants: the binary is built once per test run (TestMain);
// every process a test starts is stopped by PID and checked to be gone at
// cleanup (a leak fails the test); process output is printed only when a
// test fails; tests wait on conditions with deadlines, never on sleeps.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries built by TestMain; read-only afterwards.
var binDir string

// Binary is the fluxgate binary built for this test run.
func Binary() string { return filepath.Join(binDir, "fluxgate") }

// UpstreamBinary is the bench/upstream binary built for this test run.
func UpstreamBinary() string { return filepath.Join(binDir, "upstream") }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fluxgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := 1
	if err := BuildBinary(Binary(), "e2e"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build fluxgate:", err)
	} else if err := build(UpstreamBinary(), "github.com/fluxgate/fluxgate/bench/upstream", ""); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build upstream:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// BuildBinary builds fluxgate into dst with buildinfo.Version = version,
// atomically (a running binary at dst is replaced by rename, as package
// managers do).
func BuildBinary(dst, version string) error {
	return build(dst, "github.com/fluxgate/fluxgate",
		"-X github.com/fluxgate/fluxgate/shared/buildinfo.Version="+version)
}

// build runs go build; with FLUXGATE_E2E_RACE=1 the binaries are built
// with the race detector.
func build(dst, pkg, ldflags string) error {
	tmp := dst + ".tmp"
	args := []string{"build", "-o", tmp}
	if os.Getenv("FLUXGATE_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return os.Rename(tmp, dst)
}

// GatewayOptions configure StartGateway.
type GatewayOptions struct {
	// Config is the YAML written to the config file.
	Config string
	// Bin is the binary to run. Default Binary().
	Bin string
	// Args are extra arguments after "run -c FILE".
	Args []string
	// Env is added to the test process's environment.
	Env []string
	// ReadyTimeout bounds the wait for the ready line. Default 20 s.
	ReadyTimeout time.Duration
}

// Gateway is a running fluxgate supervisor and its workers.
type Gateway struct {
	t          testing.TB
	Dir        string
	ConfigPath string
	LogPath    string
	// Addr is the listen address from the ready line.
	Addr string
	// Client talks to the gateway without keep-alive surprises: a fresh
	// transport per Gateway.
	Client *http.Client

	mu     sync.Mutex
	pid    int          // the live supervisor (changes after an upgrade)
	exited chan int     // exit code of the supervisor this test started
	seen   map[int]bool // every pid logged: supervisors and workers
}

// StartGateway writes the config, starts the supervisor and waits for its
// ready line. Cleanup stops it (SIGTERM, then SIGKILL), fails the test on a
// leaked process and prints the log if the test failed.
func StartGateway(t testing.TB, opts GatewayOptions) *Gateway {
	t.Helper()
	dir := t.TempDir()
	g := &Gateway{
		t: t, Dir: dir,
		ConfigPath: filepath.Join(dir, "config.yaml"),
		LogPath:    filepath.Join(dir, "gateway.log"),
		exited:     make(chan int, 1),
		seen:       map[int]bool{},
		Client:     &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	g.WriteConfig(opts.Config)
	logf, err := os.Create(g.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	bin := opts.Bin
	if bin == "" {
		bin = Binary()
	}
	cmd := exec.Command(bin, append([]string{"run", "-c", g.ConfigPath}, opts.Args...)...)
	// A file, not a pipe: a supervisor started by a binary upgrade keeps
	// writing to it after the first one has exited.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), opts.Env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.track(t, cmd)

	timeout := opts.ReadyTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ready := g.WaitLog(timeout, func(l LogLine) bool { return l.Msg() == "ready" && l.Int("pid") == g.pid })
	g.Addr = ready.Str("addr")
	return g
}

// PID is the live supervisor's pid.
func (g *Gateway) PID() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pid
}

// SetPID records a new live supervisor (after a binary upgrade).
func (g *Gateway) SetPID(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pid = pid
	g.seen[pid] = true
}

// URL is the gateway's base URL plus path.
func (g *Gateway) URL(path string) string { return "http://" + g.Addr + path }

// WriteConfig replaces the config file in place (truncate and write).
func (g *Gateway) WriteConfig(yaml string) {
	g.t.Helper()
	if err := os.WriteFile(g.ConfigPath, []byte(yaml), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// ReplaceConfig replaces the config file by rename, as editors and
// Kubernetes ConfigMaps do.
func (g *Gateway) ReplaceConfig(yaml string) {
	g.t.Helper()
	tmp := g.ConfigPath + ".swp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.ConfigPath); err != nil {
		g.t.Fatal(err)
	}
}

// Signal sends sig to the live supervisor.
func (g *Gateway) Signal(sig syscall.Signal) {
	g.t.Helper()
	if err := syscall.Kill(g.PID(), sig); err != nil {
		g.t.Fatalf("kill -%v %d: %v", sig, g.PID(), err)
	}
}

// WaitExit waits for the supervisor this test started to exit and returns
// its exit code.
func (g *Gateway) WaitExit(timeout time.Duration) int {
	g.t.Helper()
	select {
	case code := <-g.exited:
		g.exited <- code // keep it for cleanup
		return code
	case <-time.After(timeout):
		g.t.Fatalf("supervisor %d still running after %v", g.PID(), timeout)
		return -1
	}
}

// Stop sends SIGTERM and waits for the supervisor's exit code.
func (g *Gateway) Stop(timeout time.Duration) int {
	g.Client.CloseIdleConnections()
	g.Signal(syscall.SIGTERM)
	return g.WaitExit(timeout)
}

func (g *Gateway) cleanup() {
	g.Client.CloseIdleConnections()
	// Stop whatever is still running, by pid.
	g.Lines() // record every pid logged so far
	if Alive(g.PID()) {
		_ = syscall.Kill(g.PID(), syscall.SIGTERM)
		if !WaitGone(g.PID(), 15*time.Second) {
			g.t.Errorf("supervisor %d ignored SIGTERM", g.PID())
			_ = syscall.Kill(g.PID(), syscall.SIGKILL)
		}
	}
	g.Lines()
	g.mu.Lock()
	pids := make([]int, 0, len(g.seen))
	for pid := range g.seen {
		pids = append(pids, pid)
	}
	g.mu.Unlock()
	for _, pid := range pids {
		if !WaitGone(pid, 10*time.Second) {
			g.t.Errorf("leaked process %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	b, _ := os.ReadFile(g.LogPath)
	if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
		g.t.Errorf("a fluxgate process reported a data race")
	}
	if g.t.Failed() {
		if len(b) > 200<<10 {
			b = append([]byte("...\n"), b[len(b)-200<<10:]...)
		}
		g.t.Logf("gateway log (%s):\n%s", g.LogPath, b)
	}
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after "(comm)".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// WaitGone waits until pid no longer runs.
func WaitGone(pid int, timeout time.Duration) bool {
	return poll(timeout, func() bool { return !Alive(pid) })
}

// poll checks cond every 10 ms until it holds or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// LogLine is one JSON log line.
type LogLine map[string]any

// Msg is the line's "msg".
func (l LogLine) Msg() string { return l.Str("msg") }

// Str is a string field ("" when absent).
func (l LogLine) Str(k string) string { s, _ := l[k].(string); return s }

// Int is a numeric field (0 when absent).
func (l LogLine) Int(k string) int { f, _ := l[k].(float64); return int(f) }

// Lines parses the log so far, recording every pid it mentions.
func (g *Gateway) Lines() []LogLine {
	f, err := os.Open(g.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []LogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	g.mu.Lock()
	defer g.mu.Unlock()
	for sc.Scan() {
		var l LogLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if pid := l.Int("pid"); pid > 0 {
			g.seen[pid] = true
		}
		out = append(out, l)
	}
	return out
}

// Find returns the log lines matching pred.
func (g *Gateway) Find(pred func(LogLine) bool) []LogLine {
	var out []LogLine
	for _, l := range g.Lines() {
		if pred(l) {
			out = append(out, l)
		}
	}
	return out
}

// Count is len(Find(pred)).
func (g *Gateway) Count(pred func(LogLine) bool) int { return len(g.Find(pred)) }

// WaitLog waits for a line matching pred and returns the first one. It
// fails the test at the deadline, or when the supervisor exits first.
func (g *Gateway) WaitLog(timeout time.Duration, pred func(LogLine) bool) LogLine {
	g.t.Helper()
	return g.WaitLogN(timeout, 1, pred)
}

// WaitLogN waits for the n-th line matching pred and returns it.
func (g *Gateway) WaitLogN(timeout time.Duration, n int, pred func(LogLine) bool) LogLine {
	g.t.Helper()
	var found LogLine
	ok := poll(timeout, func() bool {
		if m := g.Find(pred); len(m) >= n {
			found = m[n-1]
			return true
		}
		return !Alive(g.PID())
	})
	if !ok || found == nil {
		g.t.Fatalf("log line not seen within %v (supervisor alive: %v)", timeout, Alive(g.PID()))
	}
	return found
}

// IsMsg matches lines with msg and the given key/value pairs.
func IsMsg(msg string, kv ...any) func(LogLine) bool {
	return func(l LogLine) bool {
		if l.Msg() != msg {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			k := kv[i].(string)
			switch v := kv[i+1].(type) {
			case string:
				if l.Str(k) != v {
					return false
				}
			case int:
				if l.Int(k) != v {
					return false
				}
			}
		}
		return true
	}
}

// Workers returns the pids of the ready workers of generation gen.
func (g *Gateway) Workers(gen int) map[int]int {
	out := map[int]int{} // pid → slot
	for _, l := range g.Find(IsMsg("worker ready", "gen", gen)) {
		out[l.Int("pid")] = l.Int("worker")
	}
	return out
}

// Readyz is the /readyz document.
type Readyz struct {
	Code            int    `json:"-"`
	Status          string `json:"status"`
	Generation      int    `json:"generation"`
	Workers         int    `json:"workers"`
	LastReload      string `json:"last_reload"`
	LastReloadError string `json:"last_reload_error"`
	Worker          int    `json:"worker"`
	WorkerGen       int    `json:"worker_generation"`
	PID             int    `json:"pid"`
	Draining        bool   `json:"draining"`
}

// GetReadyz fetches /readyz on a new connection (so the kernel picks a
// worker afresh).
func (g *Gateway) GetReadyz() (Readyz, error) {
	req, _ := http.NewRequest(http.MethodGet, g.URL("/readyz"), nil)
	req.Close = true
	resp, err := g.Client.Do(req)
	if err != nil {
		return Readyz{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Readyz{}, err
	}
	var r Readyz
	if err := json.Unmarshal(body, &r); err != nil {
		return Readyz{Code: resp.StatusCode}, fmt.Errorf("readyz body %q: %w", body, err)
	}
	r.Code = resp.StatusCode
	return r, nil
}

// WaitReadyz polls /readyz until cond holds for one answer.
func (g *Gateway) WaitReadyz(timeout time.Duration, what string, cond func(Readyz) bool) Readyz {
	g.t.Helper()
	var last Readyz
	var lastErr error
	if !poll(timeout, func() bool {
		last, lastErr = g.GetReadyz()
		return lastErr == nil && cond(last)
	}) {
		g.t.Fatalf("/readyz: %s not seen within %v; last %+v, err %v", what, timeout, last, lastErr)
	}
	return last
}

// Get does one GET and returns status and body.
func (g *Gateway) Get(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL(path), nil)
	resp, err := g.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Config returns a minimal test config: loopback port 0, the given number
// of workers, access log off; serverExtra lines are added under server:
// (indented by the caller with two spaces), extra YAML is appended.
func Config(workers int, serverExtra, extra string) string {
	return fmt.Sprintf(`server:
  listen_addr: "127.0.0.1:0"
  workers: %d
  shutdown_grace_period_secs: 10
  ready_timeout_secs: 10
%s
log:
  access_log: false
%s`, workers, strings.Trim(serverExtra, "\n"), strings.TrimLeft(extra, "\n"))
}

// APIConfig is Config with one upstream "up" at upstreamAddr behind one
// prefix route "api" on /api, and the access log on or off.
func APIConfig(workers int, upstreamAddr string, accessLog bool) string {
	cfg := Config(workers, "", fmt.Sprintf(`upstreams:
  - name: up
    base_url: "http://%s"
routes:
  - id: api
    match_path: {prefix: "/api"}
    upstream: up
`, upstreamAddr))
	if accessLog {
		cfg = strings.Replace(cfg, "access_log: false", "access_log: true", 1)
	}
	return cfg
}

// track makes cmd, just started, the supervisor this Gateway watches: its
// exit code is reaped into g.exited and cleanup stops it and checks that
// no process it logged is left.
func (g *Gateway) track(t testing.TB, cmd *exec.Cmd) {
	g.pid = cmd.Process.Pid
	g.seen[g.pid] = true
	go func() {
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		g.exited <- code
	}()
	t.Cleanup(g.cleanup)
}
