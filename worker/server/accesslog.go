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
	b = strconv.AppendInt(b, int64(ctx.Request.Header.ContentLength()), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, int64(ctx.Response.Header.ContentLength()), 10)
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
