package server

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/worker/ratelimit"
)

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
			am.byReason[r] = set.NewCounter(fmt.Sprintf(`fluxgate_auth_failures_total{policy=%q,reason=%q}`, p.Name, r))
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
			lm.allowed[src] = set.NewCounter(fmt.Sprintf(`fluxgate_ratelimit_decisions_total{policy=%q,result="allowed",source=%q}`, p.Name, src))
			lm.refused[src] = set.NewCounter(fmt.Sprintf(`fluxgate_ratelimit_decisions_total{policy=%q,result="refused",source=%q}`, p.Name, src))
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
