package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestVersionAndCheck(t *testing.T) {
	out, err := exec.Command(Binary(), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "fluxgate e2e") {
		t.Errorf("fluxgate version = %q, %v; want \"fluxgate e2e ...\"", out, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte(Config(2, "", "")), 0o644)
	os.WriteFile(bad, []byte(Config(2, "  bogus_field: 1", "")), 0o644)

	out, err = exec.Command(Binary(), "check", "-c", good).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "configuration OK" {
		t.Errorf("check good = %q, %v; want \"configuration OK\", exit 0", out, err)
	}
	cmd := exec.Command(Binary(), "check")
	cmd.Env = append(os.Environ(), "GATEWAY_CONFIG_PATH="+bad)
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("check bad: err %v; want exit 1", err)
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(bad) + `:\d+:\d+: .*bogus_field`).Match(out) {
		t.Errorf("check bad printed %q; want FILE:LINE:COL: ... bogus_field", out)
	}
}

// TestStartFailsOnInvalidConfig: the supervisor refuses to start, exit 1,
// and prints the position.
func TestStartFailsOnInvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(Config(1, "  workers_typo: 3", "")), 0o644)
	out, err := exec.Command(Binary(), "-c", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), path+":") {
		t.Errorf("run with invalid config: %v, output %q; want exit 1 and FILE:LINE:COL", err, out)
	}
}

// TestTrafficReachesEveryWorker: every worker of the generation answers
// (SO_REUSEPORT spreads new connections), and their listeners are
// non-blocking.
func TestTrafficReachesEveryWorker(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(3, "", "")})
	if code, body, err := g.Get("/healthz"); err != nil || code != 200 {
		t.Fatalf("GET /healthz = %d %q, %v; want 200", code, body, err)
	}
	want := g.Workers(1)
	if len(want) != 3 {
		t.Fatalf("ready workers of gen 1 = %v; want 3", want)
	}
	seen := map[int]bool{}
	ok := poll(10*time.Second, func() bool {
		r, err := g.GetReadyz()
		if err == nil && r.Code == 200 {
			seen[r.PID] = true
		}
		for pid := range want {
			if !seen[pid] {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Errorf("workers answering /readyz = %v; want all of %v", seen, want)
	}
	r, _ := g.GetReadyz()
	if r.Generation != 1 || r.Workers != 3 || r.LastReload != "none" {
		t.Errorf("/readyz = %+v; want generation 1, 3 workers, last_reload none", r)
	}
	for pid := range want {
		assertNonblockingListeners(t, g, pid)
	}
}

func assertNonblockingListeners(t *testing.T, g *Gateway, pid int) {
	t.Helper()
	_, portText, _ := net.SplitHostPort(g.Addr)
	port, _ := strconv.Atoi(portText)
	flags, err := listenerFlags(pid, port)
	if err != nil {
		t.Fatalf("listener flags of %d: %v", pid, err)
	}
	if len(flags) == 0 {
		t.Errorf("worker %d holds no listening socket on port %d", pid, port)
	}
	for fd, f := range flags {
		if f&oNonblock == 0 {
			t.Errorf("worker %d fd %d flags %o: O_NONBLOCK missing (golang/go#29277)", pid, fd, f)
		}
	}
}

// TestReloadSIGHUPAndFile: SIGHUP and a file change each start a new
// generation; the old one drains and exits promptly; an invalid config is
// refused with its position and changes nothing.
func TestReloadSIGHUPAndFile(t *testing.T) {
	cfg := Config(2, "", "")
	g := StartGateway(t, GatewayOptions{Config: cfg})
	old := g.Workers(1)
	for pid := range old {
		link, ino, err := limiterTable(pid)
		if err != nil || !strings.Contains(link, "memfd:fluxgate-limiter") {
			t.Errorf("worker %d fd 4 = %q (inode %d), %v; want the limiter memfd", pid, link, ino, err)
		}
	}
	before := tableInodes(old)

	g.Signal(syscall.SIGHUP)
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
	r := g.WaitReadyz(5*time.Second, "generation 2", func(r Readyz) bool { return r.Generation == 2 && r.WorkerGen == 2 })
	if r.LastReload != "ok" {
		t.Errorf("/readyz last_reload = %q; want ok", r.LastReload)
	}
	// The drained generation exits promptly (no connections: at once); a
	// listener switched to blocking mode would hang its accept loop.
	for pid := range old {
		if !WaitGone(pid, 3*time.Second) {
			t.Errorf("old worker %d still running 3 s after the reload", pid)
		}
	}
	for pid := range g.Workers(2) {
		assertNonblockingListeners(t, g, pid)
	}
	if after := tableInodes(g.Workers(2)); len(after) != 1 || len(before) != 1 || after[0] != before[0] {
		t.Errorf("limiter table inodes: generation 1 %v, generation 2 %v; want one shared table", before, after)
	}

	// Invalid config: position logged, old config kept.
	g.ReplaceConfig(cfg + "bogus_top_level: 1\n")
	bad := g.WaitLog(10*time.Second, IsMsg("reload", "result", "invalid_config"))
	if !regexp.MustCompile(`config\.yaml:\d+:\d+: `).MatchString(bad.Str("err")) {
		t.Errorf("invalid reload err = %q; want FILE:LINE:COL", bad.Str("err"))
	}
	r = g.WaitReadyz(5*time.Second, "last_reload invalid_config", func(r Readyz) bool { return r.LastReload == "invalid_config" })
	if r.Generation != 2 || r.Code != 200 || !strings.Contains(r.LastReloadError, "config.yaml:") {
		t.Errorf("/readyz after invalid reload = %+v; want generation 2, 200, error with position", r)
	}

	// Fixing the file (in place, this time) reloads again.
	g.WriteConfig(cfg + "# fixed\n")
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 3))
	g.WaitReadyz(5*time.Second, "generation 3", func(r Readyz) bool { return r.Generation == 3 && r.LastReload == "ok" })

	if code := g.Stop(20 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
}

// TestReloadRollback: a generation that cannot start (here: the new
// listen address is taken) is rolled back; the old one keeps serving.
func TestReloadRollback(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0") // no SO_REUSEPORT: nobody can join
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", "")})
	g.ReplaceConfig(strings.Replace(Config(2, "", ""), "127.0.0.1:0", busy.Addr().String(), 1))
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "failed_generation"))
	r := g.WaitReadyz(5*time.Second, "last_reload failed_generation", func(r Readyz) bool { return r.LastReload == "failed_generation" })
	if r.Generation != 1 || r.Code != 200 {
		t.Errorf("/readyz after failed reload = %+v; want generation 1, 200", r)
	}
	if code, _, err := g.Get("/healthz"); code != 200 {
		t.Errorf("GET /healthz after rollback = %d, %v", code, err)
	}
}

// TestShutdownDelay: after SIGTERM /readyz answers 503 at once while
// traffic is still served for shutdown_delay_secs; then the gateway stops
// accepting and exits 0, leaving no process behind.
func TestShutdownDelay(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "  shutdown_delay_secs: 2", "")})
	workers := g.Workers(1)
	t0 := time.Now()
	g.Signal(syscall.SIGTERM)
	r := g.WaitReadyz(2*time.Second, "503", func(r Readyz) bool { return r.Code == 503 })
	if time.Since(t0) > 1500*time.Millisecond {
		t.Errorf("/readyz turned 503 after %v; want at once", time.Since(t0))
	}
	if r.Status == "ready" {
		t.Errorf("/readyz status = %q while shutting down", r.Status)
	}
	if code, _, err := g.Get("/healthz"); code != 200 {
		t.Errorf("GET /healthz during shutdown delay = %d, %v; want 200", code, err)
	}
	if code := g.WaitExit(20 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
	if took := time.Since(t0); took < 2*time.Second {
		t.Errorf("stopped after %v; want ≥ shutdown_delay_secs (2 s)", took)
	}
	for pid := range workers {
		if Alive(pid) {
			t.Errorf("worker %d outlived the supervisor", pid)
		}
	}
	if _, err := net.DialTimeout("tcp", g.Addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after shutdown: %v; want connection refused", err)
	}
}

// TestSecondSignalStopsAtOnce: a second SIGTERM during the shutdown delay
// kills the workers and exits.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "  shutdown_delay_secs: 30", "")})
	g.Signal(syscall.SIGTERM)
	g.WaitReadyz(2*time.Second, "503", func(r Readyz) bool { return r.Code == 503 })
	g.Signal(syscall.SIGTERM)
	if code := g.WaitExit(5 * time.Second); code == 0 {
		t.Errorf("exit code after forced stop = 0; want non-zero")
	}
}

// TestWorkerCrashRestart: a worker killed with SIGKILL under load is
// replaced in its slot; only its in-flight requests may fail.
func TestWorkerCrashRestart(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", "")})
	const conns = 16
	load := StartLoad(g.URL("/healthz"), conns)
	poll(5*time.Second, func() bool { return load.Requests() > 1000 })
	var victim, slot int
	for pid, s := range g.Workers(1) {
		victim, slot = pid, s
		break
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	started := g.WaitLog(10*time.Second, func(l LogLine) bool {
		return l.Msg() == "worker started" && l.Int("gen") == 1 && l.Int("worker") == slot && l.Int("pid") != victim
	})
	g.WaitLog(10*time.Second, IsMsg("worker ready", "gen", 1, "pid", started.Int("pid")))
	g.WaitReadyz(5*time.Second, "2 workers", func(r Readyz) bool { return r.Workers == 2 })
	before := load.Requests()
	poll(5*time.Second, func() bool { return load.Requests() > before+1000 })
	res := load.Stop()
	t.Logf("crash under load: %v", res)
	if res.Failures > conns {
		t.Errorf("failures = %d; want ≤ %d (the killed worker's in-flight requests)", res.Failures, conns)
	}
	if n := g.Count(IsMsg("ready")); n != 1 {
		t.Errorf("supervisor ready lines = %d; the supervisor must not restart", n)
	}
}

// reloadConfig is the config used by the load tests; n makes each version
// distinct.
func reloadConfig(n int) string {
	return Config(2, "  idle_grace_ms: 1000", fmt.Sprintf("# version %d\n", n))
}

// TestReloadUnderLoad: 64 keep-alive connections, 20 reloads alternating
// SIGHUP and file edits: no failed request, no reset connection.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s load test")
	}
	g := StartGateway(t, GatewayOptions{Config: reloadConfig(0)})
	load := StartLoad(g.URL("/healthz"), 64)
	const baseline = 5 * time.Second
	poll(baseline+time.Second, func() bool { return load.Since() >= baseline })
	reloadStart := load.Since()
	for i := 1; i <= 20; i++ {
		gen := i + 1
		switch i % 4 {
		case 0:
			g.Signal(syscall.SIGHUP)
		case 1:
			g.ReplaceConfig(reloadConfig(i))
		case 2:
			g.Signal(syscall.SIGHUP)
		case 3:
			g.WriteConfig(reloadConfig(i))
		}
		g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", gen))
		g.WaitReadyz(5*time.Second, fmt.Sprintf("generation %d", gen), func(r Readyz) bool {
			return r.Generation == gen && r.WorkerGen == gen
		})
		// Pace the reloads over ~25 s.
		next := reloadStart + time.Duration(i)*1250*time.Millisecond
		poll(2*time.Second, func() bool { return load.Since() >= next })
	}
	reloadEnd := load.Since()
	res := load.Stop()
	p99Base, nBase := res.P99(0, baseline)
	p99Reload, nReload := res.P99(reloadStart, reloadEnd)
	t.Logf("reload under load: %v", res)
	t.Logf("p99 without reloads %v (%d req), during 20 reloads %v (%d req)", p99Base, nBase, p99Reload, nReload)
	if res.Failures != 0 || res.Resets != 0 {
		t.Errorf("failures=%d resets=%d; want 0 (%v)", res.Failures, res.Resets, res.Errors)
	}
	if n := g.Count(IsMsg("reload", "result", "ok")); n != 20 {
		t.Errorf("successful reloads = %d; want 20", n)
	}
}

// TestUpgradeUnderLoad: SIGUSR2 with a rebuilt binary hands the sockets to
// a new supervisor; no request fails; the pid file names the new one.
func TestUpgradeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test with a rebuild")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fluxgate")
	if err := BuildBinary(bin, "v1-before"); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "fluxgate.pid")
	g := StartGateway(t, GatewayOptions{Bin: bin, Config: Config(2, "  idle_grace_ms: 1000\n  pid_file: "+pidFile, "")})
	oldPID := g.PID()
	tableBefore := tableInodes(g.Workers(1))
	if got := readPID(t, pidFile); got != oldPID {
		t.Errorf("pid file = %d; want %d", got, oldPID)
	}
	if err := BuildBinary(bin, "v2-after"); err != nil { // replaced by rename, like a package upgrade
		t.Fatal(err)
	}

	load := StartLoad(g.URL("/healthz"), 64)
	poll(5*time.Second, func() bool { return load.Since() >= 3*time.Second })
	upStart := load.Since()
	countedBefore := requestsTotal(scrape(t, g))
	g.Signal(syscall.SIGUSR2)
	ready := g.WaitLog(30*time.Second, func(l LogLine) bool {
		return l.Msg() == "ready" && l.Str("version") == "v2-after"
	})
	newPID := ready.Int("pid")
	g.SetPID(newPID)
	if code := g.WaitExit(20 * time.Second); code != 0 {
		t.Errorf("old supervisor exit code %d; want 0", code)
	}
	upEnd := load.Since()
	if newPID == oldPID || !Alive(newPID) {
		t.Fatalf("new supervisor pid %d (old %d) not running", newPID, oldPID)
	}
	if got := readPID(t, pidFile); got != newPID {
		t.Errorf("pid file = %d; want the new supervisor %d", got, newPID)
	}
	gen := ready.Int("gen")
	g.WaitReadyz(5*time.Second, "the new supervisor's generation", func(r Readyz) bool { return r.WorkerGen == gen })
	if after := tableInodes(g.Workers(gen)); len(after) != 1 || len(tableBefore) != 1 || after[0] != tableBefore[0] {
		t.Errorf("limiter table inodes: before upgrade %v, after %v; want the same table", tableBefore, after)
	}
	// Host counters carry over to the new supervisor (the old one has exited).
	if after := requestsTotal(scrape(t, g)); after < countedBefore {
		t.Errorf("requests total after upgrade = %v; was %v before (went backwards)", after, countedBefore)
	}
	after := load.Since()
	poll(5*time.Second, func() bool { return load.Since() >= after+2*time.Second })
	res := load.Stop()
	p99Base, _ := res.P99(0, upStart)
	p99Up, _ := res.P99(upStart, upEnd)
	t.Logf("upgrade under load: %v; p99 before %v, during upgrade %v", res, p99Base, p99Up)
	if res.Failures != 0 || res.Resets != 0 {
		t.Errorf("failures=%d resets=%d; want 0 (%v)", res.Failures, res.Resets, res.Errors)
	}
	// The new supervisor still reloads and stops cleanly.
	g.Signal(syscall.SIGHUP)
	g.WaitLog(15*time.Second, func(l LogLine) bool {
		return l.Msg() == "reload" && l.Str("result") == "ok" && l.Int("pid") == newPID
	})
	g.Signal(syscall.SIGTERM)
	if !WaitGone(newPID, 20*time.Second) {
		t.Errorf("new supervisor %d still running after SIGTERM", newPID)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file after shutdown: %v; want removed", err)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// TestGracefulShutdownInFlight: slow requests in flight at SIGTERM
// complete; new connections are refused; exit 0.
func TestGracefulShutdownInFlight(t *testing.T) {
	up := startSlowUpstream(t, 2*time.Second)
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", fmt.Sprintf(`upstreams:
  - name: slow
    base_url: "http://%s"
    timeout_ms: 10000
routes:
  - id: slow
    match_path:
      prefix: "/slow"
    upstream: slow
`, up.addr))})
	const n = 8
	results := make(chan error, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, g.URL("/slow/x"), nil)
			resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			results <- err
		}()
	}
	if !poll(10*time.Second, func() bool { return up.arrived.Load() == n }) {
		t.Fatalf("upstream saw %d of %d requests", up.arrived.Load(), n)
	}
	g.Signal(syscall.SIGTERM)
	if !poll(3*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", g.Addr, time.Second)
		if c != nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}) {
		t.Errorf("new connections still accepted during the drain")
	}
	for range n {
		select {
		case err := <-results:
			if err != nil {
				t.Errorf("in-flight request: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("in-flight request did not finish")
		}
	}
	if code := g.WaitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
}

// TestReloadWorkersAndAddress: growing the worker count adds sockets,
// shrinking never closes one (a worker serves several), and a new
// listen_addr is served after the reload while the old one is let go.
func TestReloadWorkersAndAddress(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", "")})
	_, portText, _ := net.SplitHostPort(g.Addr)
	port, _ := strconv.Atoi(portText)

	g.ReplaceConfig(Config(3, "", ""))
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
	g.WaitReadyz(5*time.Second, "3 workers", func(r Readyz) bool { return r.Generation == 2 && r.Workers == 3 })

	g.ReplaceConfig(Config(1, "", ""))
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 3))
	g.WaitReadyz(5*time.Second, "1 worker", func(r Readyz) bool { return r.Generation == 3 && r.Workers == 1 })
	for pid := range g.Workers(3) {
		flags, err := listenerFlags(pid, port)
		if err != nil || len(flags) != 3 {
			t.Errorf("the single worker %d holds %d listening sockets (%v); want all 3", pid, len(flags), err)
		}
		assertNonblockingListeners(t, g, pid)
	}

	oldAddr := g.Addr
	g.ReplaceConfig(strings.Replace(Config(2, "", ""), "127.0.0.1:0", "127.0.0.2:0", 1))
	moved := g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 4))
	g.Addr = moved.Str("addr")
	if !strings.HasPrefix(g.Addr, "127.0.0.2:") {
		t.Fatalf("reload addr = %q; want 127.0.0.2:*", g.Addr)
	}
	g.WaitReadyz(5*time.Second, "generation 4 on the new address", func(r Readyz) bool { return r.Generation == 4 })
	if !poll(10*time.Second, func() bool {
		_, err := net.DialTimeout("tcp", oldAddr, time.Second)
		return errors.Is(err, syscall.ECONNREFUSED)
	}) {
		t.Errorf("old address %s still accepts after the move", oldAddr)
	}
}

// TestUpgradeFailureKeepsServing: a new binary that cannot start leaves
// the old supervisor serving.
func TestUpgradeFailureKeepsServing(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fluxgate")
	if err := BuildBinary(bin, "v1"); err != nil {
		t.Fatal(err)
	}
	g := StartGateway(t, GatewayOptions{Bin: bin, Config: Config(2, "", "")})
	broken := bin + ".new"
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho broken build >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, bin); err != nil {
		t.Fatal(err)
	}
	g.Signal(syscall.SIGUSR2)
	g.WaitLog(30*time.Second, IsMsg("upgrade", "result", "failed"))
	if code, _, err := g.Get("/healthz"); code != 200 {
		t.Errorf("GET /healthz after a failed upgrade = %d, %v", code, err)
	}
	// Still reloads after the failed upgrade.
	g.Signal(syscall.SIGHUP)
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
}

// TestWorkersFlag: --workers wins over server.workers, and each worker's
// GOMAXPROCS is max(1, CPUs / workers).
func TestWorkersFlag(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(1, "", ""), Args: []string{"--workers", "3"}})
	workers := g.Workers(1)
	if len(workers) != 3 {
		t.Fatalf("workers = %d; want 3 (flag wins)", len(workers))
	}
	want := "GOMAXPROCS=" + strconv.Itoa(max(1, runtime.GOMAXPROCS(0)/3))
	for pid := range workers {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\x00"+string(env)+"\x00", "\x00"+want+"\x00") {
			t.Errorf("worker %d environment lacks %s", pid, want)
		}
	}
	// The flag still wins after a reload.
	g.ReplaceConfig(Config(2, "", "# reloaded\n"))
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
	if n := len(g.Workers(2)); n != 3 {
		t.Errorf("workers after reload = %d; want 3", n)
	}
}

// TestSupervisorDeathStopsWorkers: workers of a supervisor killed with
// SIGKILL drain and exit by themselves (Pdeathsig and control-channel EOF).
func TestSupervisorDeathStopsWorkers(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", "")})
	workers := g.Workers(1)
	g.Signal(syscall.SIGKILL)
	g.WaitExit(5 * time.Second)
	for pid := range workers {
		if !WaitGone(pid, 5*time.Second) {
			t.Errorf("worker %d outlived its killed supervisor", pid)
		}
	}
}

// tableInodes returns the distinct inodes of the workers' limiter tables.
func tableInodes(workers map[int]int) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	for pid := range workers {
		if _, ino, err := limiterTable(pid); err == nil && !seen[ino] {
			seen[ino] = true
			out = append(out, ino)
		}
	}
	return out
}

// TestGroupSIGTERM: SIGTERM sent to the whole process group (systemd's
// default KillMode) still runs the supervisor's shutdown sequence: workers
// keep serving through shutdown_delay_secs.
func TestGroupSIGTERM(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "  shutdown_delay_secs: 2", "")})
	workers := g.Workers(1)
	g.Signal(syscall.SIGTERM)
	for pid := range workers {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	g.WaitReadyz(2*time.Second, "503", func(r Readyz) bool { return r.Code == 503 })
	anyGone := func() bool {
		for pid := range workers {
			if !Alive(pid) {
				return true
			}
		}
		return false
	}
	if poll(time.Second, anyGone) { // within the 2 s delay
		t.Errorf("a worker stopped on its own SIGTERM during the shutdown delay")
	}
	if code := g.WaitExit(20 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
}
