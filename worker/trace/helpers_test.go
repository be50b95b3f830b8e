package trace

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tp is a valid incoming traceparent, sampled.
const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// mapEnv is a Getenv over a fixed map.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// newTestTracer returns a Tracer for env (a map of variables) exporting to
// exp (nil: no export), shut down at the end of the test.
func newTestTracer(t testing.TB, env map[string]string, opts Options, exp sdktrace.SpanExporter) *Tracer {
	t.Helper()
	c, err := readEnv(mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracer(opts, c, exp)
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr
}

// receiver is an OTLP/HTTP trace receiver on loopback.
type receiver struct {
	url  string // http://127.0.0.1:port
	reqs chan received
}

type received struct {
	path   string
	header http.Header
	req    *coltracepb.ExportTraceServiceRequest
}

// newReceiver starts a receiver that answers every request with status;
// it is stopped at the end of the test.
func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), reqs: make(chan received, 64)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(b, req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case rc.reqs <- received{path: r.URL.Path, header: r.Header.Clone(), req: req}:
		case <-r.Context().Done():
			return
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(status)
		w.Write(out)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("receiver: %v", err)
		}
	})
	return rc
}

// next returns the next request received, failing the test after 10 s.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("receiver: no request within 10 s")
		return received{}
	}
}

// gate is a SpanExporter whose exports block until release is closed.
type gate struct {
	entered chan struct{} // one value per ExportSpans call
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gate) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) Shutdown(context.Context) error { return nil }

// discard is a SpanExporter that accepts everything.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// drainedTracer returns an exporting Tracer whose queue is emptied by a
// goroutine that discards the records when kicked, like the exporter
// goroutine but without the SDK or the network, and the
// function that stops that goroutine.
func drainedTracer() (*Tracer, func()) {
	tr := &Tracer{sampler: newSampler(true, 1), queue: make(chan record, 2048), kick: make(chan struct{}, 1), kickAt: 512}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-tr.kick:
				for range len(tr.queue) {
					<-tr.queue
				}
			case <-stop:
				return
			}
		}
	}()
	return tr, func() { close(stop); <-done }
}
