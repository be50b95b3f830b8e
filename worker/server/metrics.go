package server

import (
	"errors"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/worker/proxy"
	"github.com/fluxgate/fluxgate/worker/ratelimit"
	"github.com/fluxgate/fluxgate/worker/telemetry"
	"github.com/fluxgate/fluxgate/worker/trace"
)

// q quotes a label value.
var q = telemetry.QuoteLabel

// authReasons is the fixed set of auth failure reasons (the auth package's
// Error.Reason values); anything else is counted as "other".
var authReasons = []string{
	"missing_token", "malformed", "bad_algorithm", "bad_signature", "expired",
	"not_yet_valid", "bad_issuer", "bad_audience", "missing_scope", "unknown_kid", "other",
}

// authMetrics counts authentication failures of one policy by reason.
type authMetrics struct {
	byReason map[string]*metrics.Counter
	other    *metrics.Counter
}

func newAuthMetrics(set *metrics.Set, policies []config.AuthPolicy) map[string]*authMetrics {
	out := make(map[string]*authMetrics, len(policies))
	for _, p := range policies {
		am := &authMetrics{byReason: make(map[string]*metrics.Counter, len(authReasons))}
		for _, r := range authReasons {
			am.byReason[r] = set.NewCounter(`fluxgate_auth_failures_total{policy=` + q(p.Name) + `,reason=` + q(r) + `}`)
		}
		am.other = am.byReason["other"]
		out[p.Name] = am
	}
	return out
}

func (a *authMetrics) failure(reason string) *metrics.Counter {
	if c := a.byReason[reason]; c != nil {
		return c
	}
	return a.other
}

// limitSources is the fixed set of rate-limit decision sources.
var limitSources = []string{"redis", "local", "cache", "fallback_allow", "fallback_deny"}

// limitMetrics counts rate-limit decisions of one policy by result and
// source.
type limitMetrics struct {
	allowed, refused map[string]*metrics.Counter
}

func newLimitMetrics(set *metrics.Set, policies []config.RateLimit) map[string]*limitMetrics {
	out := make(map[string]*limitMetrics, len(policies))
	for _, p := range policies {
		lm := &limitMetrics{allowed: map[string]*metrics.Counter{}, refused: map[string]*metrics.Counter{}}
		for _, src := range limitSources {
			lm.allowed[src] = set.NewCounter(`fluxgate_ratelimit_decisions_total{policy=` + q(p.Name) + `,result="allowed",source=` + q(src) + `}`)
			lm.refused[src] = set.NewCounter(`fluxgate_ratelimit_decisions_total{policy=` + q(p.Name) + `,result="refused",source=` + q(src) + `}`)
		}
		out[p.Name] = lm
	}
	return out
}

func (l *limitMetrics) observe(d ratelimit.Decision) {
	m := l.allowed
	if !d.Allowed {
		m = l.refused
	}
	if c := m[d.Source]; c != nil {
		c.Inc()
	}
}

// upstreamErrorKinds is the fixed set of upstream failure kinds.
var upstreamErrorKinds = []string{"connect", "reset", "timeout", "body_too_large", "bad_framing"}

// upstreamMetrics holds the series of one upstream: time to response
// headers (each request, all tries), failures by kind, and retries.
type upstreamMetrics struct {
	duration *metrics.PrometheusHistogram
	retries  *metrics.Counter
	errs     map[string]*metrics.Counter
}

func newUpstreamMetrics(set *metrics.Set, upstreams []config.Upstream) map[string]*upstreamMetrics {
	out := make(map[string]*upstreamMetrics, len(upstreams))
	for _, u := range upstreams {
		um := &upstreamMetrics{
			duration: set.NewPrometheusHistogramExt(`fluxgate_upstream_request_duration_seconds{upstream=`+q(u.Name)+`}`, durationBuckets),
			retries:  set.NewCounter(`fluxgate_upstream_retries_total{upstream=` + q(u.Name) + `}`),
			errs:     make(map[string]*metrics.Counter, len(upstreamErrorKinds)),
		}
		for _, k := range upstreamErrorKinds {
			um.errs[k] = set.NewCounter(`fluxgate_upstream_errors_total{upstream=` + q(u.Name) + `,kind=` + q(k) + `}`)
		}
		out[u.Name] = um
	}
	return out
}

// observe records one Forward: its duration, retries and failure kind.
func (u *upstreamMetrics) observe(took time.Duration, attempts int, err error) {
	u.duration.Update(took.Seconds())
	if attempts > 1 {
		u.retries.Add(attempts - 1)
	}
	if err != nil {
		u.errs[upstreamErrorKind(err)].Inc()
	}
}

func upstreamErrorKind(err error) string {
	switch {
	case errors.Is(err, proxy.ErrTimeout):
		return "timeout"
	case errors.Is(err, proxy.ErrConnect):
		return "connect"
	case errors.Is(err, proxy.ErrBodyTooLarge):
		return "body_too_large"
	case errors.Is(err, proxy.ErrBadFraming):
		return "bad_framing"
	default:
		return "reset"
	}
}

// durationBuckets are the upper bounds (seconds) of the upstream latency
// histogram: the same as the request histogram.
var durationBuckets = telemetry.DurationBuckets

// registerLimiterMetrics exposes the limiter's own counters and state.
// Summed over workers by the supervisor: redis_up_workers is the number of
// workers whose Redis connection is up.
func registerLimiterMetrics(set *metrics.Set, lim *ratelimit.Limiter) {
	set.RegisterMetricsWriter(func(w io.Writer) {
		up := uint64(0)
		if lim.RedisState() == ratelimit.RedisUp {
			up = 1
		}
		metrics.WriteCounterUint64(w, "fluxgate_redis_errors_total", lim.RedisErrors())
		metrics.WriteGaugeUint64(w, "fluxgate_redis_up_workers", up)
		metrics.WriteCounterUint64(w, "fluxgate_ratelimit_local_evictions_total", lim.LocalEvictions())
	})
}

// registerTracerMetrics exposes the span exporter's counters.
func registerTracerMetrics(set *metrics.Set, t *trace.Tracer) {
	set.RegisterMetricsWriter(func(w io.Writer) {
		metrics.WriteCounterUint64(w, "fluxgate_trace_spans_exported_total", t.Exported())
		metrics.WriteCounterUint64(w, "fluxgate_trace_spans_dropped_total", t.Dropped())
	})
}
