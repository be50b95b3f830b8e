package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracingThroughBinary: a request with a W3C traceparent goes through
// the real gateway; the upstream gets a traceparent of the same trace whose
// parent is the gateway's span; a real OTLP/HTTP receiver (decoding the
// protobuf) gets that span with the caller's span as parent; the access
// log carries the trace id.
func TestTracingThroughBinary(t *testing.T) {
	t.Parallel()
	spans := make(chan *tracepb.Span, 16)
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil || r.URL.Path != "/v1/traces" {
			http.Error(w, fmt.Sprintf("path %s: %v", r.URL.Path, err), 400)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					select {
					case spans <- sp:
					default:
					}
				}
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	defer otlp.Close()

	up := StartUpstream(t, "traced")
	g := StartGateway(t, GatewayOptions{Config: APIConfig(1, up.Addr, true), Env: []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp.URL,
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
		"OTEL_SERVICE_NAME=fluxgate-e2e",
	}})

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", g.URL("/api/traced"), nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	req.Header.Set("tracestate", "vendor=abc")
	req.Header.Set("X-Request-ID", "traced-1")
	resp, err := g.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo echoDoc
	json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sent := echo.Headers["Traceparent"]
	parts := strings.Split(sent, "-")
	if len(parts) != 4 || parts[1] != traceID || parts[2] == callerSpan || parts[3] != "01" {
		t.Fatalf("upstream traceparent %q; want trace %s, a new span id, sampled", sent, traceID)
	}
	if got := echo.Headers["Tracestate"]; got != "vendor=abc" {
		t.Errorf("upstream tracestate %q; want vendor=abc", got)
	}

	var sp *tracepb.Span
	select {
	case sp = <-spans:
	case <-time.After(15 * time.Second):
		t.Fatal("no span reached the OTLP receiver")
	}
	if got := hex.EncodeToString(sp.GetTraceId()); got != traceID {
		t.Errorf("span trace id %s; want %s", got, traceID)
	}
	if got := hex.EncodeToString(sp.GetParentSpanId()); got != callerSpan {
		t.Errorf("span parent %s; want the caller's span %s", got, callerSpan)
	}
	if got := hex.EncodeToString(sp.GetSpanId()); got != parts[2] {
		t.Errorf("span id %s; want the upstream's parent %s", got, parts[2])
	}
	if sp.GetKind() != tracepb.Span_SPAN_KIND_SERVER || sp.GetName() != "GET api" {
		t.Errorf("span kind %v name %q; want SERVER, \"GET api\"", sp.GetKind(), sp.GetName())
	}
	attrs := map[string]string{}
	for _, a := range sp.GetAttributes() {
		switch v := a.GetValue(); v.GetValue().(type) {
		case *commonpb.AnyValue_IntValue:
			attrs[a.GetKey()] = fmt.Sprint(v.GetIntValue())
		default:
			attrs[a.GetKey()] = v.GetStringValue()
		}
	}
	if attrs["fluxgate.route"] != "api" || attrs["fluxgate.upstream"] != "up" || attrs["http.response.status_code"] != "200" {
		t.Errorf("span attributes %v; want route api, upstream up, status 200", attrs)
	}
	line := g.WaitLog(10*time.Second, IsMsg("access", "request_id", "traced-1"))
	if line.Str("trace_id") != traceID {
		t.Errorf("access log trace_id %q; want %s", line.Str("trace_id"), traceID)
	}
}
