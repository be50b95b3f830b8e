package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseExposition parses a scrape with Prometheus's own text parser (the
// one Prometheus servers use), failing the test on any syntax error, and
// returns every sample as "name{labels}" → value, histogram buckets, sums
// and counts included.
func parseExposition(t *testing.T, body string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics exposition does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := labelString(m.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name+labels] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+labels] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[name+"_count"+labels] = float64(h.GetSampleCount())
				out[name+"_sum"+labels] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[fmt.Sprintf("%s_bucket%s{le=%g}", name, labels, b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			default:
				out[name+labels] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func labelString(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func scrapeParsed(t *testing.T, g *Gateway) map[string]float64 {
	t.Helper()
	code, body, err := g.Get("/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics = %d, %v", code, err)
	}
	return parseExposition(t, body)
}

// isCounterLike reports whether a series may only grow: counters, and the
// buckets, sums and counts of histograms.
func isCounterLike(key string) bool {
	name := key
	if i := strings.IndexByte(key, '{'); i >= 0 {
		name = key[:i]
	}
	if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
		return false // per-process series: a restarted worker starts again
	}
	return strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_count") ||
		strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum")
}

// TestMetricsExactAndMonotonic runs 4 workers: after N proxied requests
// over many connections the host scrape counts exactly N (counter and
// histogram count), every access-log line is JSON carrying the request id
// the client got, and across 5 reloads and a kill -9 of a worker no
// counter-like series ever decreases.
func TestMetricsExactAndMonotonic(t *testing.T) {
	if testing.Short() {
		t.Skip("reloads 5 times")
	}
	t.Parallel()
	up := StartUpstream(t, "obs")
	g := StartGateway(t, GatewayOptions{Config: APIConfig(4, up.Addr, true)})

	const conns, perConn = 16, 50
	const n = conns * perConn
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A client per connection, keep-alive: 16 connections spread
			// over the 4 workers by the kernel.
			cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer cl.CloseIdleConnections()
			for i := 0; i < perConn; i++ {
				resp, err := cl.Get(g.URL(fmt.Sprintf("/api/obs/%d", i)))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
				ids <- resp.Header.Get("X-Request-Id")
			}
		}()
	}
	wg.Wait()
	close(ids)
	if t.Failed() {
		return
	}

	m := scrapeParsed(t, g)
	if got := m[`fluxgate_http_requests_total{method="GET",route="api",status="200"}`]; got != n {
		t.Errorf("requests_total{route=api} = %v; want exactly %d", got, n)
	}
	if got := m[`fluxgate_http_request_duration_seconds_count{route="api"}`]; got != n {
		t.Errorf("request_duration_seconds_count{route=api} = %v; want exactly %d", got, n)
	}

	// Every request has one access-log line, JSON, with the id the client
	// got; the lines show which workers served.
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	var logged map[string]bool
	workers := map[int]bool{}
	if !poll(10*time.Second, func() bool {
		logged = map[string]bool{}
		for _, l := range g.Find(IsMsg("access")) {
			if l.Str("route") == "api" {
				logged[l.Str("request_id")] = true
				workers[l.Int("worker")] = true
			}
		}
		return len(logged) >= n
	}) {
		t.Errorf("access log has %d api lines; want %d", len(logged), n)
	}
	for id := range want {
		if !logged[id] {
			t.Errorf("request id %q returned to the client is not in the access log", id)
			break
		}
	}
	if len(workers) < 2 {
		t.Errorf("access log shows workers %v; want traffic on several of the 4", workers)
	}

	// Monotonic across 5 reloads and a kill -9.
	prev := m
	check := func(when string) {
		t.Helper()
		cur := scrapeParsed(t, g)
		for k, v := range prev {
			if !isCounterLike(k) {
				continue
			}
			if nv, ok := cur[k]; ok && nv < v {
				t.Errorf("%s: %s went from %v to %v", when, k, v, nv)
			} else if !ok && strings.HasPrefix(k, "fluxgate_") {
				t.Errorf("%s: %s disappeared (was %v)", when, k, v)
			}
		}
		prev = cur
	}
	for gen := 2; gen <= 6; gen++ {
		g.Get("/api/between-reloads")
		g.Signal(syscall.SIGHUP)
		g.WaitLog(20*time.Second, IsMsg("reload", "result", "ok", "gen", gen))
		check(fmt.Sprintf("after reload to generation %d", gen))
	}
	for pid := range g.Workers(6) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		break
	}
	g.WaitLog(10*time.Second, IsMsg("worker restart scheduled"))
	g.WaitReadyz(15*time.Second, "4 workers", func(r Readyz) bool { return r.Workers == 4 })
	check("after kill -9 of a worker")
	if got := prev[`fluxgate_config_reloads_total{result="ok"}`]; got != 5 {
		t.Errorf("config_reloads_total{result=ok} = %v; want 5", got)
	}
}

// TestAccessLogLineFields checks one access-log line field by field.
func TestAccessLogLineFields(t *testing.T) {
	t.Parallel()
	up := StartUpstream(t, "log")
	g := StartGateway(t, GatewayOptions{Config: APIConfig(1, up.Addr, true)})
	req, _ := http.NewRequest("GET", g.URL("/api/fields?secret=1"), nil)
	req.Header.Set("X-Request-ID", "obs-fields-1")
	req.Header.Set("Authorization", "Bearer should-never-be-logged")
	resp, err := g.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	line := g.WaitLog(10*time.Second, IsMsg("access", "request_id", "obs-fields-1"))
	raw, _ := json.Marshal(line)
	for k, want := range map[string]any{"method": "GET", "path": "/api/fields", "route": "api", "upstream": "up", "status": float64(200), "client": "127.0.0.1"} {
		if line[k] != want {
			t.Errorf("access log %s = %v; want %v (line %s)", k, line[k], want, raw)
		}
	}
	for _, k := range []string{"time", "took", "bytes_out", "gen", "worker"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access log lacks %q: %s", k, raw)
		}
	}
	if strings.Contains(string(raw), "should-never-be-logged") || strings.Contains(string(raw), "secret=1") {
		t.Errorf("access log leaks the token or the query: %s", raw)
	}
}
