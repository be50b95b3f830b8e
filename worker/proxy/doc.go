// Package proxy forwards requests from a fasthttp.RequestCtx to one upstream
// over pooled keep-alive HTTP/1.1 connections.
//
// Invariants:
//
//   - Forward either writes a complete upstream response head to the
//     RequestCtx and returns nil, or leaves the RequestCtx response untouched
//     and returns one of the sentinels of errors.go (wrapped). The caller maps
//     the sentinel to a status in its single error writer.
//   - A request with ambiguous or invalid framing, or a body over the limit
//     announced by Content-Length, is refused before the upstream is
//     contacted. A chunked body that turns out malformed or grows past the
//     limit is cut mid-stream and the upstream connection closed, so the
//     upstream never receives a complete request.
//   - Bodies are streamed in both directions; memory per request is bounded
//     by a few buffers (16 KiB per upstream connection and direction, plus
//     at most 64 KiB of request body and 64 KiB of response body), whatever
//     the body size. A request body with a Content-Length of at most 64 KiB
//     (replayBodyMax) is buffered so that it can be re-sent; larger and
//     chunked bodies are streamed and can be retried only when the connect
//     failed. A response body with a Content-Length of at most 64 KiB is read
//     whole before Forward returns (so a reset in it is still a 502); larger,
//     chunked and close-delimited bodies stream to the client after Forward
//     returns, and a failure there can only cut the client connection.
//   - Hop-by-hop headers (Connection and every header it lists, Keep-Alive,
//     Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
//     Transfer-Encoding, Upgrade) never cross the proxy in either direction;
//     nor do trailers. Expect is answered by the gateway's server and not
//     forwarded.
//   - The upstream receives Host set to the host (and port, unless 80) of
//     its base_url, like NGINX's default "proxy_set_header Host $proxy_host";
//     the client's Host goes in X-Forwarded-Host.
//   - The request target sent upstream is base path + path + raw query
//     ("?" and everything after it in the client's request target), byte
//     for byte: nothing is re-encoded or normalised here.
//   - X-Forwarded-For is the client address (Info.ClientIP), or, when the
//     peer is trusted, the client's list with the peer appended.
//     X-Forwarded-Proto, X-Forwarded-Host and Forwarded from the client are
//     kept only when the peer is trusted. Forwarded (RFC 7239, opt-in) gets
//     an element for=peer;proto=...;host=... .
//   - timeout_ms bounds each try: from the end of sending the request to the
//     end of the response headers, and every silence of the upstream while
//     either body streams. A transfer that keeps flowing is never cut.
//   - Tries: a connect failure is retried for any method; a timeout, a reset
//     or a 502/503/504 response only for idempotent methods (GET, HEAD,
//     OPTIONS, PUT, DELETE) whose body is buffered. Between tries sleeps an
//     exponential backoff with full jitter. The last try's outcome is
//     returned. A pooled connection found closed by the upstream before
//     anything was written to it is discarded and replaced at no cost in
//     tries.
//
// The fasthttp.Server calling Forward must set StreamRequestBody (otherwise
// fasthttp buffers the whole request body before Forward runs; with it,
// fasthttp pre-reads at most 8 KiB and MaxRequestBodySize no longer refuses
// large bodies: Options.MaxBodyBytes does) and DisablePreParseMultipartForm
// (otherwise fasthttp reads multipart bodies into memory or temporary files
// before Forward runs). Its ReadBufferSize bounds the request head.
//
// The request is sent completely before the response is read: an upstream
// that answers before reading the whole body (an early 413, a full-duplex
// echo) sees its answer lost or stalls until timeout_ms.
//
// No package-level mutable state; an Upstream is safe for concurrent use.
package proxy
