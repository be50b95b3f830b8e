package trace

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkRequest is the per-request cost: Start with an incoming
// traceparent (or none), AppendTraceparent for the upstream request,
// AppendTraceID for the access log, End.
func BenchmarkRequest(b *testing.B) {
	now := time.Unix(1700000000, 0)
	a := &Attrs{Route: "api", Upstream: "billing", Method: "GET", Status: 200, Auth: "ok", RateLimit: "allowed"}
	run := func(b *testing.B, tr *Tracer, parent, state []byte) {
		b.ReportAllocs()
		buf := make([]byte, 0, 128)
		var s Span
		for b.Loop() {
			tr.Start(&s, parent, state, now)
			buf = s.AppendTraceparent(buf[:0])
			buf = s.AppendTraceID(buf)
			tr.End(&s, a, now)
		}
	}
	off := newTestTracer(b, nil, Options{}, nil)
	b.Run("off/child", func(b *testing.B) { run(b, off, []byte(tp), nil) })
	b.Run("off/root", func(b *testing.B) { run(b, off, nil, nil) })
	b.Run("off/child+tracestate", func(b *testing.B) {
		run(b, off, []byte(tp), []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"))
	})
	b.Run("on/child", func(b *testing.B) { // the queue push; a goroutine discards
		on, stop := drainedTracer()
		defer stop()
		run(b, on, []byte(tp), nil)
	})
	b.Run("on/queue-full", func(b *testing.B) { // the drop path
		run(b, &Tracer{sampler: newSampler(true, 1), queue: make(chan record, 1)}, []byte(tp), nil)
	})
	b.Run("on/with-exporter-goroutine", func(b *testing.B) {
		// The real exporter goroutine building SDK spans for a discarding
		// exporter: allocs/op include that background work.
		tr := newTestTracer(b, nil, Options{}, discard{})
		run(b, tr, []byte(tp), nil)
		tr.Shutdown(context.Background())
		b.ReportMetric(float64(tr.Dropped())/float64(b.N), "dropped/op")
	})
}

// BenchmarkRequestParallel is BenchmarkRequest from every P at once.
func BenchmarkRequestParallel(b *testing.B) {
	now := time.Unix(1700000000, 0)
	a := &Attrs{Route: "api", Method: "GET", Status: 200}
	run := func(b *testing.B, tr *Tracer) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 128)
			var s Span
			for pb.Next() {
				tr.Start(&s, []byte(tp), nil, now)
				buf = s.AppendTraceparent(buf[:0])
				tr.End(&s, a, now)
			}
		})
	}
	b.Run("off", func(b *testing.B) { run(b, newTestTracer(b, nil, Options{}, nil)) })
	b.Run("on", func(b *testing.B) {
		on, stop := drainedTracer()
		defer stop()
		run(b, on)
	})
}

// BenchmarkIDSource compares the span id source used (the runtime's
// per-thread ChaCha8 behind math/rand/v2) with one ChaCha8 per Tracer
// behind a mutex, from every P at once.
func BenchmarkIDSource(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var id [8]byte
			for pb.Next() {
				newSpanID(&id)
			}
		})
	})
	b.Run("mutex-chacha8", func(b *testing.B) {
		var seed [32]byte
		crand.Read(seed[:])
		var mu sync.Mutex
		r := rand.NewChaCha8(seed)
		b.RunParallel(func(pb *testing.PB) {
			var id [8]byte
			for pb.Next() {
				mu.Lock()
				v := r.Uint64()
				mu.Unlock()
				binary.BigEndian.PutUint64(id[:], v)
			}
		})
	})
}

// BenchmarkSDKReference does the same work through the OpenTelemetry SDK
// (W3C propagator, SDK tracer with a batch processor), for comparison.
func BenchmarkSDKReference(b *testing.B) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithBatcher(discard{}),
	)
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("bench")
	prop := propagation.TraceContext{}
	in := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	out := propagation.MapCarrier{}
	now := time.Unix(1700000000, 0)
	b.ReportAllocs()
	for b.Loop() {
		ctx := prop.Extract(context.Background(), in)
		ctx, span := tracer.Start(ctx, "GET api", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(now))
		prop.Inject(ctx, out)
		span.End(trace.WithTimestamp(now))
	}
}

// BenchmarkExport is the exporter goroutine's cost per span, in batches of
// 512: building the SDK spans only (discard), and the full OTLP/HTTP
// export to a loopback receiver that discards the body.
func BenchmarkExport(b *testing.B) {
	now := time.Unix(1700000000, 0)
	batch := make([]record, 512)
	for i := range batch {
		batch[i] = record{flags: flagSampled, start: now, end: now.Add(time.Millisecond),
			attrs: Attrs{Route: "api", Upstream: "billing", Method: "GET", Status: 200, Auth: "ok", RateLimit: "allowed"}}
		newTraceID(&batch[i].traceID)
		newSpanID(&batch[i].spanID)
		newSpanID(&batch[i].parentID)
	}
	run := func(b *testing.B, tr *Tracer) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += len(batch) {
			if err := tr.export(batch[:min(len(batch), b.N-i)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("snapshot-only", func(b *testing.B) {
		tr := newTestTracer(b, nil, Options{}, discard{})
		run(b, tr)
	})
	b.Run("otlp-http", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
		})}
		served := make(chan struct{})
		go func() { defer close(served); srv.Serve(ln) }()
		defer func() { srv.Close(); <-served }()
		env, err := readEnv(mapEnv(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String()}))
		if err != nil {
			b.Fatal(err)
		}
		exp, err := newExporter(env)
		if err != nil {
			b.Fatal(err)
		}
		run(b, newTestTracer(b, nil, Options{}, exp))
	})
}
