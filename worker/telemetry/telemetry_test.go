package telemetry

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMethodIndex(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := methods[MethodIndex([]byte(in))]; got != want {
			t.Errorf("MethodIndex(%q) = %q; want %q", in, got, want)
		}
	}
	f("GET", "GET")
	f("DELETE", "DELETE")
	f("TRACE", "TRACE")
	f("get", "OTHER") // methods are case-sensitive
	f("PURGE", "OTHER")
	f("", "OTHER")
}

func TestRouteSeries(t *testing.T) {
	m := New([]string{"api", `we"ird`})
	m.Route(0).Observe([]byte("GET"), 200, time.Millisecond)
	m.Route(0).Observe([]byte("GET"), 200, time.Millisecond)
	m.Route(0).Observe([]byte("BREW"), 418, 2*time.Second)
	m.Route(1).Observe([]byte("GET"), 200, 0)
	m.Route(-1).Observe([]byte("GET"), 404, 0)
	m.Route(99).Observe([]byte("GET"), 404, 0) // out of range: "none"
	var b bytes.Buffer
	m.WritePrometheus(&b)
	out := b.String()
	for _, want := range []string{
		`fluxgate_http_requests_total{route="api",method="GET",status="200"} 2`,
		`fluxgate_http_requests_total{route="api",method="OTHER",status="418"} 1`,
		`fluxgate_http_requests_total{route="none",method="GET",status="404"} 2`,
		`fluxgate_http_request_duration_seconds_bucket{route="api",le="0.001"} 2`,
		`fluxgate_http_request_duration_seconds_bucket{route="api",le="2.5"} 3`,
		`fluxgate_http_request_duration_seconds_count{route="api"} 3`,
		`fluxgate_http_requests_in_flight 0`,
		`fluxgate_http_requests_total{route="we\"ird",method="GET",status="200"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestQuoteLabel(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := QuoteLabel(in); got != want {
			t.Errorf("QuoteLabel(%q) = %s; want %s", in, got, want)
		}
	}
	f("api", `"api"`)
	f(`we"ird`, `"we\"ird"`)
	f(`back\slash`, `"back\\slash"`)
	f("new\nline", `"new\nline"`)
	f("ünï", `"ünï"`)
}

func TestObserveAllocs(t *testing.T) {
	r := New([]string{"api"}).Route(0)
	get := []byte("GET")
	r.Observe(get, 200, time.Millisecond) // creates the series
	if n := testing.AllocsPerRun(1000, func() { r.Observe(get, 200, time.Millisecond) }); n != 0 {
		t.Errorf("Observe: %v allocs; want 0 once the series exists", n)
	}
}

// syncBuf is a bytes.Buffer safe for concurrent Write and String.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLineWriter: whole lines only, from many goroutines, all flushed by
// Close; a full buffer is flushed without waiting for the interval.
func TestLineWriter(t *testing.T) {
	var out syncBuf
	lw := NewLineWriter(&out, time.Hour) // only size and Close flush
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 1000; i++ {
				lw.WriteLine([]byte(strings.Repeat("x", 99) + "\n"))
			}
		})
	}
	wg.Wait()
	if n := len(out.String()); n == 0 || n%100 != 0 {
		t.Errorf("before Close: %d bytes written; want whole 100-byte lines flushed by size", n)
	}
	lw.Close()
	if got := out.String(); len(got) != 8*1000*100 || strings.Count(got, "\n") != 8000 {
		t.Errorf("after Close: %d bytes, %d lines; want 800000, 8000", len(got), strings.Count(got, "\n"))
	}
}

// BenchmarkObserve is the metrics cost of one request: counter and
// histogram update.
func BenchmarkObserve(b *testing.B) {
	r := New([]string{"api"}).Route(0)
	get := []byte("GET")
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(get, 200, 1500*time.Microsecond)
	}
}
