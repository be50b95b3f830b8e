package redistest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Deadlines of the waits (see the package doc).
const (
	readyTimeout   = 10 * time.Second // PING after a start; a sentinel's quorum
	createTimeout  = 30 * time.Second // redis-cli --cluster create
	clusterTimeout = 20 * time.Second // cluster_state:ok on every node
	pollInterval   = 5 * time.Millisecond
	maxSocketPath  = 107 // sockaddr_un.sun_path less the NUL
	startAttempts  = 20  // TCP ports tried before giving up
)

// Server is a redis-server process owned by a test, listening on a unix
// socket or on one loopback TCP port, the same across Kill and Restart.
type Server struct {
	t    testing.TB
	bin  string // redis-server; "" until the first start
	dir  string // --dir, also the working directory
	sock string // unix socket; "" for TCP
	port int    // TCP port; 0 for a unix socket
	conf string // config file given first, or ""
	args []string

	cmd  *exec.Cmd     // nil until the first start
	out  *bytes.Buffer // redis's output; read only once done is closed
	done chan struct{} // closed once cmd has exited (one goroutine waits)
}

// Start starts a redis-server on a unix socket with the extra arguments
// (e.g. "--maxmemory", "1mb") and returns it once it answers PING.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := NewUnstarted(t, extra...)
	s.Restart()
	return s
}

// NewUnstarted returns a Server on a unix socket, with its URL known but
// no process yet: Restart starts it. It lets a test see a client's
// behaviour before Redis exists.
func NewUnstarted(t testing.TB, extra ...string) *Server {
	t.Helper()
	dir := t.TempDir()
	if len(filepath.Join(dir, "redis.sock")) > maxSocketPath {
		var err error
		if dir, err = os.MkdirTemp("", "redistest-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := &Server{t: t, dir: dir, sock: filepath.Join(dir, "redis.sock"), args: extra}
	t.Cleanup(s.stop)
	return s
}

// StartTCP starts a redis-server on a free loopback TCP port with the
// extra arguments and returns it once it answers PING. With cluster set
// the port is below 55536 and port+10000 (the cluster bus) is free too.
func StartTCP(t testing.TB, cluster bool, extra ...string) *Server {
	t.Helper()
	return startTCP(t, t.TempDir(), "", cluster, extra...)
}

// startTCP is StartTCP in dir, with conf (if any) as the first argument.
// A port taken between picking and binding costs one more attempt.
func startTCP(t testing.TB, dir, conf string, cluster bool, extra ...string) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	for range startAttempts {
		s := &Server{t: t, bin: bin, dir: dir, port: freePort(t, cluster), conf: conf, args: extra}
		err := s.tryStart()
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		if !strings.Contains(err.Error(), "in use") {
			t.Fatal(err)
		}
	}
	t.Fatalf("redistest: no free TCP port for redis-server in %d attempts", startAttempts)
	return nil
}

// freePort picks a loopback port that is free now (and port+10000 too for
// a cluster node). Someone may take it before redis binds it: the caller
// retries.
func freePort(t testing.TB, cluster bool) int {
	t.Helper()
	for range 100 {
		addr := "127.0.0.1:0"
		if cluster {
			addr = "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(10000))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !cluster {
			return port
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("redistest: no free loopback port")
	return 0
}

// lookPath finds a program on PATH or skips the test.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s: %v", name, err)
	}
	return bin
}

// tryStart starts the process and waits until it answers PING; on error
// no process runs.
func (s *Server) tryStart() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--save", "", "--appendonly", "no", "--dir", s.dir)
	if s.sock != "" {
		args = append(args, "--port", "0", "--unixsocket", s.sock, "--unixsocketperm", "700")
	} else {
		args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1")
	}
	args = append(args, s.args...)
	s.out = new(bytes.Buffer)
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("redistest: %w", err)
	}
	done := make(chan struct{})
	s.done = done
	go func(c *exec.Cmd) { c.Wait(); close(done) }(s.cmd)
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	ready := poll(readyTimeout, func() bool {
		if exited() {
			return true
		}
		reply, err := s.TryDo("PING")
		return err == nil && reply == "PONG"
	})
	switch {
	case exited():
		return fmt.Errorf("redistest: redis-server exited: %s", s.out)
	case !ready:
		s.Kill()
		return fmt.Errorf("redistest: redis-server %s not ready within %v: %s", s.URL(), readyTimeout, s.out)
	}
	return nil
}

// poll checks cond on a ticker until it holds or timeout passes, and
// reports whether it held.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// Restart stops the process if it runs (SIGKILL) and starts redis-server
// again on the same socket or port, with the same arguments; it returns
// once it answers PING. For a Server from NewUnstarted it is the first
// start. It skips the test when redis-server is not on PATH.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if s.bin == "" {
		s.bin = lookPath(s.t, "redis-server")
	}
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

// PID is the pid of the current (or last) process; 0 before the first
// start.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// URL is the address a client (the gateway's redis.url, rueidis) dials:
// unix:///path for a unix socket, else host:port.
func (s *Server) URL() string {
	if s.sock != "" {
		return "unix://" + s.sock
	}
	return s.Addr()
}

// Addr is the TCP host:port; "" for a server on a unix socket.
func (s *Server) Addr() string {
	if s.sock != "" {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// Kill stops the process with SIGKILL (by PID) and waits until it has
// exited. It does nothing if no process runs.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Signal sends sig to the process (SIGSTOP freezes it; cleanup resumes
// it before the kill). It fails the test if no process runs.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatalf("redistest: %v to a redis-server never started", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: redis-server %d: %v: %v", s.PID(), sig, err)
	}
}

// stop is the cleanup: resume (in case the test stopped it), kill, wait,
// and show the output if the test failed.
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	s.Kill()
	if s.t.Failed() && s.out.Len() > 0 {
		s.t.Logf("redis-server %s output:\n%s", s.URL(), s.out)
	}
}
