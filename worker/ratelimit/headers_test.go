package ratelimit

import (
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/config"
	"github.com/valyala/fasthttp"
)

func TestSetHeaders(t *testing.T) {
	l := newLocalLimiter(t,
		config.RateLimit{Name: "api-limit", LimitPerMinute: 60, Burst: 10},
		config.RateLimit{Name: `we"ird`, LimitPerMinute: 600})
	f := func(policy string, d Decision, want map[string]string) {
		t.Helper()
		var h fasthttp.ResponseHeader
		l.Policy(policy).SetHeaders(&h, d)
		for k, v := range want {
			if got := string(h.Peek(k)); got != v {
				t.Errorf("%s %+v: %s = %q; want %q", policy, d, k, got, v)
			}
		}
	}
	// Admitted, 7 left, 2.5s until full (next token in 0.5s).
	f("api-limit", Decision{Allowed: true, Limit: 10, Remaining: 7, Reset: 2500 * time.Millisecond}, map[string]string{
		"X-RateLimit-Limit":     "10",
		"X-RateLimit-Remaining": "7",
		"X-RateLimit-Reset":     "3",
		"RateLimit-Policy":      `"api-limit";q=10;w=10`,
		"RateLimit":             `"api-limit";r=7;t=1`,
		"Retry-After":           "",
	})
	// Full bucket.
	f("api-limit", Decision{Allowed: true, Limit: 10, Remaining: 10}, map[string]string{
		"X-RateLimit-Reset": "0",
		"RateLimit":         `"api-limit";r=10;t=0`,
	})
	// Refused: Retry-After rounds up, and is at least 1.
	f("api-limit", Decision{Status: 429, Limit: 10, Reset: 10 * time.Second, RetryAfter: 1200 * time.Millisecond}, map[string]string{
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     "10",
		"RateLimit":             `"api-limit";r=0;t=2`,
		"Retry-After":           "2",
	})
	f("api-limit", Decision{Status: 429, Limit: 10, Reset: time.Second, RetryAfter: 3 * time.Millisecond}, map[string]string{
		"Retry-After": "1",
	})
	f("api-limit", Decision{Status: 503, Limit: 10, RetryAfter: time.Second, Source: SourceFallbackDeny}, map[string]string{
		"Retry-After": "1",
	})
	// Shadow mode: the request is served, so nothing asks the client to wait.
	f("api-limit", Decision{Status: 429, Limit: 10, Reset: 10 * time.Second, RetryAfter: 1200 * time.Millisecond, Shadow: true}, map[string]string{
		"X-RateLimit-Remaining": "0",
		"RateLimit":             `"api-limit";r=0;t=2`,
		"Retry-After":           "",
	})
	f(`we"ird`, Decision{Allowed: true, Limit: 600, Remaining: 599, Reset: 100 * time.Millisecond}, map[string]string{
		"RateLimit-Policy": `"we\"ird";q=600;w=60`,
		"RateLimit":        `"we\"ird";r=599;t=1`,
	})
}
