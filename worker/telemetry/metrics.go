// Package telemetry holds a worker's metrics. Every series a worker exports
// is a host total once the supervisor has summed the workers, so no series
// here carries a per-process label; the supervisor adds the worker label to
// process and Go runtime series.
//
// Invariants: label values come only from the config (route ids, upstream
// and policy names) and from fixed sets (methods, status codes, reasons), so
// cardinality is bounded; recording a request does not allocate once its
// (method, status) series exists.
package telemetry

import (
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// NoRoute is the route label of requests answered before routing.
const NoRoute = "none"

// DurationBuckets are the upper bounds (seconds) of the latency
// histograms, chosen for a proxy: 250 µs to 30 s. Read-only.
var DurationBuckets = []float64{
	0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// Metrics is one worker's metric set.
type Metrics struct {
	set      *metrics.Set
	inflight atomic.Int64
	routes   []*Route
	none     *Route

	// Panics counts requests whose handling panicked (answered 500).
	Panics *metrics.Counter
}

// New creates the metric set for the given route ids.
func New(routeIDs []string) *Metrics {
	m := &Metrics{set: metrics.NewSet()}
	m.set.NewGauge("fluxgate_http_requests_in_flight", func() float64 {
		return float64(m.inflight.Load())
	})
	m.routes = make([]*Route, len(routeIDs))
	for i, id := range routeIDs {
		m.routes[i] = newRoute(m.set, id)
	}
	m.none = newRoute(m.set, NoRoute)
	m.Panics = m.set.NewCounter("fluxgate_http_panics_total")
	return m
}

// Set exposes the underlying set so other packages' metrics of this worker
// land in the same exposition.
func (m *Metrics) Set() *metrics.Set { return m.set }

// Route returns the metrics of route i (config order); i < 0 = NoRoute.
func (m *Metrics) Route(i int) *Route {
	if i < 0 || i >= len(m.routes) {
		return m.none
	}
	return m.routes[i]
}

// Begin counts a request in flight; End must follow.
func (m *Metrics) Begin() { m.inflight.Add(1) }

// End counts a request out of flight.
func (m *Metrics) End() { m.inflight.Add(-1) }

// WritePrometheus writes the worker's series in Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) { m.set.WritePrometheus(w) }

// Route holds the series of one route.
type Route struct {
	id       string
	set      *metrics.Set
	duration *metrics.PrometheusHistogram
	mu       sync.Mutex // serialises creation of counters
	counters atomic.Pointer[map[uint32]*metrics.Counter]
}

func newRoute(set *metrics.Set, id string) *Route {
	r := &Route{id: id, set: set}
	r.duration = set.NewPrometheusHistogramExt(
		`fluxgate_http_request_duration_seconds{route=`+QuoteLabel(id)+`}`, DurationBuckets)
	empty := map[uint32]*metrics.Counter{}
	r.counters.Store(&empty)
	return r
}

// Observe records one finished request.
func (r *Route) Observe(method []byte, status int, took time.Duration) {
	r.counter(MethodIndex(method), status).Inc()
	r.duration.Update(took.Seconds())
}

func (r *Route) counter(mi, status int) *metrics.Counter {
	k := uint32(mi)<<16 | uint32(status)&0xffff
	if c := (*r.counters.Load())[k]; c != nil {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.counters.Load()
	if c := old[k]; c != nil {
		return c
	}
	c := r.set.GetOrCreateCounter(`fluxgate_http_requests_total{route=` + QuoteLabel(r.id) +
		`,method="` + methods[mi] + `",status="` + strconv.Itoa(status) + `"}`)
	next := make(map[uint32]*metrics.Counter, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = c
	r.counters.Store(&next)
	return c
}

// methods is the fixed set of method label values; the last is for any
// other method.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"}

// MethodIndex maps a request method to its label index; unknown methods
// map to "OTHER".
func MethodIndex(m []byte) int {
	for i, s := range methods[:len(methods)-1] {
		if string(m) == s {
			return i
		}
	}
	return len(methods) - 1
}

// QuoteLabel quotes v as a Prometheus label value: backslash, double quote
// and newline escaped, everything else (UTF-8 included) as is.
func QuoteLabel(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
