package redistest_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/fluxgate/fluxgate/bench/redistest"
)

func TestStart(t *testing.T) {
	s := redistest.Start(t)
	if u := s.URL(); !strings.HasPrefix(u, "unix://") || s.Addr() != "" {
		t.Fatalf("URL() = %q, Addr() = %q; want a unix socket", u, s.Addr())
	}
	f := func(want string, args ...string) {
		t.Helper()
		if got := s.Do(args...); got != want {
			t.Fatalf("Do(%q) = %q; want %q", args, got, want)
		}
	}
	f("PONG", "PING")
	f("OK", "SET", "k", "v")
	f("v", "GET", "k")
	f("", "GET", "missing")
	f("1", "EXISTS", "k")
	if _, err := s.TryDo("NOSUCHCOMMAND"); err == nil || !strings.HasPrefix(err.Error(), "ERR") {
		t.Fatalf("TryDo(NOSUCHCOMMAND) = %v; want an ERR reply", err)
	}
	got := s.CommandCalls("set", "get", "del")
	if got["set"] != 1 || got["get"] != 2 || got["del"] != 0 || len(got) != 3 {
		t.Fatalf("CommandCalls = %v; want set 1, get 2, del 0", got)
	}
}

func TestKillRestart(t *testing.T) {
	s := redistest.Start(t)
	pid, url := s.PID(), s.URL()
	s.Kill()
	if _, err := s.TryDo("PING"); err == nil {
		t.Fatal("PING after Kill answered")
	}
	s.Restart()
	if s.PID() == pid || s.URL() != url {
		t.Fatalf("after Restart: pid %d at %s; want a new pid at %s", s.PID(), s.URL(), url)
	}
	if got := s.Do("PING"); got != "PONG" {
		t.Fatalf("PING after Restart = %q", got)
	}
	s.Restart() // while running
	if got := s.Do("PING"); got != "PONG" {
		t.Fatalf("PING after a second Restart = %q", got)
	}
}

func TestStartTCP(t *testing.T) {
	s := redistest.StartTCP(t, false)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || s.URL() != s.Addr() {
		t.Fatalf("Addr() = %q, URL() = %q; want the same loopback host:port", s.Addr(), s.URL())
	}
	if got := s.Do("PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
}

func TestNewUnstarted(t *testing.T) {
	s := redistest.NewUnstarted(t)
	if s.PID() != 0 {
		t.Fatalf("PID() = %d before the first start; want 0", s.PID())
	}
	if _, err := s.TryDo("PING"); err == nil {
		t.Fatal("PING answered before the first start")
	}
	s.Restart()
	if got := s.Do("PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
}

// TestCleanupStops: processes left running or stopped (SIGSTOP) by a test
// are gone once its cleanup ran.
func TestCleanupStops(t *testing.T) {
	var pids []int
	t.Run("leave", func(t *testing.T) {
		a, b := redistest.Start(t), redistest.StartTCP(t, false)
		b.Signal(syscall.SIGSTOP)
		pids = append(pids, a.PID(), b.PID())
	})
	if len(pids) == 0 {
		t.Skip("no redis-server")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d after cleanup: kill(0) = %v; want ESRCH", pid, err)
		}
	}
}

func TestStartSentinel(t *testing.T) {
	master := redistest.StartTCP(t, false)
	s := redistest.StartSentinel(t, master, "m")
	if got := s.Do("SENTINEL", "ckquorum", "m"); !strings.HasPrefix(got, "OK") {
		t.Fatalf("SENTINEL ckquorum = %q", got)
	}
}

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster")
	}
	nodes := redistest.StartCluster(t, 3)
	if len(nodes) != 3 {
		t.Fatalf("%d nodes; want 3", len(nodes))
	}
	for _, s := range nodes {
		if info := s.Do("CLUSTER", "INFO"); !strings.Contains(info, "cluster_known_nodes:3") {
			t.Fatalf("node %s: CLUSTER INFO:\n%s", s.Addr(), info)
		}
	}
}
