package trace

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// scopeName is the instrumentation scope of the exported spans.
const scopeName = "github.com/fluxgate/fluxgate/worker/trace"

// newExporter returns the OTLP/HTTP exporter for env. Every setting read
// from env is passed explicitly, so the exporter's own reading of the
// process environment cannot override Options.Getenv (it still supplies
// TLS certificates).
func newExporter(env envConfig) (sdktrace.SpanExporter, error) {
	compression, encoding := otlptracehttp.NoCompression, otlptracehttp.EncodingProtobuf
	if env.gzip {
		compression = otlptracehttp.GzipCompression
	}
	if env.json {
		encoding = otlptracehttp.EncodingJSON
	}
	return otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(env.endpoint),
		otlptracehttp.WithHeaders(env.headers),
		otlptracehttp.WithTimeout(env.timeout),
		otlptracehttp.WithCompression(compression),
		otlptracehttp.WithEncoding(encoding),
		// Retries happen inside the export timeout, so that the queue
		// behind a dead collector drops spans instead of growing a backlog.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled:         true,
			InitialInterval: 500 * time.Millisecond,
			MaxInterval:     2 * time.Second,
			MaxElapsedTime:  env.timeout,
		}),
	)
}

// newResource describes this process to the collector.
func newResource(env envConfig, opts Options) *resource.Resource {
	attrs := append([]attribute.KeyValue{}, env.resource...)
	attrs = append(attrs,
		attribute.String("service.name", env.serviceName),
		attribute.Int("fluxgate.worker.slot", opts.Worker),
		attribute.Int("fluxgate.worker.gen", opts.Gen),
		attribute.Int("process.pid", os.Getpid()),
	)
	if opts.Version != "" {
		attrs = append(attrs, attribute.String("service.version", opts.Version))
	}
	return resource.NewSchemaless(attrs...)
}

// run is the exporter goroutine. It sleeps until End reports a full batch
// or FlushInterval passes, then exports what is queued in batches of at
// most BatchSize, until stop is closed; then it exports what is queued and
// shuts the exporter down.
func (t *Tracer) run() {
	defer close(t.done)
	defer t.cancel()
	tick := time.NewTicker(t.flushInterval)
	defer tick.Stop()
	batch := make([]record, 0, t.batchSize)
	for {
		select {
		case <-t.kick:
			for len(t.queue) >= t.kickAt {
				batch = t.take(batch[:0], t.batchSize)
				t.export(batch)
			}
		case <-tick.C:
			for n := len(t.queue); n > 0; n -= len(batch) {
				batch = t.take(batch[:0], min(n, t.batchSize))
				t.export(batch)
			}
		case <-t.stop:
			var errs []error
			for n := len(t.queue); n > 0; n -= len(batch) {
				batch = t.take(batch[:0], min(n, t.batchSize))
				errs = append(errs, t.export(batch))
			}
			errs = append(errs, t.exp.Shutdown(t.ctx))
			t.flushErr = errors.Join(errs...)
			return
		}
	}
}

// take appends up to n queued records to batch without waiting.
func (t *Tracer) take(batch []record, n int) []record {
	for len(batch) < n {
		select {
		case r := <-t.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// export sends batch, counts the outcome and logs changes between success
// and failure.
func (t *Tracer) export(batch []record) error {
	spans := make([]sdktrace.ReadOnlySpan, len(batch))
	for i := range batch {
		spans[i] = t.snapshot(&batch[i])
	}
	err := t.exp.ExportSpans(t.ctx, spans)
	if err != nil {
		t.dropped.Add(uint64(len(batch)))
		if !t.failing {
			t.failing, t.failingSince = true, time.Now()
			t.logger.Warn("trace: export failing", "err", err)
		}
		return err
	}
	t.exported.Add(uint64(len(batch)))
	if t.failing {
		t.failing = false
		t.logger.Info("trace: export recovered", "took", time.Since(t.failingSince))
	}
	return nil
}

// snapshot turns a record into the SDK's read-only span.
func (t *Tracer) snapshot(r *record) sdktrace.ReadOnlySpan {
	a := &r.attrs
	name := a.Method
	if name == "" || name == "_OTHER" {
		name = "HTTP"
	}
	if a.Route != "" {
		name += " " + a.Route
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	if a.Method != "" {
		attrs = append(attrs, attribute.String("http.request.method", a.Method))
	}
	if a.Status > 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", a.Status))
	}
	if a.Route != "" {
		attrs = append(attrs, attribute.String("fluxgate.route", a.Route))
	}
	if a.Upstream != "" {
		attrs = append(attrs, attribute.String("fluxgate.upstream", a.Upstream))
	}
	if a.Retries > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", a.Retries))
	}
	if a.Auth != "" {
		attrs = append(attrs, attribute.String("fluxgate.auth", a.Auth))
	}
	if a.RateLimit != "" {
		attrs = append(attrs, attribute.String("fluxgate.ratelimit", a.RateLimit))
	}
	var status sdktrace.Status
	if a.Status >= 500 {
		status.Code = codes.Error
		attrs = append(attrs, attribute.String("error.type", strconv.Itoa(a.Status)))
	}
	stub := tracetest.SpanStub{
		Name: name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    r.traceID,
			SpanID:     r.spanID,
			TraceFlags: trace.TraceFlags(r.flags),
		}),
		SpanKind:             trace.SpanKindServer,
		StartTime:            r.start,
		EndTime:              r.end,
		Attributes:           attrs,
		Status:               status,
		Resource:             t.res,
		InstrumentationScope: instrumentation.Scope{Name: scopeName},
	}
	if r.parentID != [8]byte{} {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: r.traceID,
			SpanID:  r.parentID,
			Remote:  true,
		})
	}
	return stub.Snapshot()
}

// Shutdown stops the exporter goroutine after it has exported the spans
// queued so far, and returns that flush's error. If ctx ends first, the
// export in flight is abandoned, what is left is counted as dropped and
// ctx's error is returned. Spans ended after Shutdown are dropped. Safe to
// call more than once; a no-op when not exporting.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t.queue == nil {
		return nil
	}
	t.closed.Store(true)
	stop := context.AfterFunc(ctx, t.cancel)
	defer stop()
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	for n := len(t.queue); n > 0; n-- { // End calls that raced with the flush
		select {
		case <-t.queue:
			t.dropped.Add(1)
		default:
		}
	}
	if t.flushErr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return t.flushErr
}
