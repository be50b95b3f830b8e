package ratelimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

const redisBinary = "/usr/bin/redis-server"

// redisServer is a redis-server process started by a test, listening on a
// unix socket in the test's temporary directory (or on a TCP port).
type redisServer struct {
	t    testing.TB
	dir  string
	sock string // unix socket path; "" for TCP
	port int    // TCP port; 0 for unix
	conf string // config file, or ""
	args []string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	// exited is closed when cmd has exited (the only goroutine that waits
	// for it); out may be read only after that.
	exited chan struct{}
}

// startRedis starts a private redis-server on a unix socket and waits until
// it answers PING. It is stopped (SIGKILL by PID) in t.Cleanup.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	if _, err := os.Stat(redisBinary); err != nil {
		t.Skipf("no %s: %v", redisBinary, err)
	}
	dir := t.TempDir()
	s := &redisServer{t: t, dir: dir, sock: filepath.Join(dir, "redis.sock"), args: extra}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// startRedisTCP starts a private redis-server on a free loopback TCP port
// in dir, retrying with another port if redis reports the address in use.
// With cluster set, the port is below 55536 and port+10000 (the cluster bus)
// is free too.
func startRedisTCP(t testing.TB, dir string, cluster bool, extra ...string) *redisServer {
	t.Helper()
	return startRedisConf(t, dir, "", cluster, extra...)
}

// startRedisConf is startRedisTCP with a config file (written by the
// caller; redis-server may rewrite it) as the first argument.
func startRedisConf(t testing.TB, dir, conf string, cluster bool, extra ...string) *redisServer {
	t.Helper()
	for range 20 {
		port := freePort(t, cluster)
		s := &redisServer{t: t, dir: dir, port: port, conf: conf, args: extra}
		if err := s.tryStart(); err != nil {
			if strings.Contains(err.Error(), "in use") {
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(s.kill)
		return s
	}
	t.Fatal("no free TCP port for redis-server")
	return nil
}

// freePort picks a loopback port that is free now (and port+10000 too, for
// a cluster node). Another process may take it before redis binds it: the
// caller retries.
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
	t.Fatal("no free port")
	return 0
}

func (s *redisServer) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *redisServer) tryStart() error {
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
	s.cmd = exec.Command(redisBinary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(c *exec.Cmd) { c.Wait(); close(exited) }(s.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %s", s.out)
		default:
		}
		if r, err := s.tryDo("PING"); err == nil && r == "PONG" {
			return nil
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
	s.cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server not ready: %s", s.out)
}

// url is the rueidis URL of the server.
func (s *redisServer) url() string {
	if s.sock != "" {
		return "unix://" + s.sock
	}
	return s.addr()
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) kill() {
	if s.exited == nil {
		return // never started
	}
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	if s.t.Failed() && s.out.Len() > 0 {
		s.t.Logf("redis-server output:\n%s", s.out)
	}
}

func (s *redisServer) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

func (s *redisServer) dial() (net.Conn, error) {
	if s.sock != "" {
		return net.DialTimeout("unix", s.sock, time.Second)
	}
	return net.DialTimeout("tcp", s.addr(), time.Second)
}

// do runs one command on a fresh connection and returns the reply as text
// (simple string, integer or bulk string).
func (s *redisServer) do(args ...string) string {
	s.t.Helper()
	r, err := s.tryDo(args...)
	if err != nil {
		s.t.Fatalf("redis %v: %v", args, err)
	}
	return r
}

func (s *redisServer) tryDo(args ...string) (string, error) {
	c, err := s.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// commandCalls returns the calls count of a command from INFO commandstats.
func (s *redisServer) commandCalls(name string) int {
	s.t.Helper()
	info := s.do("INFO", "commandstats")
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls=")
		if ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}
