package e2e

import (
	"bufio"
	"bytes"
	"context"
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

// redisBinary is the redis-server the tests start; a test that needs it is
// skipped when it is missing. The system Redis (:6379) is never used.
const redisBinary = "redis-server"

// redisProc is a redis-server process started by a test, on a unix socket
// in a private directory or on a free loopback TCP port. It is stopped by
// PID (SIGCONT, then SIGKILL) at cleanup.
type redisProc struct {
	t    testing.TB
	bin  string
	dir  string
	sock string // unix socket; "" for TCP
	port int    // TCP port; 0 for a unix socket
	args []string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{} // closed when cmd exited
}

func lookRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath(redisBinary)
	if err != nil {
		t.Skipf("no %s: %v", redisBinary, err)
	}
	return bin
}

// StartRedis starts a private redis-server on a unix socket and waits until
// it answers PING.
func StartRedis(t testing.TB, extra ...string) *redisProc {
	t.Helper()
	// A short directory: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "fg-redis-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &redisProc{t: t, bin: lookRedis(t), dir: dir, sock: filepath.Join(dir, "redis.sock"), args: extra}
	t.Cleanup(r.cleanup)
	if err := r.tryStart(); err != nil {
		t.Fatal(err)
	}
	return r
}

// StartRedisTCP starts a private redis-server on a free loopback port,
// retrying with another port when the chosen one was taken meanwhile. With
// cluster set the port is below 55536 and port+10000 (the cluster bus) is
// free too.
func StartRedisTCP(t testing.TB, cluster bool, extra ...string) *redisProc {
	t.Helper()
	dir := t.TempDir()
	bin := lookRedis(t)
	for range 20 {
		r := &redisProc{t: t, bin: bin, dir: dir, port: freeRedisPort(t, cluster), args: extra}
		err := r.tryStart()
		if err == nil {
			t.Cleanup(r.cleanup)
			return r
		}
		if !strings.Contains(err.Error(), "in use") {
			t.Fatal(err)
		}
	}
	t.Fatal("no free TCP port for redis-server")
	return nil
}

// freeRedisPort picks a loopback port that is free now (and port+10000 for
// a cluster node). Someone may take it before redis binds it: callers retry.
func freeRedisPort(t testing.TB, cluster bool) int {
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

// tryStart starts the process and waits for PING; on failure the process
// is gone.
func (r *redisProc) tryStart() error {
	args := []string{"--save", "", "--appendonly", "no", "--dir", r.dir}
	if r.sock != "" {
		args = append(args, "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700")
	} else {
		args = append(args, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1")
	}
	args = append(args, r.args...)
	r.out = new(bytes.Buffer)
	r.cmd = exec.Command(r.bin, args...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	r.done = done
	go func(c *exec.Cmd) { c.Wait(); close(done) }(r.cmd)
	ok := poll(10*time.Second, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		reply, err := r.TryDo("PING")
		return err == nil && reply == "PONG"
	})
	select {
	case <-done:
		return fmt.Errorf("redis-server exited: %s", r.out)
	default:
	}
	if !ok {
		r.Kill()
		return fmt.Errorf("redis-server not ready: %s", r.out)
	}
	return nil
}

// Restart starts redis-server again with the same socket or port (after
// Kill).
func (r *redisProc) Restart() {
	r.t.Helper()
	if err := r.tryStart(); err != nil {
		r.t.Fatal(err)
	}
}

// PID is the running process's pid.
func (r *redisProc) PID() int { return r.cmd.Process.Pid }

// URL is the gateway's redis.url for this server.
func (r *redisProc) URL() string {
	if r.sock != "" {
		return "unix://" + r.sock
	}
	return r.Addr()
}

// Addr is host:port (TCP servers).
func (r *redisProc) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Kill stops the process with SIGKILL (by PID) and waits for it.
func (r *redisProc) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// Signal sends sig to the process.
func (r *redisProc) Signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server %d: %v: %v", r.PID(), sig, err)
	}
}

func (r *redisProc) cleanup() {
	if r.cmd != nil && r.cmd.Process != nil {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Signal(syscall.SIGCONT) // in case a test stopped it
		}
	}
	r.Kill()
	if r.t.Failed() && r.out != nil && r.out.Len() > 0 {
		r.t.Logf("redis-server output:\n%s", r.out)
	}
}

func (r *redisProc) dial() (net.Conn, error) {
	if r.sock != "" {
		return net.DialTimeout("unix", r.sock, time.Second)
	}
	return net.DialTimeout("tcp", r.Addr(), time.Second)
}

// Do runs one command on a fresh connection and returns the reply as text
// (simple string, integer or bulk string).
func (r *redisProc) Do(args ...string) string {
	r.t.Helper()
	reply, err := r.TryDo(args...)
	if err != nil {
		r.t.Fatalf("redis %v: %v", args, err)
	}
	return reply
}

// TryDo is Do returning the error.
func (r *redisProc) TryDo(args ...string) (string, error) {
	c, err := r.dial()
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
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
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
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// CommandCalls returns the calls of each named command from INFO
// commandstats (0 for a command never called).
func (r *redisProc) CommandCalls(names ...string) map[string]int {
	r.t.Helper()
	info := r.Do("INFO", "commandstats")
	out := make(map[string]int, len(names))
	for _, name := range names {
		out[name] = 0
	}
	for line := range strings.SplitSeq(info, "\n") {
		for _, name := range names {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls="); ok {
				out[name], _ = strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			}
		}
	}
	return out
}

// StartRedisCluster starts three redis-server processes as cluster masters
// (redis-cli --cluster create, no replicas) and waits for cluster_state:ok
// on each.
func StartRedisCluster(t testing.TB) []*redisProc {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("no redis-cli")
	}
	var nodes []*redisProc
	var addrs []string
	for range 3 {
		n := StartRedisTCP(t, true, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		nodes = append(nodes, n)
		addrs = append(addrs, n.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		if !poll(20*time.Second, func() bool {
			info, err := n.TryDo("CLUSTER", "INFO")
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}) {
			t.Fatalf("cluster node %s: no cluster_state:ok", n.Addr())
		}
	}
	return nodes
}
