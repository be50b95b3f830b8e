package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/buildinfo"
	"github.com/fluxgate/fluxgate/shared/ctl"
	"github.com/fluxgate/fluxgate/worker/auth"
	"github.com/fluxgate/fluxgate/worker/proxy"
	"github.com/fluxgate/fluxgate/worker/ratelimit"
	"github.com/fluxgate/fluxgate/worker/route"
	"github.com/fluxgate/fluxgate/worker/telemetry"
	"github.com/fluxgate/fluxgate/worker/trace"
)

// Options configure a Server. Only Config is required.
type Options struct {
	// Config is the validated configuration to serve.
	Config *config.Config
	// Logger receives lifecycle lines and access-log lines. Default
	// slog.Default().
	Logger *slog.Logger
	// Generation and Slot identify this worker in logs and /readyz.
	Generation, Slot int
	// ScrapeHost, when set, writes the host-wide metrics for the metrics
	// path (the supervisor's aggregate). It is called from request
	// goroutines, concurrently. Nil = this process's own metrics.
	ScrapeHost func(w io.Writer) error
	// AccessLog receives the access log, one JSON line per request, when
	// the config enables it. Nil = no access log.
	AccessLog io.Writer
	// Getenv reads the OpenTelemetry variables that enable span export.
	// nil = os.Getenv.
	Getenv func(string) string
	// FetchJWKS, when set, fetches JWKS documents through the host's shared
	// cache instead of from the identity provider directly.
	FetchJWKS auth.FetchFunc
	// LimiterTable, when set, is the host's shared-memory rate-limit table
	// (a memfd from the supervisor). Nil = a private in-process table.
	LimiterTable *os.File
}

// Server is one worker's data plane.
type Server struct {
	opts     Options
	cfg      *config.Config
	log      *slog.Logger
	srv      *fasthttp.Server
	table    *route.Table
	chains   []chain
	closers  []func()
	limiter  *ratelimit.Limiter
	tracer   *trace.Tracer
	trusted  *proxy.Trusted
	metrics  *telemetry.Metrics
	status   atomic.Pointer[ctl.Status]
	ids      requestIDs
	pool     sync.Pool // *scratch
	conns    connSet
	draining atomic.Bool

	access      *telemetry.LineWriter // nil = access log off
	sampleEvery uint64                // log one request in sampleEvery
	lines       sync.Pool             // *[]byte access-log line buffers

	metricsPath string
	lingerFor   time.Duration
}

// chain is the compiled handler chain of one route.
type chain struct {
	id       string
	upstream *proxy.Upstream
	verifier *auth.Verifier    // nil = no authentication
	limit    *ratelimit.Policy // nil = no rate limit
	metrics  *telemetry.Route
	up       *upstreamMetrics
	auth     *authMetrics
	rl       *limitMetrics
}

// New builds the handler chains of opts.Config: route table, upstream
// pools, verifiers and limiters. It binds nothing. Problems found while
// building are returned as config errors carrying the YAML position.
func New(opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("server: no config")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		opts:        opts,
		cfg:         cfg,
		log:         log,
		metricsPath: cfg.Metrics.Path,
		lingerFor:   500 * time.Millisecond,
	}
	s.ids.init()
	s.conns.init()
	s.status.Store(&ctl.Status{Ready: true, LastReload: "none", Generation: opts.Generation})
	s.pool.New = func() any { return newScratch() }
	s.lines.New = func() any { b := make([]byte, 0, 512); return &b }
	if err := s.build(); err != nil {
		s.Close()
		return nil, err
	}
	tracer, err := trace.New(trace.Options{Getenv: opts.Getenv, Logger: log,
		Worker: opts.Slot, Gen: opts.Generation, Version: buildinfo.Version})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("tracing: %w", err)
	}
	s.tracer = tracer
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tracer.Shutdown(ctx)
	})
	registerTracerMetrics(s.metrics.Set(), tracer)
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		ErrorHandler:                  s.handleParseError,
		ConnState:                     s.conns.setState,
		Name:                          "",
		NoDefaultServerHeader:         true,
		StreamRequestBody:             true,
		DisableHeaderNamesNormalizing: false,
		DisablePreParseMultipartForm:  true,
		ReadBufferSize:                cfg.Server.MaxHeaderBytes,
		// Room for a streamed chunk (the proxy writes up to what the
		// upstream had buffered) with its framing in one write(2).
		WriteBufferSize:    16 << 10,
		ReadTimeout:        time.Duration(cfg.Server.ReadHeaderTimeoutSecs) * time.Second,
		IdleTimeout:        time.Duration(cfg.Server.IdleTimeoutSecs) * time.Second,
		MaxRequestBodySize: maxBodyForFasthttp(cfg.Server.MaxBodyBytes),
		CloseOnShutdown:    true,
		ReduceMemoryUsage:  cfg.Server.ReduceIdleMemory,
		Logger:             discardLogger{},
	}
	if opts.AccessLog != nil && cfg.AccessLogEnabled() {
		s.access = telemetry.NewLineWriter(opts.AccessLog, 0)
		s.closers = append(s.closers, s.access.Close)
		if f := cfg.Log.AccessLogSample; f > 0 && f < 1 {
			s.sampleEvery = uint64(1/f + 0.5)
		}
	}
	return s, nil
}

// maxBodyForFasthttp maps "no limit" to the largest value fasthttp accepts;
// with StreamRequestBody the limit only decides whether a body is streamed.
func maxBodyForFasthttp(n int64) int {
	if n <= 0 || n > int64(^uint(0)>>1) {
		return int(^uint(0) >> 1)
	}
	return int(n)
}

func (s *Server) build() error {
	cfg := s.cfg
	var errs config.Errors
	trusted, err := proxy.ParseTrusted(cfg.Server.TrustedProxies)
	if err != nil {
		errs = append(errs, cfg.Errorf("server.trusted_proxies", "%v", err))
	}
	s.trusted = trusted

	table, err := route.Compile(cfg.Routes)
	if err != nil {
		errs = append(errs, cfg.Errorf("routes", "%v", err))
	}
	s.table = table

	ids := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		ids[i] = r.ID
	}
	s.metrics = telemetry.New(ids)

	popts := proxy.Options{MaxBodyBytes: cfg.Server.MaxBodyBytes, ForwardedHeader: cfg.Server.ForwardedHeader}
	upstreams := make(map[string]*proxy.Upstream, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		p, err := proxy.New(u, popts)
		if err != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("upstreams[%d]", i), "%v", err))
			continue
		}
		upstreams[u.Name] = p
		s.closers = append(s.closers, p.Close)
	}

	verifiers := make(map[string]*auth.Verifier, len(cfg.AuthPolicies))
	for i, p := range cfg.AuthPolicies {
		v, err := auth.New(p, auth.Options{FetchJWKS: s.opts.FetchJWKS})
		if err != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("auth_policies[%d]", i), "%v", err))
			continue
		}
		verifiers[p.Name] = v
		s.closers = append(s.closers, v.Close)
	}

	if len(cfg.RateLimits) > 0 {
		lim, err := ratelimit.New(cfg.RateLimits, ratelimit.Options{
			RedisURL:     cfg.Redis.URL,
			RedisTimeout: time.Duration(cfg.Redis.TimeoutMS) * time.Millisecond,
			Table:        s.opts.LimiterTable,
			Logger:       s.log,
		})
		if err != nil {
			errs = append(errs, cfg.Errorf("rate_limits", "%v", err))
		} else {
			s.limiter = lim
			s.closers = append(s.closers, lim.Close)
			registerLimiterMetrics(s.metrics.Set(), lim)
		}
	}
	if len(errs) > 0 {
		return errs
	}

	am := newAuthMetrics(s.metrics.Set(), cfg.AuthPolicies)
	lm := newLimitMetrics(s.metrics.Set(), cfg.RateLimits)
	um := newUpstreamMetrics(s.metrics.Set(), cfg.Upstreams)
	s.chains = make([]chain, len(cfg.Routes))
	for i, r := range cfg.Routes {
		c := chain{
			id:       r.ID,
			upstream: upstreams[r.Upstream],
			up:       um[r.Upstream],
			metrics:  s.metrics.Route(i),
		}
		if r.AuthPolicy != "" {
			c.verifier = verifiers[r.AuthPolicy]
			c.auth = am[r.AuthPolicy]
		}
		if r.RateLimit != "" {
			c.limit = s.limiter.Policy(r.RateLimit)
			c.rl = lm[r.RateLimit]
		}
		s.chains[i] = c
	}
	return nil
}

// Serve accepts connections on ln until Drain or Shutdown, and may be
// called for several listeners at once. It returns nil once ln is closed by
// Drain or Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	tl := s.conns.wrap(ln, s.lingerFor)
	if err := s.srv.Serve(tl); err != nil && !s.draining.Load() {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// SetStatus replaces the host status reported on /readyz. Safe for
// concurrent use.
func (s *Server) SetStatus(st ctl.Status) { s.status.Store(&st) }

// WriteMetrics writes this worker's own metrics in Prometheus text format.
// Safe for concurrent use.
func (s *Server) WriteMetrics(w io.Writer) { s.metrics.WritePrometheus(w) }

// Drain runs the drain protocol of a worker leaving service:
//  1. from now on every response carries Connection: close;
//  2. the listeners stop accepting (only this process's copies are
//     closed: the sockets and their accept queues stay with the supervisor
//     and the next generation);
//  3. keep-alive connections are closed once they have been idle for the
//     configured idle grace, so a client reusing one at that instant is
//     unlikely; a connection that gets a request gets Connection: close;
//  4. when no connection is left, or ctx ends, the server is shut down
//     (connections still open at the deadline are closed forcibly).
//
// Closes are lingering (half-close, then drain reads briefly), so an RST
// never destroys the last response.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	s.conns.closeListeners()
	grace := time.Duration(s.cfg.Server.IdleGraceMS) * time.Millisecond
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.conns.sweepIdle(time.Now(), grace) > 0 {
		select {
		case <-ctx.Done():
			s.conns.closeAll()
			return s.finish(ctx.Err())
		case <-tick.C:
		}
	}
	return s.finish(nil)
}

// finish shuts the fasthttp server down after the connections are gone.
func (s *Server) finish(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // Drain closed the listeners already
	}
	if cause != nil {
		return fmt.Errorf("drain: %w", cause)
	}
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}

// Shutdown stops at once: listeners and all connections are closed;
// in-flight requests are abandoned when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.conns.closeListeners()
	s.conns.closeAll()
	if err := s.srv.ShutdownWithContext(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close releases what New acquired (upstream pools, verifiers' refreshers,
// store clients). Call it after Serve has returned.
func (s *Server) Close() error {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	return nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
