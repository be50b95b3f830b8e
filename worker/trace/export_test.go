package trace

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// attrMap flattens OTLP attributes to strings for comparison.
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = "int:" + strconv.FormatInt(v.IntValue, 10)
		default:
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

func spansOf(r received) (map[string]string, []*tracepb.Span) {
	var spans []*tracepb.Span
	var res map[string]string
	for _, rs := range r.req.ResourceSpans {
		res = attrMap(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			spans = append(spans, ss.Spans...)
		}
	}
	return res, spans
}

// TestExportEndToEnd sends two spans to a real OTLP/HTTP receiver on
// loopback through the SDK exporter, flushed by Shutdown.
func TestExportEndToEnd(t *testing.T) {
	rc := newReceiver(t, 200)
	tr, err := New(Options{
		Getenv: mapEnv(map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": rc.url,
			"OTEL_SERVICE_NAME":           "edge-test",
		}),
		FlushInterval: time.Hour, // only Shutdown flushes
		Worker:        3,
		Gen:           7,
		Version:       "v1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Exporting() {
		t.Fatal("Exporting() = false with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	start := time.Unix(1700000000, 0)
	var child, root Span
	tr.Start(&child, []byte(tp), []byte("rojo=1"), start)
	tr.End(&child, &Attrs{Route: "api", Upstream: "billing", Method: "GET", Status: 502, Retries: 2, Auth: "ok", RateLimit: "allowed"}, start.Add(15*time.Millisecond))
	tr.Start(&root, nil, nil, start)
	tr.End(&root, &Attrs{Method: "_OTHER", Status: 404}, start.Add(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	r := rc.next(t)
	if r.path != "/v1/traces" {
		t.Errorf("path = %q; want /v1/traces", r.path)
	}
	res, spans := spansOf(r)
	for k, want := range map[string]string{"service.name": "edge-test", "service.version": "v1.2.3", "fluxgate.worker.slot": "int:3", "fluxgate.worker.gen": "int:7"} {
		if res[k] != want {
			t.Errorf("resource %s = %q; want %q", k, res[k], want)
		}
	}
	if len(spans) != 2 {
		t.Fatalf("received %d spans; want 2", len(spans))
	}
	if tr.Exported() != 2 || tr.Dropped() != 0 {
		t.Errorf("exported %d, dropped %d; want 2, 0", tr.Exported(), tr.Dropped())
	}

	c := spans[0]
	if got := hex.EncodeToString(c.TraceId); got != tp[3:35] {
		t.Errorf("trace id = %s; want %s", got, tp[3:35])
	}
	if got := hex.EncodeToString(c.ParentSpanId); got != tp[36:52] {
		t.Errorf("parent span id = %s; want %s", got, tp[36:52])
	}
	if got, want := hex.EncodeToString(c.SpanId), hex.EncodeToString(child.SpanID[:]); got != want {
		t.Errorf("span id = %s; want %s", got, want)
	}
	if c.Name != "GET api" || c.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("name %q kind %v; want \"GET api\" SERVER", c.Name, c.Kind)
	}
	if c.StartTimeUnixNano != uint64(start.UnixNano()) || c.EndTimeUnixNano != uint64(start.Add(15*time.Millisecond).UnixNano()) {
		t.Errorf("times %d..%d; want %d + 15 ms", c.StartTimeUnixNano, c.EndTimeUnixNano, start.UnixNano())
	}
	if c.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("status = %v; want error for 502", c.Status)
	}
	want := map[string]string{
		"http.request.method":       "GET",
		"http.response.status_code": "int:502",
		"fluxgate.route":            "api",
		"fluxgate.upstream":         "billing",
		"http.request.resend_count": "int:2",
		"fluxgate.auth":             "ok",
		"fluxgate.ratelimit":        "allowed",
		"error.type":                "502",
	}
	got := attrMap(c.Attributes)
	if len(got) != len(want) {
		t.Errorf("attributes = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q; want %q", k, got[k], v)
		}
	}

	o := spans[1]
	if hex.EncodeToString(o.TraceId) != hex.EncodeToString(root.TraceID[:]) || len(o.ParentSpanId) != 0 {
		t.Errorf("root span: trace %x parent %x; want %x and none", o.TraceId, o.ParentSpanId, root.TraceID)
	}
	if o.Name != "HTTP" || o.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("root span: name %q status %v; want HTTP, not error", o.Name, o.Status)
	}
	if a := attrMap(o.Attributes); a["fluxgate.route"] != "" || a["http.request.resend_count"] != "" || a["http.response.status_code"] != "int:404" {
		t.Errorf("root span attributes = %v", a)
	}
}

// TestExportFlushInterval exports without Shutdown, through the per-signal
// endpoint used as is, with headers and gzip.
func TestExportFlushInterval(t *testing.T) {
	rc := newReceiver(t, 200)
	tr, err := New(Options{
		Getenv: mapEnv(map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rc.url + "/custom/traces",
			"OTEL_EXPORTER_OTLP_HEADERS":         "authorization=Bearer%20t0ken,x-tenant=acme",
			"OTEL_EXPORTER_OTLP_COMPRESSION":     "gzip",
		}),
		FlushInterval: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	var s Span
	tr.Start(&s, nil, nil, time.Now())
	tr.End(&s, &Attrs{Route: "r", Method: "POST", Status: 201}, time.Now())

	r := rc.next(t) // sent by the ticker: no Shutdown yet
	if r.path != "/custom/traces" || r.header.Get("Authorization") != "Bearer t0ken" || r.header.Get("X-Tenant") != "acme" || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("path %q, headers %v", r.path, r.header)
	}
	_, spans := spansOf(r)
	if len(spans) != 1 || spans[0].Name != "POST r" {
		t.Fatalf("spans = %v; want one named \"POST r\"", spans)
	}
}

// TestExportFailure checks that spans the collector refuses are counted as
// dropped and the failure is logged once.
func TestExportFailure(t *testing.T) {
	rc := newReceiver(t, 400) // not retryable
	var log bytes.Buffer      // written by the exporter goroutine, read after Shutdown
	tr, err := New(Options{
		Getenv:        mapEnv(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.url}),
		FlushInterval: time.Hour,
		BatchSize:     2,
		Logger:        slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var s Span
	for range 4 {
		tr.Start(&s, nil, nil, time.Now())
		tr.End(&s, &Attrs{Method: "GET"}, time.Now())
	}
	rc.next(t)
	rc.next(t)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v; want nil (both batches were sent before)", err)
	}
	if tr.Dropped() != 4 || tr.Exported() != 0 {
		t.Errorf("dropped %d, exported %d; want 4, 0", tr.Dropped(), tr.Exported())
	}
	if n := strings.Count(log.String(), "trace: export failing"); n != 1 {
		t.Errorf("log has %d failure lines; want 1:\n%s", n, log.String())
	}
}
