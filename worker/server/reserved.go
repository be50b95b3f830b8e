package server

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/valyala/fasthttp"
)

// readyBody is the JSON document of /readyz.
type readyBody struct {
	Status          string `json:"status"`
	Generation      int    `json:"generation"`
	Workers         int    `json:"workers"`
	LastReload      string `json:"last_reload"`
	LastReloadError string `json:"last_reload_error,omitempty"`
	LastReloadUnix  int64  `json:"last_reload_unix,omitempty"`
	Redis           string `json:"redis"`
	Worker          int    `json:"worker"`
	WorkerGen       int    `json:"worker_generation"`
	PID             int    `json:"pid"`
	Draining        bool   `json:"draining"`
}

// serveReady answers /readyz: 200 while the host serves, 503 from the moment
// it starts shutting down. A Redis outage alone does not make it 503: the
// limiter has a fallback.
func (s *Server) serveReady(ctx *fasthttp.RequestCtx) {
	st := s.status.Load()
	b := readyBody{
		Status:          "ready",
		Generation:      st.Generation,
		Workers:         st.Workers,
		LastReload:      st.LastReload,
		LastReloadError: st.LastReloadError,
		LastReloadUnix:  st.LastReloadUnix,
		Redis:           "unused",
		Worker:          s.opts.Slot,
		WorkerGen:       s.opts.Generation,
		PID:             os.Getpid(),
		Draining:        s.draining.Load(),
	}
	if s.limiter != nil {
		b.Redis = s.limiter.RedisState()
	}
	code := fasthttp.StatusOK
	if !st.Ready {
		b.Status = "shutting_down"
		code = fasthttp.StatusServiceUnavailable
	}
	out, _ := json.Marshal(b)
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(out, '\n'))
}

// serveMetrics answers the metrics path with the host's metrics when the
// supervisor provides them, else this process's own.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	if s.opts.ScrapeHost != nil {
		var buf bytes.Buffer
		if err := s.opts.ScrapeHost(&buf); err == nil {
			ctx.SetBody(buf.Bytes())
			return
		}
		s.log.Warn("host metrics unavailable, serving this worker's own", "err", "scrape")
	}
	s.metrics.WritePrometheus(ctx)
}
