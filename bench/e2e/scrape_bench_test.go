package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkHostScrape16Workers200Routes measures one host scrape (the
// supervisor asks 16 workers for their metrics and sums them) with 200
// routes that all have traffic, through the real binary:
//
//	go test -run '^$' -bench HostScrape -benchtime 20x ./bench/e2e
func BenchmarkHostScrape16Workers200Routes(b *testing.B) {
	up := StartUpstream(b, "scrape")
	var routes strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&routes, "  - id: r%03d\n    match_path: {prefix: \"/r%03d\"}\n    upstream: up\n", i, i)
	}
	cfg := Config(16, "", fmt.Sprintf("upstreams:\n  - name: up\n    base_url: \"http://%s\"\nroutes:\n%s", up.Addr, routes.String()))
	g := StartGateway(b, GatewayOptions{Config: cfg, ReadyTimeout: 60 * time.Second})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// Traffic on every route, over new connections, so every worker has
	// series for many routes and status codes.
	for i := 0; i < 200; i++ {
		for _, p := range []string{"/x", "/status?code=404", "/status?code=503"} {
			resp, err := client.Get(g.URL(fmt.Sprintf("/r%03d%s", i, p)))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	var size int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, body, err := g.Get("/metrics")
		if err != nil || code != 200 {
			b.Fatalf("scrape: %d %v", code, err)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
