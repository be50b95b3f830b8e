package server

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// accessLog writes one JSON line per request (sampled) when enabled. The
// line is built by hand into a pooled buffer: the access log is on the hot
// path and must stay cheap.
func (s *Server) accessLog(ctx *fasthttp.RequestCtx, sc *scratch, ri, status int, start time.Time) {
	if s.access == nil {
		return
	}
	if s.sampleEvery > 1 && s.ids.seq.Load()%s.sampleEvery != 0 {
		return
	}
	bp := s.lines.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"access","request_id":`...)
	b = appendJSONString(b, sc.id)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, ctx.Method())
	b = append(b, `,"path":`...)
	b = appendJSONString(b, ctx.URI().PathOriginal())
	b = append(b, `,"route":`...)
	b = appendJSONString(b, routeName(s, ri))
	if ri >= 0 {
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, s.cfg.Routes[ri].Upstream)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"took":`...)
	b = strconv.AppendFloat(b, time.Since(start).Seconds(), 'f', 6, 64)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, requestBytes(&ctx.Request), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, responseBytes(&ctx.Response), 10)
	b = append(b, `,"client":`...)
	client := sc.info.ClientIP
	if !client.IsValid() {
		client = remoteAddr(ctx)
	}
	b = client.AppendTo(append(b, '"'))
	b = append(b, '"')
	b = append(b, `,"trace_id":"`...)
	b = sc.span.AppendTraceID(b)
	b = append(b, `","gen":`...)
	b = strconv.AppendInt(b, int64(s.opts.Generation), 10)
	b = append(b, `,"worker":`...)
	b = strconv.AppendInt(b, int64(s.opts.Slot), 10)
	b = append(b, "}\n"...)
	s.access.WriteLine(b)
	*bp = b
	s.lines.Put(bp)
}

// requestBytes is the request body's size for the access log: its
// Content-Length (0 without a body), or -1 when unknown (chunked). It never
// touches a streamed body, which the proxy has consumed.
func requestBytes(r *fasthttp.Request) int64 {
	switch n := r.Header.ContentLength(); {
	case n >= 0:
		return int64(n)
	case n == -2: // identity: no body
		return 0
	default:
		return -1
	}
}

// responseBytes is the response body's size for the access log: the
// buffered length, or for a streamed body its Content-Length, -1 when
// unknown (chunked or close-delimited).
func responseBytes(r *fasthttp.Response) int64 {
	if !r.IsBodyStream() {
		return int64(len(r.Body()))
	}
	if n := r.Header.ContentLength(); n >= 0 {
		return int64(n)
	}
	return -1
}
