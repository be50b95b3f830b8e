package trace

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestPropagation(t *testing.T) {
	tr := newTestTracer(t, nil, Options{}, nil)
	now := time.Unix(1700000000, 0)

	var s Span
	tr.Start(&s, []byte(tp), []byte("rojo=1"), now)
	if got, want := string(s.AppendTraceID(nil)), tp[3:35]; got != want {
		t.Errorf("trace id = %s; want the caller's %s", got, want)
	}
	if got, want := string(appendHex(nil, s.ParentID[:])), tp[36:52]; got != want {
		t.Errorf("parent id = %s; want the caller's span id %s", got, want)
	}
	if s.SpanID == s.ParentID || s.SpanID == [8]byte{} {
		t.Errorf("span id = %x; want a new one", s.SpanID)
	}
	if s.IsRoot() || !s.Sampled || !s.Start.Equal(now) {
		t.Errorf("span = root %v, sampled %v, start %v; want child, sampled, %v", s.IsRoot(), s.Sampled, s.Start, now)
	}
	out := string(s.AppendTraceparent(nil))
	if want := "00-" + tp[3:35] + "-" + string(appendHex(nil, s.SpanID[:])) + "-01"; out != want {
		t.Errorf("AppendTraceparent = %s; want %s", out, want)
	}
	first := s.SpanID

	// Reusing the Span: a new span id each time, unknown flags cleared,
	// random flag passed on, not-sampled parent followed.
	tr.Start(&s, []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe"), nil, now)
	if s.SpanID == first {
		t.Errorf("span id repeated: %x", s.SpanID)
	}
	if got := string(s.AppendTraceparent(nil)[53:]); got != "02" || s.Sampled || len(s.TraceState()) != 0 {
		t.Errorf("flags = %s, sampled %v, tracestate %q; want 02, false, empty", got, s.Sampled, s.TraceState())
	}

	// No (valid) traceparent: a new trace with the random flag.
	for _, in := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		tr.Start(&s, []byte(in), []byte("rojo=1"), now)
		if !s.IsRoot() || s.TraceID == [16]byte{} || s.SpanID == [8]byte{} || string(s.AppendTraceID(nil)) == tp[3:35] {
			t.Errorf("Start(%q) = trace %x parent %x; want a new trace", in, s.TraceID, s.ParentID)
		}
		if got := string(s.AppendTraceparent(nil)[53:]); got != "03" || len(s.TraceState()) != 0 {
			t.Errorf("Start(%q) flags = %s, tracestate %q; want 03 (sampled, random) and none", in, got, s.TraceState())
		}
	}

	// New traces are new.
	seen := make(map[[16]byte]bool)
	for range 1000 {
		tr.Start(&s, nil, nil, now)
		if seen[s.TraceID] {
			t.Fatalf("trace id %x repeated", s.TraceID)
		}
		seen[s.TraceID] = true
	}
}

// TestRootSampling checks that root spans follow the ratio (decided like
// the SDK on the new trace id) and children the parent.
func TestRootSampling(t *testing.T) {
	tr := newTestTracer(t, map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, Options{}, nil)
	sdk := sdktrace.TraceIDRatioBased(0.25)
	const n = 4000
	sampled := 0
	var s Span
	for range n {
		tr.Start(&s, nil, nil, time.Time{})
		want := sdk.ShouldSample(sdktrace.SamplingParameters{TraceID: trace.TraceID(s.TraceID)}).Decision == sdktrace.RecordAndSample
		if s.Sampled != want {
			t.Fatalf("root %x sampled = %v; SDK says %v", s.TraceID, s.Sampled, want)
		}
		if s.Sampled {
			sampled++
		}
	}
	if sampled < n/8 || sampled > n*3/8 {
		t.Errorf("sampled %d of %d roots at ratio 0.25", sampled, n)
	}
	for _, flags := range []string{"00", "01"} {
		tr.Start(&s, []byte(tp[:53]+flags), nil, time.Time{})
		if s.Sampled != (flags == "01") {
			t.Errorf("parent flags %s: sampled = %v", flags, s.Sampled)
		}
	}
}

func TestExportingOff(t *testing.T) {
	tr, err := New(Options{Getenv: mapEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var s Span
	tr.Start(&s, []byte(tp), nil, time.Now())
	tr.End(&s, &Attrs{Status: 200}, time.Now())
	if tr.Exporting() || tr.Dropped() != 0 || tr.Exported() != 0 {
		t.Errorf("exporting %v, dropped %d, exported %d; want off, 0, 0", tr.Exporting(), tr.Dropped(), tr.Exported())
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if _, err := New(Options{Getenv: mapEnv(map[string]string{"OTEL_TRACES_SAMPLER": "sometimes"})}); !errors.Is(err, ErrEnv) {
		t.Errorf("New(bad sampler) = %v; want ErrEnv", err)
	}
	if _, err := New(Options{Getenv: mapEnv(nil), QueueSize: -1}); !errors.Is(err, ErrOptions) {
		t.Errorf("New(QueueSize -1) = %v; want ErrOptions", err)
	}
}

// TestQueueFull blocks the exporter and checks that End neither blocks nor
// loses count: the queue takes QueueSize spans, the rest are dropped.
func TestQueueFull(t *testing.T) {
	g := newGate()
	tr := newTestTracer(t, nil, Options{QueueSize: 4, BatchSize: 1, FlushInterval: time.Hour}, g)
	var s Span
	end := func(n int) {
		for range n {
			tr.Start(&s, nil, nil, time.Now())
			tr.End(&s, &Attrs{Method: "GET", Status: 200}, time.Now())
		}
	}
	end(1)
	select { // the exporter goroutine holds that span and is stuck exporting it
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no export started")
	}
	end(4) // fills the queue
	if got := tr.Dropped(); got != 0 {
		t.Fatalf("Dropped = %d with the queue not yet full; want 0", got)
	}
	end(10)
	if got := tr.Dropped(); got != 10 {
		t.Fatalf("Dropped = %d; want 10", got)
	}
	close(g.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if got := tr.Exported(); got != 5 {
		t.Errorf("Exported = %d; want 5", got)
	}
	end(1) // after Shutdown: dropped
	if got := tr.Dropped(); got != 11 {
		t.Errorf("Dropped after Shutdown = %d; want 11", got)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}

// TestShutdownDeadline checks that Shutdown returns by its deadline when
// the exporter hangs, counting what it could not send.
func TestShutdownDeadline(t *testing.T) {
	g := newGate() // never released
	tr := newTestTracer(t, nil, Options{QueueSize: 8, BatchSize: 2, FlushInterval: time.Hour}, g)
	var s Span
	for range 5 {
		tr.Start(&s, nil, nil, time.Now())
		tr.End(&s, &Attrs{}, time.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-g.entered; cancel() }() // ends once the first export hangs
	if err := tr.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v; want context.Canceled", err)
	}
	if d, e := tr.Dropped(), tr.Exported(); d != 5 || e != 0 {
		t.Errorf("dropped %d, exported %d; want 5, 0", d, e)
	}
}

func TestNotSampledNotQueued(t *testing.T) {
	g := newGate()
	close(g.release)
	tr := newTestTracer(t, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, Options{}, g)
	var s Span
	tr.Start(&s, []byte(tp), nil, time.Now())
	tr.End(&s, &Attrs{}, time.Now())
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Sampled || tr.Exported() != 0 || tr.Dropped() != 0 || len(g.entered) != 0 {
		t.Errorf("sampled %v, exported %d, dropped %d, exports %d; want nothing", s.Sampled, tr.Exported(), tr.Dropped(), len(g.entered))
	}
}

func TestMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} {
		if got := Method([]byte(m)); got != m {
			t.Errorf("Method(%q) = %q", m, got)
		}
	}
	for _, m := range []string{"", "get", "PROPFIND", "GETX"} {
		if got := Method([]byte(m)); got != "_OTHER" {
			t.Errorf("Method(%q) = %q; want _OTHER", m, got)
		}
	}
}

// TestBatchLargerThanQueue checks that a full queue is exported without
// waiting for FlushInterval when BatchSize exceeds QueueSize.
func TestBatchLargerThanQueue(t *testing.T) {
	g := newGate()
	close(g.release)
	tr := newTestTracer(t, nil, Options{QueueSize: 2, BatchSize: 8, FlushInterval: time.Hour}, g)
	var s Span
	for range 2 {
		tr.Start(&s, nil, nil, time.Now())
		tr.End(&s, &Attrs{}, time.Now())
	}
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("full queue not exported before FlushInterval")
	}
}
