package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scrape fetches /metrics and returns series → value.
func scrape(t *testing.T, g *Gateway) map[string]float64 {
	t.Helper()
	code, body, err := g.Get("/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics = %d, %v", code, err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

const healthzOK = `fluxgate_http_requests_total{route="none",method="GET",status="200"}`

// TestHostMetrics: one scrape is the sum over all workers, Go runtime
// series carry a worker label, and counters never go backwards across a
// reload or a killed worker.
func TestHostMetrics(t *testing.T) {
	g := StartGateway(t, GatewayOptions{Config: Config(2, "", "")})
	for range 50 {
		if _, err := g.GetReadyz(); err != nil { // new connection each: both workers
			t.Fatal(err)
		}
	}
	m := scrape(t, g)
	for _, k := range []string{`go_goroutines{worker="0"}`, `go_goroutines{worker="1"}`, `go_goroutines{worker="supervisor"}`,
		`fluxgate_workers_live`, `fluxgate_config_reloads_total{result="ok"}`} {
		if _, ok := m[k]; !ok {
			t.Errorf("/metrics lacks %s", k)
		}
	}
	total := requestsTotal
	before := total(m)
	if before < 50 {
		t.Errorf("requests total = %v; want ≥ 50 (summed over workers)", before)
	}

	g.Signal(syscall.SIGHUP)
	g.WaitLog(15*time.Second, IsMsg("reload", "result", "ok", "gen", 2))
	for pid := range g.Workers(1) {
		WaitGone(pid, 10*time.Second)
	}
	m = scrape(t, g)
	if after := total(m); after < before {
		t.Errorf("requests total after reload = %v; was %v (went backwards)", after, before)
	}
	if m[`fluxgate_config_reloads_total{result="ok"}`] != 1 {
		t.Errorf("reloads ok = %v; want 1", m[`fluxgate_config_reloads_total{result="ok"}`])
	}
	before = total(m)
	for pid := range g.Workers(2) {
		syscall.Kill(pid, syscall.SIGKILL)
		break
	}
	g.WaitLog(10*time.Second, IsMsg("worker restart scheduled"))
	g.WaitReadyz(10*time.Second, "2 workers", func(r Readyz) bool { return r.Workers == 2 })
	if after := total(scrape(t, g)); after < before {
		t.Errorf("requests total after a crash = %v; was %v (went backwards)", after, before)
	}
}

// requestsTotal sums fluxgate_http_requests_total over all labels.
func requestsTotal(m map[string]float64) float64 {
	sum := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "fluxgate_http_requests_total{") {
			sum += v
		}
	}
	return sum
}
