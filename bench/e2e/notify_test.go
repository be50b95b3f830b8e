package e2e

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Notifications is a fake systemd: a unixgram socket for $NOTIFY_SOCKET
// whose datagrams (sd_notify state lines) arrive parsed on a channel.
type Notifications struct {
	t    testing.TB
	Addr string
	msgs chan Notification
}

// Notification is one datagram: VAR → value.
type Notification map[string]string

// ListenNotify listens on a socket in a temporary directory; it is closed
// at cleanup.
func ListenNotify(t testing.TB) *Notifications {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &Notifications{t: t, Addr: addr, msgs: make(chan Notification, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			m := Notification{}
			for l := range strings.SplitSeq(strings.TrimSpace(string(buf[:k])), "\n") {
				key, v, _ := strings.Cut(l, "=")
				m[key] = v
			}
			n.msgs <- m
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return n
}

// Env is the environment entry that points fluxgate at the socket.
func (n *Notifications) Env() string { return "NOTIFY_SOCKET=" + n.Addr }

// Wait returns the first notification matching pred and every one
// received before it (skipped included). It fails the test at the deadline.
func (n *Notifications) Wait(timeout time.Duration, what string, pred func(Notification) bool) (Notification, []Notification) {
	n.t.Helper()
	var seen []Notification
	deadline := time.After(timeout)
	for {
		select {
		case m := <-n.msgs:
			seen = append(seen, m)
			if pred(m) {
				return m, seen
			}
		case <-deadline:
			n.t.Fatalf("notification %s not received within %v; got %v", what, timeout, seen)
			return nil, seen
		}
	}
}

// Pending returns the notifications received and not yet consumed.
func (n *Notifications) Pending() []Notification {
	var out []Notification
	for {
		select {
		case m := <-n.msgs:
			out = append(out, m)
		default:
			return out
		}
	}
}

func has(k, v string) func(Notification) bool {
	return func(m Notification) bool { return m[k] == v }
}

// TestNotifyLifecycle: the sd_notify sequence systemd sees over a start,
// a SIGHUP reload, a failed (file-triggered) reload, a binary upgrade and
// a shutdown.
func TestNotifyLifecycle(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fluxgate")
	if err := BuildBinary(bin, "v1-notify"); err != nil {
		t.Fatal(err)
	}
	n := ListenNotify(t)
	cfg := Config(2, "  idle_grace_ms: 500", "")
	g := StartGateway(t, GatewayOptions{Bin: bin, Config: cfg, Env: []string{n.Env()}})
	oldPID := g.PID()
	const wait = 20 * time.Second

	// Start: READY=1 with the supervisor as main pid, before anything else.
	m, seen := n.Wait(wait, "READY=1 at start", has("READY", "1"))
	if len(seen) != 1 || m["MAINPID"] != strconv.Itoa(oldPID) || !strings.HasPrefix(m["STATUS"], "serving on "+g.Addr) {
		t.Errorf("start: %v; want one READY=1 MAINPID=%d STATUS=serving on %s...", seen, oldPID, g.Addr)
	}

	// SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 once live.
	g.Signal(syscall.SIGHUP)
	m, _ = n.Wait(wait, "RELOADING=1 after SIGHUP", has("RELOADING", "1"))
	if usec, err := strconv.ParseInt(m["MONOTONIC_USEC"], 10, 64); err != nil || usec <= 0 {
		t.Errorf("RELOADING=1 with MONOTONIC_USEC=%q; want CLOCK_MONOTONIC µs", m["MONOTONIC_USEC"])
	}
	m, _ = n.Wait(wait, "READY=1 after the reload", has("READY", "1"))
	if !strings.HasSuffix(m["STATUS"], "last reload ok") {
		t.Errorf("after SIGHUP: STATUS=%q; want ...last reload ok", m["STATUS"])
	}
	g.WaitLog(wait, IsMsg("reload", "result", "ok"))

	// An invalid config (noticed by the file watch) keeps the old
	// generation: RELOADING=1, then READY=1 with the error in STATUS=.
	g.WriteConfig(cfg + "bogus_top_level: 1\n")
	n.Wait(wait, "RELOADING=1 for the invalid config", has("RELOADING", "1"))
	m, _ = n.Wait(wait, "READY=1 after the failed reload", has("READY", "1"))
	if !strings.Contains(m["STATUS"], "last reload invalid_config: ") || !strings.Contains(m["STATUS"], "bogus_top_level") {
		t.Errorf("after an invalid config: STATUS=%q; want ...last reload invalid_config: <error>", m["STATUS"])
	}
	g.WriteConfig(cfg)
	n.Wait(wait, "READY=1 after restoring the config", func(m Notification) bool {
		return m["READY"] == "1" && strings.HasSuffix(m["STATUS"], "last reload ok")
	})

	// SIGUSR2: the new supervisor claims the main pid when its workers are
	// ready; the old one drains without STOPPING=1.
	if err := BuildBinary(bin, "v2-notify"); err != nil {
		t.Fatal(err)
	}
	g.Signal(syscall.SIGUSR2)
	m, seen = n.Wait(wait, "READY=1 with MAINPID from the new supervisor", func(m Notification) bool {
		return m["READY"] == "1" && m["MAINPID"] != ""
	})
	newPID, _ := strconv.Atoi(m["MAINPID"])
	if newPID == oldPID {
		t.Fatalf("after SIGUSR2: %v; want READY=1 with MAINPID=<new supervisor>", seen)
	}
	ready := g.WaitLog(wait, func(l LogLine) bool { return l.Msg() == "ready" && l.Str("version") == "v2-notify" })
	if ready.Int("pid") != newPID {
		t.Errorf("MAINPID=%d; the new supervisor logged ready as pid %d", newPID, ready.Int("pid"))
	}
	g.SetPID(newPID)
	if code := g.WaitExit(wait); code != 0 {
		t.Errorf("old supervisor exit code %d; want 0", code)
	}
	for _, m := range append(seen, n.Pending()...) {
		if m["STOPPING"] != "" || (m["MAINPID"] != "" && m["MAINPID"] != strconv.Itoa(newPID)) {
			t.Errorf("during the upgrade: %v; want no STOPPING=1 and no other MAINPID", m)
		}
	}

	// SIGTERM: STOPPING=1 from the new supervisor, then it exits.
	g.Signal(syscall.SIGTERM)
	m, _ = n.Wait(wait, "STOPPING=1 after SIGTERM", has("STOPPING", "1"))
	if !strings.Contains(m["STATUS"], "shutting down") {
		t.Errorf("after SIGTERM: STATUS=%q; want shutting down...", m["STATUS"])
	}
	if !WaitGone(newPID, wait) {
		t.Errorf("new supervisor %d still running after SIGTERM", newPID)
	}
}

// TestNotifyAbsent: without $NOTIFY_SOCKET (or with one nobody listens
// on) the gateway starts, reloads and stops as usual.
func TestNotifyAbsent(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "nobody.sock")
	g := StartGateway(t, GatewayOptions{Config: Config(1, "", ""), Env: []string{"NOTIFY_SOCKET=" + gone}})
	g.Signal(syscall.SIGHUP)
	g.WaitLog(20*time.Second, IsMsg("reload", "result", "ok"))
	if l := g.Find(IsMsg("service manager notification")); len(l) == 0 {
		t.Errorf("no warning logged for an unreachable NOTIFY_SOCKET")
	}
	if code := g.Stop(20 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
}
