package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssKiB reads VmRSS (current resident set) of pid in KiB.
func rssKiB(tb testing.TB, pid int) int {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	tb.Fatalf("no VmRSS for %d", pid)
	return 0
}

// BenchmarkIdleMemory measures the RSS of idle workers, then holds
// FLUXGATE_IDLE_CONNS (default 10000) idle keep-alive client connections,
// each after one request, and reports the extra RSS over all processes of
// the host (supervisor and workers). FLUXGATE_IDLE_REDUCE=1 turns on
// server.reduce_idle_memory; FLUXGATE_IDLE_HEADER_BYTES sets
// max_header_bytes. Run alone:
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x ./bench/e2e
func BenchmarkIdleMemory(b *testing.B) {
	conns := 10000
	if v, err := strconv.Atoi(os.Getenv("FLUXGATE_IDLE_CONNS")); err == nil {
		conns = v
	}
	up := StartUpstream(b, "idle")
	hdr := os.Getenv("FLUXGATE_IDLE_HEADER_BYTES")
	if hdr == "" {
		hdr = "65536"
	}
	extra := "  idle_timeout_secs: 600\n  max_header_bytes: " + hdr
	if os.Getenv("FLUXGATE_IDLE_REDUCE") != "" {
		extra += "\n  reduce_idle_memory: true"
	}
	cfg := Config(2, extra, fmt.Sprintf("upstreams:\n  - name: up\n    base_url: \"http://%s\"\nroutes:\n  - id: api\n    match_path: {prefix: \"/api\"}\n    upstream: up\n", up.Addr))
	g := StartGateway(b, GatewayOptions{Config: cfg})
	pids := []int{g.PID()}
	for pid := range g.Workers(1) {
		pids = append(pids, pid)
	}
	total := func() (sum int, per []int) {
		for _, pid := range pids {
			n := rssKiB(b, pid)
			per = append(per, n)
			sum += n
		}
		return sum, per
	}
	// Warm up: some traffic so pools and code pages are resident.
	for i := 0; i < 200; i++ {
		g.Get("/api/warm")
	}
	before, per := total()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		held := make([]net.Conn, 0, conns)
		for j := 0; j < conns; j++ {
			c, err := net.Dial("tcp", g.Addr)
			if err != nil {
				b.Fatalf("connection %d: %v", j, err)
			}
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			r := bufio.NewReader(c)
			line, err := r.ReadString('\n')
			if err != nil || !strings.Contains(line, "200") {
				b.Fatalf("connection %d: %q %v", j, line, err)
			}
			for { // rest of the head and the small body
				l, err := r.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if l == "\r\n" {
					break
				}
			}
			io.ReadFull(r, make([]byte, len(`{"status":"ok"}`)))
			held = append(held, c)
		}
		deadline := time.Now().Add(2 * time.Second) // let the workers settle
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond) // measurement settling time, not synchronisation
		}
		after, _ := total()
		if os.Getenv("FLUXGATE_IDLE_DEBUG") != "" {
			_, body, _ := g.Get("/metrics")
			for _, l := range strings.Split(body, "\n") {
				if strings.Contains(l, "stack_inuse") || strings.Contains(l, "heap_inuse") || strings.Contains(l, "heap_alloc_bytes") || strings.Contains(l, "go_goroutines") || strings.Contains(l, "sys_bytes{") {
					b.Log(l)
				}
			}
		}
		b.ReportMetric(float64(after-before)/1024, "MiB-extra-host")
		b.ReportMetric(float64(per[1])/1024, "MiB-idle-worker")
		for _, c := range held {
			c.Close()
		}
	}
}
