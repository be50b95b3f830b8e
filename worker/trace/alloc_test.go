//go:build !race

package trace

import (
	"testing"
	"time"
)

// TestAllocs is the allocation budget of the request path: none, with
// export off, with a span queued, and with the queue full.
func TestAllocs(t *testing.T) {
	now := time.Unix(1700000000, 0)
	parent, state := []byte(tp), []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	a := &Attrs{Route: "api", Upstream: "billing", Method: "GET", Status: 200, Auth: "ok", RateLimit: "allowed"}
	buf := make([]byte, 0, 128)
	var s Span
	f := func(name string, tr *Tracer) {
		t.Helper()
		allocs := testing.AllocsPerRun(1000, func() {
			tr.Start(&s, parent, state, now)
			buf = s.AppendTraceparent(buf[:0])
			buf = s.AppendTraceID(buf[:0])
			tr.End(&s, a, now)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per request; want 0", name, allocs)
		}
	}
	f("export off", newTestTracer(t, nil, Options{}, nil))

	on, stop := drainedTracer()
	defer stop()
	f("export on", on)

	full := &Tracer{sampler: newSampler(true, 1), queue: make(chan record, 1)}
	f("queue full", full)
	if full.Dropped() == 0 {
		t.Errorf("queue full: nothing dropped")
	}
}
