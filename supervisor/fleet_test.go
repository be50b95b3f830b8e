package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/shared/ctl"
)

// The fleet tests run the real supervisor in-process; its workers are this
// test binary re-executed in worker mode (tableflip's pattern), running
// fakeWorker, whose behaviour a "# fake: MODE" line in the config selects.
func TestMain(m *testing.M) {
	if ctl.IsWorker(os.Getenv) {
		os.Exit(fakeWorker())
	}
	os.Exit(m.Run())
}

// fakeWorker speaks the control protocol. Modes: ok, crash (exit before
// ready), fail (KindFailed), hang (never ready, ignores stop), slow (ready
// after 300 ms), flaky (exit at the first status push after ready).
func fakeWorker() int {
	f := os.NewFile(ctl.FDCtl, "ctl")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return 10
	}
	c := ctl.NewConn(conn)
	n, _ := strconv.Atoi(os.Getenv(ctl.EnvListeners))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "fake %d\n", os.Getpid())
	})}
	var lns []net.Listener
	for i := range n {
		lf := os.NewFile(uintptr(ctl.FDFirstListener+i), "ln")
		ln, err := net.FileListener(lf)
		lf.Close()
		if err != nil {
			return 11
		}
		lns = append(lns, ln)
	}
	m, err := c.Recv()
	if err != nil || m.Kind != ctl.KindConfig {
		return 12
	}
	mode := "ok"
	if sm := regexp.MustCompile(`# fake: (\S+)`).FindSubmatch(m.Config); sm != nil {
		mode = string(sm[1])
	}
	switch mode {
	case "crash":
		return 3
	case "fail":
		c.Send(ctl.Msg{Kind: ctl.KindFailed, Err: "fake build error"})
		return 1
	case "hang":
		for { // ignores KindStop: the supervisor must kill it
			if _, err := c.Recv(); err != nil {
				return 0
			}
		}
	case "slow":
		time.Sleep(300 * time.Millisecond) // a slow build, not synchronisation
	}
	for _, ln := range lns {
		go srv.Serve(ln)
	}
	c.Send(ctl.Msg{Kind: ctl.KindReady})
	for {
		m, err := c.Recv()
		if err != nil {
			srv.Close()
			return 0
		}
		switch m.Kind {
		case ctl.KindStatus:
			if mode == "flaky" {
				return 5
			}
		case ctl.KindDrain, ctl.KindStop:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(ctx)
			cancel()
			return 0
		}
	}
}

// fleet is an in-process supervisor under test.
type fleet struct {
	t       *testing.T
	cfgPath string
	logPath string
	sigs    chan os.Signal
	cancel  context.CancelFunc
	done    chan error
}

func fakeConfig(workers int, mode string) string {
	return fmt.Sprintf(`server:
  listen_addr: "127.0.0.1:0"
  workers: %d
  ready_timeout_secs: 1
  shutdown_grace_period_secs: 2
# fake: %s
`, workers, mode)
}

func startFleet(t *testing.T, cfg string) *fleet {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startFleetAt(t, path)
}

// startFleetAt runs a supervisor on the config file at path.
func startFleetAt(t *testing.T, path string) *fleet {
	t.Helper()
	f := &fleet{t: t, cfgPath: path, logPath: filepath.Join(t.TempDir(), "log"),
		sigs: make(chan os.Signal, 16), done: make(chan error, 1)}
	logf, err := os.Create(f.logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() {
		f.done <- Run(ctx, Options{ConfigPath: f.cfgPath, Stderr: logf, Signals: f.sigs})
		logf.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("Run() = %v; want nil after cancel", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run() did not return after cancel")
		}
		if t.Failed() {
			b, _ := os.ReadFile(f.logPath)
			t.Logf("supervisor log:\n%s", b)
		}
	})
	f.wait(10*time.Second, 1, func(l line) bool { return l.msg() == "ready" })
	return f
}

func (f *fleet) write(cfg string) {
	if err := os.WriteFile(f.cfgPath, []byte(cfg), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

type line map[string]any

func (l line) msg() string          { s, _ := l["msg"].(string); return s }
func (l line) str(k string) string  { s, _ := l[k].(string); return s }
func (l line) num(k string) float64 { n, _ := l[k].(float64); return n }

func (f *fleet) lines(pred func(line) bool) []line {
	fh, err := os.Open(f.logPath)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []line
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) == nil && pred(l) {
			out = append(out, l)
		}
	}
	return out
}

// wait polls the log until n lines match pred, and returns them.
func (f *fleet) wait(timeout time.Duration, n int, pred func(line) bool) []line {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ls := f.lines(pred); len(ls) >= n {
			return ls
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d matching log lines not seen within %v", n, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func reloadResult(result string) func(line) bool {
	return func(l line) bool { return l.msg() == "reload" && l.str("result") == result }
}

func TestFleetRollback(t *testing.T) {
	f := startFleet(t, fakeConfig(2, "ok"))
	for _, mode := range []string{"crash", "fail", "hang"} {
		f.write(fakeConfig(2, mode))
		f.sigs <- syscall.SIGHUP
	}
	// The three reloads are coalesced into at most two generations, each
	// of which fails; the first generation keeps serving.
	f.wait(15*time.Second, 1, reloadResult("failed_generation"))
	f.write(fakeConfig(2, "hang"))
	f.sigs <- syscall.SIGHUP
	failed := f.wait(15*time.Second, 2, reloadResult("failed_generation"))
	if got := failed[len(failed)-1].str("err"); !regexp.MustCompile(`not ready within|exited before ready|fake build error`).MatchString(got) {
		t.Errorf("failed reload err = %q", got)
	}
	// Hung workers ignore KindStop and are killed.
	f.wait(10*time.Second, 1, func(l line) bool { return l.msg() == "killing worker" })
	f.write(fakeConfig(2, "ok"))
	f.sigs <- syscall.SIGHUP
	ok := f.wait(15*time.Second, 1, reloadResult("ok"))
	if ok[0].num("gen") < 3 {
		t.Errorf("successful reload gen = %v; want a new generation", ok[0]["gen"])
	}
	if n := len(f.lines(reloadResult("ok"))); n != 1 {
		t.Errorf("ok reloads = %d; want 1", n)
	}
}

func TestFleetCrashRestartBackoff(t *testing.T) {
	f := startFleet(t, fakeConfig(1, "ok"))
	f.write(fakeConfig(1, "flaky"))
	f.sigs <- syscall.SIGHUP
	f.wait(10*time.Second, 1, reloadResult("ok"))
	ls := f.wait(15*time.Second, 4, func(l line) bool { return l.msg() == "worker restart scheduled" })
	want := []float64{0.1, 0.2, 0.4, 0.8}
	for i, w := range want {
		if got := ls[i].num("in"); got != w {
			t.Errorf("restart %d delay = %v s; want %v", i, got, w)
		}
	}
}

func TestFleetCoalesce(t *testing.T) {
	f := startFleet(t, fakeConfig(1, "slow"))
	for range 5 {
		f.sigs <- syscall.SIGHUP
	}
	f.wait(10*time.Second, 2, reloadResult("ok"))
	// One generation for the first SIGHUP, one for the four coalesced.
	if n := len(f.lines(func(l line) bool { return l.msg() == "generation starting" })); n != 3 {
		t.Errorf("generations started = %d; want 3 (start + 2 reloads)", n)
	}
}

// TestFleetWatchConfigMap: a Kubernetes ConfigMap volume swaps a "..data"
// symlink; the file's own path never changes. Unchanged bytes do not reload.
func TestFleetWatchConfigMap(t *testing.T) {
	dir := t.TempDir()
	version := func(n int) {
		v := filepath.Join(dir, fmt.Sprintf("..v%d", n))
		os.Mkdir(v, 0o755)
		os.WriteFile(filepath.Join(v, "config.yaml"), []byte(fakeConfig(1, "ok")+fmt.Sprintf("# v%d\n", n)), 0o644)
		tmp := filepath.Join(dir, "..data_tmp")
		os.Symlink(filepath.Base(v), tmp)
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version(1)
	if err := os.Symlink("..data/config.yaml", filepath.Join(dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	f := startFleetAt(t, filepath.Join(dir, "config.yaml"))
	version(2)
	ok := f.wait(10*time.Second, 1, reloadResult("ok"))
	if ok[0].str("reason") != "file" {
		t.Errorf("reload reason = %q; want file", ok[0].str("reason"))
	}
	// Touching without changing the bytes is no reload; a real change is.
	os.Chtimes(filepath.Join(dir, "..v2", "config.yaml"), time.Now(), time.Now())
	version(3)
	f.wait(10*time.Second, 2, reloadResult("ok"))
	if n := len(f.lines(func(l line) bool { return l.msg() == "generation starting" })); n != 3 {
		t.Errorf("generations = %d; want 3", n)
	}
}
