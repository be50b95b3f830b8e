package server

import (
	"errors"

	"github.com/valyala/fasthttp"
)

// gatewayError is an answer the gateway itself gives: a status, a stable
// machine-readable code and a short human text. It is the only way errors
// reach clients; internal error text never does.
type gatewayError struct {
	status int
	code   string
	msg    string
}

var (
	errBadRequest      = gatewayError{fasthttp.StatusBadRequest, "bad_request", "malformed request"}
	errBadPath         = gatewayError{fasthttp.StatusBadRequest, "bad_request", "malformed request path"}
	errBadFraming      = gatewayError{fasthttp.StatusBadRequest, "bad_request", "ambiguous or invalid message framing"}
	errNoRoute         = gatewayError{fasthttp.StatusNotFound, "not_found", "no route for this path"}
	errMethod          = gatewayError{fasthttp.StatusMethodNotAllowed, "method_not_allowed", "method not allowed for this path"}
	errTimeoutReading  = gatewayError{fasthttp.StatusRequestTimeout, "request_timeout", "request not received in time"}
	errBodyTooLarge    = gatewayError{fasthttp.StatusRequestEntityTooLarge, "payload_too_large", "request body too large"}
	errHeaderTooLarge  = gatewayError{fasthttp.StatusRequestHeaderFieldsTooLarge, "header_too_large", "request header fields too large"}
	errRateLimited     = gatewayError{fasthttp.StatusTooManyRequests, "rate_limited", "rate limit exceeded"}
	errInternal        = gatewayError{fasthttp.StatusInternalServerError, "internal_error", "internal error"}
	errUpstreamConnect = gatewayError{fasthttp.StatusBadGateway, "upstream_unavailable", "upstream connection failed"}
	errUpstreamReset   = gatewayError{fasthttp.StatusBadGateway, "bad_gateway", "upstream connection failed or sent an invalid response"}
	errLimiterDown     = gatewayError{fasthttp.StatusServiceUnavailable, "rate_limiter_unavailable", "rate limiter unavailable"}
	errUpstreamTimeout = gatewayError{fasthttp.StatusGatewayTimeout, "upstream_timeout", "upstream did not answer in time"}
)

// writeError writes e as the response: status, JSON body of SPEC §4 and the
// request id. Any response body already set is replaced.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, reqID []byte, e gatewayError) {
	ctx.SetStatusCode(e.status)
	ctx.Response.Header.SetContentType("application/json")
	bp := s.lines.Get().(*[]byte)
	b := append((*bp)[:0], `{"error":`...)
	b = appendJSONString(b, e.code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.msg)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, reqID)
	b = append(b, "}\n"...)
	ctx.Response.ResetBody()
	ctx.Response.AppendBody(b)
	*bp = b
	s.lines.Put(bp)
}

// handleParseError is fasthttp's ErrorHandler: a request that could not be
// read or parsed never reaches a route, and the connection is closed.
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	var id [32]byte
	reqID := s.ids.requestID(id[:0], nil)
	var e gatewayError
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		e = errHeaderTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = errBodyTooLarge
	case isTimeout(err):
		e = errTimeoutReading
	default:
		e = errBadRequest
	}
	ctx.Response.Header.SetBytesV("X-Request-ID", reqID)
	s.writeError(ctx, reqID, e)
	ctx.SetConnectionClose()
	s.metrics.Route(-1).Observe(ctx.Method(), e.status, 0)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
