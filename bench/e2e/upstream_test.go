package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// slowUpstream is an in-process HTTP upstream that answers after a delay
// and counts arrivals, so a test knows when requests are in flight.
type slowUpstream struct {
	addr    string
	arrived atomic.Int64
}

func startSlowUpstream(t *testing.T, delay time.Duration) *slowUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &slowUpstream{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.arrived.Add(1)
		select {
		case <-time.After(delay): // the upstream's latency, not synchronisation
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("slow ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return u
}

// Upstream is a bench/upstream process (see its package doc for endpoints).
type Upstream struct {
	Addr string
	PID  int
}

// StartUpstream starts bench/upstream on a free loopback port, waits for its
// "listening on ADDR" line and stops it (by pid) at cleanup.
func StartUpstream(t testing.TB, name string) *Upstream {
	t.Helper()
	cmd := exec.Command(UpstreamBinary(), "-addr", "127.0.0.1:0", "-name", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u := &Upstream{PID: cmd.Process.Pid}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("upstream %d ignored SIGTERM", u.PID)
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("upstream %s stderr:\n%s", name, stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- strings.TrimSpace(a)
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case u.Addr = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatalf("upstream %s: no listening line", name)
	}
	return u
}
