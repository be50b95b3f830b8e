package trace

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options configures a Tracer. The zero value reads the process
// environment and uses the defaults below.
type Options struct {
	// Getenv reads the OpenTelemetry variables (OTEL_EXPORTER_OTLP_*,
	// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
	// OTEL_TRACES_SAMPLER_ARG, OTEL_TRACES_EXPORTER, OTEL_SDK_DISABLED).
	// nil means os.Getenv. TLS client certificates
	// (OTEL_EXPORTER_OTLP_*CERTIFICATE, *_KEY, *_INSECURE) are read by the
	// OpenTelemetry exporter itself, from the process environment.
	Getenv func(string) string

	// QueueSize is how many finished spans may wait for export; End drops
	// (and counts) spans beyond it. Default 2048.
	QueueSize int

	// BatchSize is the most spans sent in one export request; a full batch
	// is sent at once. Default 512.
	BatchSize int

	// FlushInterval is the longest a queued span waits for its batch to
	// fill before it is sent. Default 1 s.
	FlushInterval time.Duration

	// Logger receives export failures (once when exports start failing,
	// once when they recover), from the exporter goroutine. nil discards.
	Logger *slog.Logger

	// Worker and Gen are the worker's slot and generation, exported as the
	// resource attributes fluxgate.worker.slot and fluxgate.worker.gen.
	Worker, Gen int

	// Version, if set, is exported as the resource attribute
	// service.version.
	Version string
}

// Tracer starts and ends request spans and owns the exporter goroutine.
type Tracer struct {
	sampler sampler

	// Set only when exporting.
	queue    chan record
	kick     chan struct{} // wakes the exporter goroutine: a batch is ready
	kickAt   int           // queue length that makes a batch
	closed   atomic.Bool
	dropped  atomic.Uint64
	exported atomic.Uint64

	exp           sdktrace.SpanExporter
	batchSize     int
	flushInterval time.Duration
	logger        *slog.Logger
	res           *resource.Resource
	failing       bool      // exports are failing; owned by the exporter goroutine
	failingSince  time.Time // when they started to; owned likewise

	stopOnce sync.Once
	stop     chan struct{}      // closed by Shutdown
	cancel   context.CancelFunc // aborts an export in flight
	ctx      context.Context    // the exporter goroutine's context
	done     chan struct{}      // closed when the exporter goroutine returns
	flushErr error              // the last flush's error; read after done
}

// New returns a Tracer configured from the OpenTelemetry variables. It
// exports spans (and starts its exporter goroutine, which Shutdown stops)
// only when an OTLP endpoint variable is set; otherwise it only propagates
// trace context.
func New(opts Options) (*Tracer, error) {
	if opts.QueueSize < 0 || opts.BatchSize < 0 || opts.FlushInterval < 0 {
		return nil, fmt.Errorf("queue %d, batch %d, flush %v: %w", opts.QueueSize, opts.BatchSize, opts.FlushInterval, ErrOptions)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	env, err := readEnv(opts.Getenv)
	if err != nil {
		return nil, err
	}
	if !env.export {
		return newTracer(opts, env, nil), nil
	}
	exp, err := newExporter(env)
	if err != nil {
		return nil, err
	}
	return newTracer(opts, env, exp), nil
}

// newTracer builds the Tracer from checked options; exp nil means no
// export.
func newTracer(opts Options, env envConfig, exp sdktrace.SpanExporter) *Tracer {
	t := &Tracer{sampler: env.sampler}
	if exp == nil {
		return t
	}
	t.exp = exp
	t.queue = make(chan record, orDefault(opts.QueueSize, 2048))
	t.batchSize = orDefault(opts.BatchSize, 512)
	t.kick = make(chan struct{}, 1)
	t.kickAt = min(t.batchSize, cap(t.queue))
	t.flushInterval = orDefault(opts.FlushInterval, time.Second)
	t.logger = opts.Logger
	if t.logger == nil {
		t.logger = slog.New(slog.DiscardHandler)
	}
	t.res = newResource(env, opts)
	t.stop = make(chan struct{})
	t.done = make(chan struct{})
	t.ctx, t.cancel = context.WithCancel(context.Background())
	go t.run()
	return t
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Exporting reports whether finished spans are exported.
func (t *Tracer) Exporting() bool { return t.queue != nil }

// Dropped returns how many sampled spans were not exported: the queue was
// full, the export failed, or End came after Shutdown.
func (t *Tracer) Dropped() uint64 { return t.dropped.Load() }

// Exported returns how many spans the collector accepted.
func (t *Tracer) Exported() uint64 { return t.exported.Load() }

// Span is the trace state of one request. It is meant to be embedded by
// value in per-request scratch that is reused; Start overwrites all of it.
type Span struct {
	// TraceID is the caller's trace id, or a new one.
	TraceID [16]byte
	// SpanID is this request's span id, new for every Start.
	SpanID [8]byte
	// ParentID is the caller's span id; all zeros for a new trace.
	ParentID [8]byte
	// Sampled reports whether the span is sampled (and, when exporting,
	// exported); it is the sampled flag sent upstream.
	Sampled bool
	// Start is the time passed to Start.
	Start time.Time

	random        bool // the random-trace-id flag
	traceStateLen uint16
	traceState    [traceStateMaxLen]byte
}

// Start begins the span of a request. traceparent and tracestate are the
// request's header values (nil when absent); they are not retained. If
// traceparent is invalid, a new trace begins and tracestate is ignored.
func (t *Tracer) Start(s *Span, traceparent, tracestate []byte, now time.Time) {
	s.Start = now
	s.traceStateLen = 0
	if p, ok := parseTraceparent(traceparent); ok {
		s.TraceID, s.ParentID = p.traceID, p.spanID
		s.random = p.flags&flagRandom != 0
		s.Sampled = t.sampler.sample(&s.TraceID, true, p.flags&flagSampled != 0)
		if validTraceState(tracestate) {
			s.traceStateLen = uint16(copy(s.traceState[:], tracestate))
		}
	} else {
		newTraceID(&s.TraceID)
		s.ParentID = [8]byte{}
		s.random = true
		s.Sampled = t.sampler.sample(&s.TraceID, false, false)
	}
	newSpanID(&s.SpanID)
}

// newTraceID and newSpanID draw ids that are not all zeros from the
// runtime's per-thread ChaCha8 generator behind math/rand/v2, seeded by the
// runtime from the OS: no lock, no state of ours (see BenchmarkIDSource).
func newTraceID(id *[16]byte) {
	for {
		if hi, lo := rand.Uint64(), rand.Uint64(); hi|lo != 0 {
			binary.BigEndian.PutUint64(id[:8], hi)
			binary.BigEndian.PutUint64(id[8:], lo)
			return
		}
	}
}

func newSpanID(id *[8]byte) {
	for {
		if v := rand.Uint64(); v != 0 {
			binary.BigEndian.PutUint64(id[:], v)
			return
		}
	}
}

// IsRoot reports whether the span starts a new trace (no valid incoming
// traceparent).
func (s *Span) IsRoot() bool { return s.ParentID == [8]byte{} }

// AppendTraceparent appends the traceparent to send upstream: version 00,
// the trace id, this span's id and its flags.
func (s *Span) AppendTraceparent(dst []byte) []byte {
	var flags byte
	if s.Sampled {
		flags |= flagSampled
	}
	if s.random {
		flags |= flagRandom
	}
	return appendTraceparent(dst, &s.TraceID, &s.SpanID, flags)
}

// AppendTraceID appends the trace id as 32 lowercase hex digits.
func (s *Span) AppendTraceID(dst []byte) []byte { return appendHex(dst, s.TraceID[:]) }

// TraceState returns the tracestate to send upstream unchanged: the
// caller's, if it was valid, else empty (send no header). The slice aliases
// s and is valid until the next Start.
func (s *Span) TraceState() []byte { return s.traceState[:s.traceStateLen] }

// Attrs are the span attributes End records. The strings are kept until the
// span is exported, so they must not alias reused buffers: use strings from
// the config (route ids, upstream names, policy outcomes) and Method for the
// method.
type Attrs struct {
	// Route is the route id (fluxgate.route); empty before routing.
	Route string
	// Upstream is the upstream name (fluxgate.upstream); empty if none.
	Upstream string
	// Method is the request method as returned by Method
	// (http.request.method).
	Method string
	// Status is the response status (http.response.status_code); 5xx sets
	// the span status to error.
	Status int
	// Retries is how many times the request was re-sent upstream
	// (http.request.resend_count, omitted when 0).
	Retries int
	// Auth is the authentication outcome (fluxgate.auth), e.g. "ok",
	// "missing", "invalid"; empty when the route has no auth.
	Auth string
	// RateLimit is the rate-limit outcome (fluxgate.ratelimit), e.g.
	// "allowed", "limited"; empty when the route has no limit.
	RateLimit string
}

// record is what End queues: a fixed-size copy of a finished span.
type record struct {
	traceID    [16]byte
	spanID     [8]byte
	parentID   [8]byte
	flags      byte
	start, end time.Time
	attrs      Attrs
}

// End finishes the span. When exporting and the span is sampled, a copy of
// it and of *a is queued for export; if the queue is full the span is
// dropped and counted. End never blocks and does not retain s or a.
func (t *Tracer) End(s *Span, a *Attrs, now time.Time) {
	if t.queue == nil || !s.Sampled {
		return
	}
	if t.closed.Load() {
		t.dropped.Add(1)
		return
	}
	r := record{traceID: s.TraceID, spanID: s.SpanID, parentID: s.ParentID, flags: flagSampled, start: s.Start, end: now, attrs: *a}
	if s.random {
		r.flags |= flagRandom
	}
	select {
	case t.queue <- r:
		// The exporter goroutine sleeps until a batch is ready (or
		// FlushInterval), so that a push rarely has to wake it.
		if len(t.queue) >= t.kickAt {
			select {
			case t.kick <- struct{}{}:
			default:
			}
		}
	default:
		t.dropped.Add(1)
	}
}

// Method returns m as one of the constant method names of RFC 9110 (and
// PATCH), or "_OTHER" (the OpenTelemetry convention for other methods),
// without allocating.
func Method(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "CONNECT":
		return "CONNECT"
	case "OPTIONS":
		return "OPTIONS"
	case "TRACE":
		return "TRACE"
	case "PATCH":
		return "PATCH"
	}
	return "_OTHER"
}
