package server

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/worker/auth"
	"github.com/fluxgate/fluxgate/worker/proxy"
	"github.com/fluxgate/fluxgate/worker/ratelimit"
	"github.com/fluxgate/fluxgate/worker/route"
	"github.com/fluxgate/fluxgate/worker/trace"
)

// scratch is the per-request working memory, pooled so that a request
// allocates nothing on the hot path.
type scratch struct {
	id      []byte
	norm    []byte
	fwd     []byte
	key     []byte
	ctx     *fasthttp.RequestCtx
	ident   *auth.Identity
	keyIn   ratelimit.KeyInput
	info    proxy.Info
	span    trace.Span
	attrs   trace.Attrs
	tp      []byte // traceparent sent upstream
	noClaim func(string) (string, bool)
	claimFn func(string) (string, bool)
}

func newScratch() any {
	sc := &scratch{
		id:   make([]byte, 0, 64),
		norm: make([]byte, 0, 256),
		fwd:  make([]byte, 0, 256),
		key:  make([]byte, 0, 128),
		tp:   make([]byte, 0, 64),
	}
	// Bound method values are created once per scratch, not per request.
	sc.keyIn.Header = sc.header
	sc.noClaim = func(string) (string, bool) { return "", false }
	sc.claimFn = sc.claim
	return sc
}

func (sc *scratch) header(name string) []byte { return sc.ctx.Request.Header.Peek(name) }

func (sc *scratch) claim(name string) (string, bool) { return sc.ident.Claim(name) }

func (sc *scratch) reset() {
	sc.ctx = nil
	sc.ident = nil
	sc.keyIn.Subject = ""
	sc.keyIn.Claim = nil
	sc.info = proxy.Info{}
	sc.attrs = trace.Attrs{}
}

var (
	pathHealthz = []byte("/healthz")
	pathReadyz  = []byte("/readyz")
	methodGet   = []byte("GET")
	methodHead  = []byte("HEAD")
)

// handle is the fasthttp handler: reserved paths, then route → auth → rate
// limit → proxy.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	s.metrics.Begin()
	sc := s.pool.Get().(*scratch)
	sc.ctx = ctx
	ri := -1
	defer func() {
		if p := recover(); p != nil {
			s.metrics.Panics.Inc()
			s.log.Error("panic serving request", "err", p, "route", routeName(s, ri))
			ctx.Response.Reset()
			s.writeError(ctx, sc.id, errInternal)
		}
		if s.draining.Load() {
			ctx.SetConnectionClose()
		}
		status := ctx.Response.StatusCode()
		end := time.Now()
		s.metrics.Route(ri).Observe(ctx.Method(), status, end.Sub(start))
		sc.attrs.Route = routeName(s, ri)
		sc.attrs.Method = trace.Method(ctx.Method())
		sc.attrs.Status = status
		s.tracer.End(&sc.span, &sc.attrs, end)
		s.metrics.End()
		s.accessLog(ctx, sc, ri, status, start)
		sc.reset()
		s.pool.Put(sc)
	}()

	sc.id = s.ids.requestID(sc.id[:0], ctx.Request.Header.Peek("X-Request-ID"))
	ctx.Response.Header.SetBytesV("X-Request-ID", sc.id)
	s.tracer.Start(&sc.span, ctx.Request.Header.Peek("traceparent"), ctx.Request.Header.Peek("tracestate"), start)

	rawPath := ctx.URI().PathOriginal()
	method := ctx.Method()
	if s.serveReserved(ctx, sc, rawPath, method) {
		return
	}

	norm, err := route.Normalize(sc.norm[:0], rawPath)
	if err != nil {
		s.writeError(ctx, sc.id, errBadPath)
		return
	}
	sc.norm = norm
	rt, allow, res := s.table.Lookup(norm, method)
	switch res {
	case route.NotFound:
		s.writeError(ctx, sc.id, errNoRoute)
		return
	case route.MethodNotAllowed:
		ctx.Response.Header.Set("Allow", allow)
		s.writeError(ctx, sc.id, errMethod)
		return
	}
	ri = rt.Index
	c := &s.chains[ri]

	peer := remoteAddr(ctx)
	trusted := s.trusted.Contains(peer)
	client := peer
	if trusted {
		client = s.trusted.ClientIP(peer, ctx.Request.Header.Peek("X-Forwarded-For"))
	}

	if c.verifier != nil {
		id, aerr := c.verifier.Verify(ctx.Request.Header.Peek("Authorization"), start)
		if aerr != nil {
			c.auth.failure(aerr.Reason).Inc()
			sc.attrs.Auth = aerr.Reason
			ctx.Response.Header.Set("WWW-Authenticate", aerr.WWWAuthenticate)
			s.writeError(ctx, sc.id, gatewayError{status: aerr.Status, code: aerr.Code, msg: aerr.Description})
			return
		}
		sc.ident = id
		sc.attrs.Auth = "ok"
		c.verifier.ApplyClaims(&ctx.Request.Header, id)
	}

	var decision ratelimit.Decision
	if c.limit != nil {
		sc.keyIn.ClientIP = client
		sc.keyIn.RouteID = c.id
		sc.keyIn.Claim = sc.noClaim
		if sc.ident != nil {
			sc.keyIn.Subject = sc.ident.Subject
			sc.keyIn.Claim = sc.claimFn
		}
		sc.key = c.limit.AppendKey(sc.key[:0], &sc.keyIn)
		decision = c.limit.Allow(context.Background(), sc.key)
		c.rl.observe(decision)
		sc.attrs.RateLimit = rateLimitOutcome(decision)
		if !decision.Allowed && !decision.Shadow {
			c.limit.SetHeaders(&ctx.Response.Header, decision)
			if decision.Status == fasthttp.StatusServiceUnavailable {
				s.writeError(ctx, sc.id, errLimiterDown)
			} else {
				s.writeError(ctx, sc.id, errRateLimited)
			}
			return
		}
	}

	sc.fwd = rt.AppendRewrite(sc.fwd[:0], norm)
	sc.info = proxy.Info{ClientIP: client, PeerTrusted: trusted, RequestID: sc.id, TLS: ctx.IsTLS()}
	// W3C trace context: the upstream's parent is this request's span.
	sc.tp = sc.span.AppendTraceparent(sc.tp[:0])
	ctx.Request.Header.SetBytesV("traceparent", sc.tp)
	if ts := sc.span.TraceState(); len(ts) > 0 {
		ctx.Request.Header.SetBytesV("tracestate", ts)
	} else {
		ctx.Request.Header.Del("tracestate")
	}
	sc.attrs.Upstream = c.upstream.Name()
	t0 := time.Now()
	attempts, err := c.upstream.Forward(ctx, sc.fwd, &sc.info)
	c.up.observe(time.Since(t0), attempts, err)
	sc.attrs.Retries = max(attempts-1, 0)
	if err != nil {
		s.writeError(ctx, sc.id, proxyError(err))
	}
	if c.limit != nil {
		c.limit.SetHeaders(&ctx.Response.Header, decision)
	}
	ctx.Response.Header.SetBytesV("X-Request-ID", sc.id)
}

// serveReserved answers the gateway's own endpoints and reports whether it
// did.
func (s *Server) serveReserved(ctx *fasthttp.RequestCtx, sc *scratch, path, method []byte) bool {
	var which int
	switch {
	case bytes.Equal(path, pathHealthz):
		which = 1
	case bytes.Equal(path, pathReadyz):
		which = 2
	case string(path) == s.metricsPath:
		which = 3
	default:
		return false
	}
	if !bytes.Equal(method, methodGet) && !bytes.Equal(method, methodHead) {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		s.writeError(ctx, sc.id, errMethod)
		return true
	}
	switch which {
	case 1:
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case 2:
		s.serveReady(ctx)
	case 3:
		s.serveMetrics(ctx)
	}
	return true
}

// remoteAddr returns the TCP peer's address (IPv4-mapped addresses
// unmapped).
func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := ctx.RemoteAddr().(interface{ AddrPort() netip.AddrPort }); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap()
}

func routeName(s *Server, ri int) string {
	if ri < 0 {
		return "none"
	}
	return s.chains[ri].id
}

// rateLimitOutcome names a decision for the span attribute.
func rateLimitOutcome(d ratelimit.Decision) string {
	switch {
	case d.Allowed:
		return "allowed"
	case d.Shadow:
		return "refused_shadow"
	default:
		return "refused"
	}
}

// proxyError maps a proxy failure to the gateway error the client sees.
func proxyError(err error) gatewayError {
	switch {
	case errors.Is(err, proxy.ErrTimeout):
		return errUpstreamTimeout
	case errors.Is(err, proxy.ErrBodyTooLarge):
		return errBodyTooLarge
	case errors.Is(err, proxy.ErrBadFraming):
		return errBadFraming
	case errors.Is(err, proxy.ErrConnect):
		return errUpstreamConnect
	default:
		return errUpstreamReset
	}
}
