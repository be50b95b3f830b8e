// Package trace carries W3C Trace Context (traceparent, tracestate) through
// the gateway and exports one SERVER span per request over OTLP/HTTP.
//
// Invariants:
//
//   - The request path (Tracer.Start, Span.AppendTraceparent,
//     Span.AppendTraceID, Span.TraceState, Tracer.End) never allocates,
//     never blocks and never touches the OpenTelemetry SDK. A Span is plain
//     per-request state meant to be embedded by value in a pooled struct;
//     tracestate is copied into a fixed buffer inside it.
//   - An incoming traceparent is accepted only if it is valid by W3C Trace
//     Context (version 00: exactly 55 bytes, lowercase hex, trace id and
//     parent id not all zeros; a later version: the same first 55 bytes,
//     then nothing or a '-' and anything; version ff never). Otherwise the
//     request starts a new trace and the incoming tracestate is ignored.
//     An accepted span keeps the caller's trace id, gets a fresh span id
//     and records the caller's span id as its parent.
//   - tracestate is kept byte for byte when it is well-formed (list-member
//     grammar of W3C Trace Context Level 2), at most 512 bytes and at most
//     32 list members; otherwise it is dropped whole. Duplicate keys are not
//     looked for.
//   - The traceparent sent upstream is always version 00 and carries only
//     the flags this package knows: sampled (0x01) and random-trace-id
//     (0x02, W3C Level 2: set for traces started here, passed on from the
//     caller otherwise). Other flag bits are cleared.
//   - Sampling follows OTEL_TRACES_SAMPLER (default parentbased_always_on):
//     a parent-based sampler follows the caller's sampled flag; a ratio
//     decides from the trace id alone exactly like the OpenTelemetry Go SDK
//     (bytes 8..15 of the trace id), so every service of a trace that uses
//     the same ratio agrees. The decision is made and propagated whether or
//     not spans are exported.
//   - Spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and neither
//     OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none). End copies a
//     fixed-size record of a sampled span into a bounded queue; when the
//     queue is full the span is dropped and counted, End never waits. One
//     goroutine, owned by the Tracer and stopped by Shutdown, batches the
//     records and sends them with the OpenTelemetry OTLP/HTTP exporter.
//     Spans of a failed export are counted as dropped too.
//   - Invalid OpenTelemetry variables make New fail (ErrEnv); nothing is
//     silently defaulted.
//
// No package-level mutable state. A Tracer is safe for concurrent use; a
// Span belongs to one request at a time.
package trace
