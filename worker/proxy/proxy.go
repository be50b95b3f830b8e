package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
)

// Defaults applied by New to zero or negative config values (config.Load
// normally fills them already).
const (
	defaultTimeout        = 30 * time.Second
	defaultConnectTimeout = 2 * time.Second
	defaultMaxConns       = 1024
	defaultBackoff        = 100 * time.Millisecond
	// maxBackoff caps one backoff sleep.
	maxBackoff = 10 * time.Second
)

// replayBodyMax is the largest request body (by Content-Length) that is
// buffered so that it can be re-sent on a retry. Larger and chunked bodies
// are streamed and retried only when the connect failed.
const replayBodyMax = 64 << 10

// bufferResponseMax is the largest response body (by Content-Length) read
// whole before Forward returns; larger, chunked and close-delimited bodies
// are streamed to the client after Forward returns.
const bufferResponseMax = 64 << 10

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 8

// Options are shared by all upstreams of a worker.
type Options struct {
	// MaxBodyBytes limits request bodies; 0 = no limit.
	MaxBodyBytes int64
	// ForwardedHeader also sends an RFC 7239 Forwarded header.
	ForwardedHeader bool
}

// Info is what the caller knows about the request.
type Info struct {
	// ClientIP is the client address, already resolved (see
	// Trusted.ClientIP). It is sent as X-Forwarded-For when the peer is
	// not trusted.
	ClientIP netip.Addr
	// PeerTrusted reports whether the TCP peer is a trusted proxy: then the
	// client's X-Forwarded-Proto, X-Forwarded-Host and Forwarded are kept
	// and the peer is appended to its X-Forwarded-For.
	PeerTrusted bool
	// RequestID, when non-empty, is sent upstream as X-Request-ID
	// (replacing the client's) and set on the client response.
	RequestID []byte
	// TLS reports whether the client connection is TLS (proto "https").
	TLS bool
}

// Upstream forwards requests to one config upstream over pooled keep-alive
// connections. It is safe for concurrent use.
type Upstream struct {
	name     string
	host     []byte // Host header sent upstream
	basePath []byte // base_url path without trailing slash
	opts     Options
	attempts int
	backoff  time.Duration
	pool     pool
	calls    sync.Pool // *call
}

// New returns an Upstream for up. BaseURL must be http://host[:port][/path];
// zero durations and counts get the config defaults (timeout_ms 30000,
// connect_timeout_ms 2000, max_conns 1024, attempts 1, backoff_ms 100).
func New(up config.Upstream, opts Options) (*Upstream, error) {
	base, err := url.Parse(up.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: base_url: %w", up.Name, err)
	}
	if base.Scheme != "http" {
		return nil, fmt.Errorf("upstream %q: base_url %q: scheme must be http", up.Name, up.BaseURL)
	}
	if base.Host == "" || base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("upstream %q: base_url %q: want http://host[:port][/path]", up.Name, up.BaseURL)
	}
	addr := base.Host
	if base.Port() == "" {
		addr = net.JoinHostPort(base.Hostname(), "80")
	}
	host := base.Host
	if base.Port() == "80" {
		host = strings.TrimSuffix(host, ":80")
	}
	timeout := msOr(up.TimeoutMS, defaultTimeout)
	connectTimeout := msOr(up.ConnectTimeoutMS, defaultConnectTimeout)
	maxConns := up.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	u := &Upstream{
		name:     up.Name,
		host:     []byte(host),
		basePath: []byte(strings.TrimSuffix(base.EscapedPath(), "/")),
		opts:     opts,
		attempts: max(up.Retry.Attempts, 1),
		backoff:  msOr(up.Retry.BackoffMS, defaultBackoff),
		pool:     newPool(addr, connectTimeout, timeout, maxConns),
	}
	return u, nil
}

func msOr(ms int, def time.Duration) time.Duration {
	if ms <= 0 {
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

// Name returns the upstream's config name.
func (u *Upstream) Name() string { return u.name }

// Close closes the idle connections. Requests in flight finish; their
// connections are closed when released. Forward must not be called after
// Close.
func (u *Upstream) Close() { u.pool.close() }

// call is the state of one Forward, pooled. When the response body is
// streamed, call is the body stream handed to the RequestCtx and lives
// until fasthttp closes it.
type call struct {
	u    *Upstream
	req  fasthttp.Request
	resp fasthttp.Response
	rw   rewrite
	body reqBody
	buf  []byte // request body read from the client stream for replay

	conn    *conn
	stream  io.Reader // upstream response body stream
	out     []byte    // WriteTo's buffer, allocated on first use, kept with the call
	eof     bool
	closing bool // the connection must not be reused
	stale   bool // the last try failed on a pooled connection found closed
}

func (u *Upstream) acquireCall() *call {
	if v := u.calls.Get(); v != nil {
		return v.(*call)
	}
	return &call{u: u}
}

func (u *Upstream) releaseCall(c *call) {
	c.req.Reset()
	c.resp.Reset()
	c.body = reqBody{}
	c.conn, c.stream, c.eof, c.closing = nil, nil, false, false
	u.calls.Put(c)
}

// Forward sends ctx's request to the upstream with path (the rewritten,
// normalised request path, without the upstream base path) and copies the
// response into ctx. It returns nil when an upstream response (any status)
// was written to ctx; otherwise ErrConnect, ErrUpstreamReset, ErrTimeout,
// ErrBodyTooLarge or ErrBadFraming (wrapped) and ctx's response is
// untouched. attempts is the number of tries made.
//
// The response body, unless small, streams from the upstream after Forward
// returns, while fasthttp writes the response; the upstream connection goes
// back to the pool when fasthttp closes the body stream.
func (u *Upstream) Forward(ctx *fasthttp.RequestCtx, path []byte, info *Info) (attempts int, err error) {
	in := &ctx.Request.Header
	cl := in.ContentLength()
	if err := checkFraming(in); err != nil {
		return 0, err
	}
	if u.opts.MaxBodyBytes > 0 && int64(cl) > u.opts.MaxBodyBytes {
		return 0, fmt.Errorf("%w: content-length %d > %d", ErrBodyTooLarge, cl, u.opts.MaxBodyBytes)
	}

	c := u.acquireCall()
	c.rw.requestHeader(&c.req.Header, in, u, path, info, peerAddr(ctx))

	// Body: none, buffered (replayable) or streamed.
	replayable := true
	var stream io.Reader
	var buffered []byte
	switch src := ctx.RequestBodyStream(); {
	case cl == 0 || cl == -2:
		// no body
	case src == nil:
		// The server buffered the body (StreamRequestBody off); it stays
		// valid until the handler returns, after the request was sent.
		buffered = ctx.Request.Body()
		if u.opts.MaxBodyBytes > 0 && int64(len(buffered)) > u.opts.MaxBodyBytes {
			u.releaseCall(c)
			return 0, fmt.Errorf("%w: %d bytes > %d", ErrBodyTooLarge, len(buffered), u.opts.MaxBodyBytes)
		}
	case cl > 0 && cl <= replayBodyMax:
		if cap(c.buf) < cl {
			c.buf = make([]byte, cl)
		}
		c.buf = c.buf[:cl]
		if _, err := io.ReadFull(src, c.buf); err != nil {
			u.releaseCall(c)
			return 0, fmt.Errorf("%w: reading request body: %w", ErrBadFraming, err)
		}
		buffered = c.buf
	default:
		replayable = false
		stream = src
	}
	hasBody := !(cl == 0 || cl == -2)

	idempotent := isIdempotent(in.Method())
	trustRecent := idempotent && replayable // skip the liveness syscall on hot connections
	for {
		attempts++
		if hasBody {
			if stream != nil {
				c.body = reqBody{r: stream, max: u.opts.MaxBodyBytes, want: int64(cl)}
				c.req.SetBodyStream(&c.body, cl)
			} else {
				c.req.SetBodyRaw(buffered)
			}
		}
		err = c.try(in.IsHead(), trustRecent)
		if err != nil && c.stale {
			// The pooled connection had been closed by the upstream: resend
			// on a connection checked or fresh, at no cost in tries.
			trustRecent = false
			attempts--
			continue
		}
		last := attempts >= u.attempts
		retry := false
		switch {
		case err == nil:
			switch c.resp.StatusCode() {
			case fasthttp.StatusBadGateway, fasthttp.StatusServiceUnavailable, fasthttp.StatusGatewayTimeout:
				retry = !last && idempotent && replayable
			}
			if retry {
				c.closeResponse()
			}
		case errors.Is(err, ErrConnect):
			retry = !last
		case errors.Is(err, ErrTimeout), errors.Is(err, ErrUpstreamReset):
			retry = !last && idempotent && replayable
		}
		if !retry {
			break
		}
		time.Sleep(backoff(u.backoff, attempts, rand.Uint64()))
	}
	if err != nil {
		u.releaseCall(c)
		return attempts, err
	}
	c.writeResponse(ctx, info)
	return attempts, nil
}

// try makes one exchange on a pooled or new connection. On success c.resp
// holds the response head and, if small, the body; c.stream is set when the
// body must be streamed; c.conn is the connection still held for it.
//
// c.stale reports a failure that shows the pooled connection was closed
// before the upstream read anything: it was reused without a liveness check
// and failed while sending or before the first response byte.
func (c *call) try(head, trustRecent bool) error {
	p := &c.u.pool
	c.stale = false
	cn, unverified, err := p.get(trustRecent)
	if err != nil {
		return dialError(p.addr, err)
	}
	c.conn = cn
	c.closing = false

	err = c.req.Write(cn.bw)
	if err == nil {
		err = cn.bw.Flush()
	}
	if err != nil {
		c.dropConn()
		if c.body.err != nil {
			if errors.Is(c.body.err, ErrBodyTooLarge) {
				return c.body.err
			}
			return fmt.Errorf("%w: reading request body: %w", ErrBadFraming, c.body.err)
		}
		if c.body.truncated() {
			return fmt.Errorf("%w: request body shorter than content-length", ErrBadFraming)
		}
		c.stale = unverified
		return upstreamError("sending request", err)
	}

	if err := cn.awaitHeaders(); err != nil {
		c.dropConn()
		return upstreamError("arming deadline", err)
	}
	c.resp.Reset()
	c.resp.Header.SetNoDefaultContentType(true) // pass "no Content-Type" on as it is
	for n := 0; ; n++ {
		if err := c.resp.Header.Read(cn.br); err != nil {
			c.dropConn()
			// fasthttp reports "closed before the first byte" as io.EOF.
			c.stale = unverified && n == 0 && errors.Is(err, io.EOF)
			return upstreamError("reading response headers", err)
		}
		code := c.resp.StatusCode()
		if code >= 200 {
			break
		}
		if code == fasthttp.StatusSwitchingProtocols || n >= maxInterim {
			c.dropConn()
			return fmt.Errorf("%w: unexpected status %d", ErrUpstreamReset, code)
		}
	}
	cn.streamBody()
	c.closing = c.resp.Header.ConnectionClose()

	code := c.resp.StatusCode()
	rcl := c.resp.Header.ContentLength()
	switch {
	case head || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified:
		c.releaseConn()
	case rcl >= 0 && rcl <= bufferResponseMax:
		if err := c.resp.ReadBody(cn.br, 0); err != nil {
			c.dropConn()
			return upstreamError("reading response body", err)
		}
		c.releaseConn()
	default:
		c.resp.StreamBody = true
		if err := c.resp.ReadBody(cn.br, 0); err != nil {
			c.dropConn()
			return upstreamError("reading response body", err)
		}
		c.stream = c.resp.BodyStream()
	}
	return nil
}

// releaseConn returns the connection to the pool, or closes it when the
// exchange asked for that.
func (c *call) releaseConn() {
	if c.conn == nil {
		return
	}
	if c.closing {
		c.u.pool.discard(c.conn)
	} else {
		c.u.pool.put(c.conn)
	}
	c.conn = nil
}

// dropConn closes the connection: its state is unknown.
func (c *call) dropConn() {
	c.closing = true
	c.releaseConn()
}

// closeResponse discards a response that is not passed on (a retried
// 502/503/504).
func (c *call) closeResponse() {
	if c.stream != nil {
		_ = c.resp.CloseBodyStream()
		c.stream = nil
		c.dropConn()
	}
}

// writeResponse copies the upstream response into ctx and hands the body
// (or c itself, as the body stream) over.
func (c *call) writeResponse(ctx *fasthttp.RequestCtx, info *Info) {
	h := &ctx.Response.Header
	c.rw.responseHeader(h, &c.resp.Header)
	if len(info.RequestID) > 0 {
		h.SetBytesKV(hdrXRequestID, info.RequestID)
	}
	if c.stream != nil {
		size := c.resp.Header.ContentLength()
		if size < 0 {
			size = -1
		}
		ctx.Response.SetBodyStream(c, size)
		return
	}
	ctx.Response.SetBody(c.resp.Body())
	if rcl := c.resp.Header.ContentLength(); rcl >= 0 && len(c.resp.Body()) == 0 {
		// HEAD and 304: keep the length the upstream announced.
		h.SetContentLength(rcl)
	}
	c.u.releaseCall(c)
}

// Read reads the upstream response body; c is the body stream of the
// client response.
func (c *call) Read(p []byte) (int, error) {
	n, err := c.stream.Read(p)
	if err == io.EOF {
		c.eof = true
	} else if err != nil {
		c.closing = true
	}
	return n, err
}

// streamChunkMax bounds one write of a streamed response body (WriteTo).
const streamChunkMax = 32 << 10

// SupportsBodyWriteTo makes fasthttp call WriteTo for the client response
// body (fasthttp.BodyWriterTo).
func (c *call) SupportsBodyWriteTo() bool { return true }

// WriteTo copies the upstream response body to w, the client connection.
// Each write carries everything the upstream connection has already
// buffered (up to streamChunkMax), so a body the upstream sent in many small
// chunks leaves in few writes (fasthttp flushes, and frames a chunk, per
// write); a write happens as soon as nothing more is buffered, so a slow
// stream (server-sent events, long polls) is passed on at once.
func (c *call) WriteTo(w io.Writer) (int64, error) {
	if c.out == nil {
		c.out = make([]byte, streamChunkMax)
	}
	var total int64
	for {
		n, err := c.fill(c.out)
		if n > 0 {
			m, werr := w.Write(c.out[:n])
			total += int64(m)
			if werr != nil {
				c.closing = true
				return total, werr
			}
		}
		switch {
		case err == io.EOF:
			c.eof = true
			return total, nil
		case err != nil:
			c.closing = true
			return total, err
		}
	}
}

// fill reads into buf at least once, then as long as the upstream
// connection has more bytes buffered and buf has room.
func (c *call) fill(buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.stream.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if c.conn == nil || c.conn.br.Buffered() == 0 {
			return n, nil
		}
	}
	return n, nil
}

// Close ends the response body stream: the connection is pooled again if
// the body was read to its end, else closed. fasthttp calls it once the
// response is written (or abandoned).
func (c *call) Close() error {
	_ = c.resp.CloseBodyStream()
	c.stream = nil
	if !c.eof {
		c.closing = true
	}
	c.releaseConn()
	c.u.releaseCall(c)
	return nil
}

// upstreamError classifies an I/O error on the upstream connection.
func upstreamError(doing string, err error) error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, doing, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUpstreamReset, doing, err)
}

// checkFraming refuses what fasthttp's request parser lets through but
// must never be forwarded. fasthttp itself rejects duplicate, conflicting
// or malformed Content-Length, transfer codings other than chunked and
// identity, repeated Transfer-Encoding and Transfer-Encoding on HTTP/1.0
// (see framing_test.go). It accepts, and hides from its parsed header,
// Content-Length together with chunked (it keeps chunked) and
// "Transfer-Encoding: identity" (it drops it); both are caught here by
// looking at the header block as received.
func checkFraming(h *fasthttp.RequestHeader) error {
	var hasCL, hasTE bool
	raw := h.RawHeaders()
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) < len(hdrContentLength) {
			continue
		}
		switch line[0] | 0x20 {
		case 'c':
			hasCL = hasCL || hasKey(line, hdrContentLength)
		case 't':
			hasTE = hasTE || hasKey(line, hdrTransferEncoding)
		}
	}
	if hasTE && (hasCL || h.ContentLength() != -1) {
		return fmt.Errorf("%w: transfer-encoding with content-length or not chunked", ErrBadFraming)
	}
	return nil
}

// hasKey reports whether the header line is a key field.
func hasKey(line, key []byte) bool {
	return len(line) > len(key) && line[len(key)] == ':' && bytes.EqualFold(line[:len(key)], key)
}

// peerAddr returns the TCP peer of ctx, or the zero Addr.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

func isIdempotent(method []byte) bool {
	switch string(method) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions, fasthttp.MethodPut, fasthttp.MethodDelete:
		return true
	}
	return false
}

// backoff returns the sleep before retry number n (1 = after the first
// try): full jitter, uniform in [0, base·2^(n-1)), capped at maxBackoff.
// r is a random number.
func backoff(base time.Duration, n int, r uint64) time.Duration {
	ceil := base
	for i := 1; i < n && ceil < maxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, maxBackoff)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(r % uint64(ceil))
}

// reqBody is the client's request body stream as sent upstream: it
// enforces the body limit and records why reading stopped.
type reqBody struct {
	r    io.Reader
	max  int64 // 0 = none
	want int64 // Content-Length, or -1
	n    int64
	eof  bool
	err  error // a read error of the client stream, or ErrBodyTooLarge
}

// Read reads from the client stream.
func (b *reqBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.max > 0 && b.n > b.max {
		b.err = fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.max)
		return 0, b.err
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
	return n, err
}

// truncated reports whether the client stream ended before Content-Length.
func (b *reqBody) truncated() bool {
	return b.eof && b.want >= 0 && b.n < b.want
}
