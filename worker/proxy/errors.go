package proxy

import "errors"

// ErrConnect means no connection to the upstream could be established
// (refused, unreachable, connect timeout, pool exhausted). Maps to 502.
var ErrConnect = errors.New("proxy: upstream connect")

// ErrUpstreamReset means the upstream closed or reset the connection, or sent
// a malformed response, before complete response headers (and, for small
// buffered responses, the body) arrived. Maps to 502.
var ErrUpstreamReset = errors.New("proxy: upstream reset")

// ErrTimeout means the upstream was silent for timeout_ms: no response
// headers in time, or a stalled request body write. Maps to 504.
var ErrTimeout = errors.New("proxy: upstream timeout")

// ErrBodyTooLarge means the request body exceeds Options.MaxBodyBytes.
// Maps to 413.
var ErrBodyTooLarge = errors.New("proxy: request body too large")

// ErrBadFraming means the request body framing is ambiguous or invalid
// (Content-Length with Transfer-Encoding, a bad Content-Length, an unknown
// transfer coding, a truncated or malformed body). Maps to 400.
var ErrBadFraming = errors.New("proxy: bad request framing")
