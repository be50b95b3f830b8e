package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/ctl"
)

// Options configure a Server. Only Config is required.
type Options struct {
	// Config is the validated configuration to serve.
	Config *config.Config
	// Logger receives lifecycle and access-log lines. Default slog.Default().
	Logger *slog.Logger
	// Generation and Slot identify this worker in logs and metrics.
	Generation, Slot int
	// ScrapeHost, when set, writes the host-wide metrics for the metrics
	// path (the supervisor's aggregate). It is called from request
	// goroutines, concurrently. Nil = this process's own metrics.
	ScrapeHost func(w io.Writer) error
	// LimiterTable, when set, is the host's shared-memory rate-limit table
	// (a memfd from the supervisor). Nil = a private in-process table.
	LimiterTable *os.File
}

// Server is one worker's data plane.
type Server struct {
	opts   Options
	srv    *fasthttp.Server
	status atomic.Pointer[ctl.Status]
}

// New builds the handler chains of opts.Config. It binds nothing and
// returns config-positioned errors for problems found while building.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts}
	s.status.Store(&ctl.Status{Ready: true, LastReload: "none"})
	s.srv = &fasthttp.Server{Handler: s.handle}
	return s, nil
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString("ok\n")
}

// Serve accepts connections on ln until Drain or Shutdown. It returns nil
// after a clean drain or shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// SetStatus replaces the host status reported on /readyz. Safe for
// concurrent use.
func (s *Server) SetStatus(st ctl.Status) { s.status.Store(&st) }

// Drain runs the drain protocol: every further response carries
// Connection: close, the listeners stop accepting, keep-alive connections
// are closed once idle for the configured grace, and it returns when no
// connection is left or ctx ends (then connections are closed forcibly).
func (s *Server) Drain(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// Shutdown stops at once: listeners and all connections are closed, in-flight
// requests are abandoned when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// Close releases what New acquired (store clients, background loops).
func (s *Server) Close() error { return nil }
