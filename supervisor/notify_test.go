package supervisor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifyListener is a fake service manager: a unixgram socket whose
// datagrams arrive on a channel, parsed into VAR=value maps.
type notifyListener struct {
	addr string
	msgs chan map[string]string
}

func listenNotify(t *testing.T, name string) *notifyListener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyListener{addr: name, msgs: make(chan map[string]string, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- parseNotify(string(buf[:k]))
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return n
}

func parseNotify(text string) map[string]string {
	m := map[string]string{}
	for l := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// next returns the next datagram, failing the test after timeout.
func (n *notifyListener) next(t *testing.T, timeout time.Duration) map[string]string {
	t.Helper()
	select {
	case m := <-n.msgs:
		return m
	case <-time.After(timeout):
		t.Fatalf("no notification within %v", timeout)
		return nil
	}
}

func TestSDNotifyAddresses(t *testing.T) {
	path := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
	abstract := listenNotify(t, "\x00fluxgate-test-"+strconv.Itoa(os.Getpid()))
	for _, c := range []struct {
		addr string
		n    *notifyListener
	}{
		{path.addr, path},
		{"@" + abstract.addr[1:], abstract},
	} {
		if err := sdNotify(c.addr, "READY=1", "STATUS=hello"); err != nil {
			t.Fatalf("sdNotify(%q) = %v", c.addr, err)
		}
		if m := c.n.next(t, 5*time.Second); m["READY"] != "1" || m["STATUS"] != "hello" {
			t.Errorf("sdNotify(%q) sent %v; want READY=1 STATUS=hello", c.addr, m)
		}
	}
	if err := sdNotify("", "READY=1"); err != nil {
		t.Errorf("sdNotify(\"\") = %v; want nil (no service manager)", err)
	}
	if err := sdNotify("relative.sock", "READY=1"); err == nil {
		t.Errorf("sdNotify(relative path) = nil; want an error")
	}
}

func TestStatusLine(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := statusLine(in); got != want {
			t.Errorf("statusLine(%q) = %q; want %q", in, got, want)
		}
	}
	f("ok", "STATUS=ok")
	f("a:1: x\nb:2: y", "STATUS=a:1: x b:2: y")
	if got := statusLine(strings.Repeat("x", 2000)); len(got) != len("STATUS=")+maxStatusBytes {
		t.Errorf("len(statusLine(2000 bytes)) = %d; want %d", len(got), len("STATUS=")+maxStatusBytes)
	}
}

func TestMonotonicUsec(t *testing.T) {
	a := monotonicUsec()
	b := monotonicUsec()
	if a <= 0 || b < a {
		t.Errorf("monotonicUsec() = %d then %d; want positive, non-decreasing", a, b)
	}
}

// TestFleetNotify runs the supervisor in-process with $NOTIFY_SOCKET set
// and checks the sequence: ready, reload ok, failed reload, stopping.
func TestFleetNotify(t *testing.T) {
	n := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(fakeConfig(1, "ok")), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	sigs := make(chan os.Signal, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == envNotifySocket {
			return n.addr
		}
		return os.Getenv(k)
	}
	go func() { done <- Run(ctx, Options{ConfigPath: path, Getenv: getenv, Stderr: logf, Signals: sigs}) }()
	const wait = 10 * time.Second

	m := n.next(t, wait)
	if m["READY"] != "1" || m["MAINPID"] != strconv.Itoa(os.Getpid()) || !strings.HasPrefix(m["STATUS"], "serving on 127.0.0.1:") {
		t.Errorf("first notification %v; want READY=1 MAINPID=%d STATUS=serving on ...", m, os.Getpid())
	}

	before := monotonicUsec()
	if err := os.WriteFile(path, []byte(fakeConfig(1, "ok")+"# changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	m = n.next(t, wait)
	if usec, _ := strconv.ParseInt(m["MONOTONIC_USEC"], 10, 64); m["RELOADING"] != "1" || usec < before || usec > monotonicUsec() {
		t.Errorf("reload start %v; want RELOADING=1 and MONOTONIC_USEC now (after %d)", m, before)
	}
	if m = n.next(t, wait); m["READY"] != "1" || !strings.HasSuffix(m["STATUS"], "last reload ok") || m["MAINPID"] != "" {
		t.Errorf("reload end %v; want READY=1, STATUS=... last reload ok, no MAINPID", m)
	}

	if err := os.WriteFile(path, []byte("server:\n  bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	if m = n.next(t, wait); m["RELOADING"] != "1" {
		t.Errorf("invalid reload start %v; want RELOADING=1", m)
	}
	if m = n.next(t, wait); m["READY"] != "1" || !strings.Contains(m["STATUS"], "last reload invalid_config: ") {
		t.Errorf("invalid reload end %v; want READY=1, STATUS=... last reload invalid_config: ...", m)
	}

	cancel()
	if m = n.next(t, wait); m["STOPPING"] != "1" {
		t.Errorf("shutdown %v; want STOPPING=1", m)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run() did not return after cancel")
	}
	select {
	case m := <-n.msgs:
		t.Errorf("unexpected notification after shutdown: %v", m)
	default:
	}
}
