package ratelimit

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	hdrLimit      = "X-RateLimit-Limit"
	hdrRemaining  = "X-RateLimit-Remaining"
	hdrReset      = "X-RateLimit-Reset"
	hdrPolicy     = "RateLimit-Policy"
	hdrRateLimit  = "RateLimit"
	hdrRetryAfter = "Retry-After"
)

// SetHeaders writes the rate-limit response fields for d:
//
//	X-RateLimit-Limit      the capacity
//	X-RateLimit-Remaining  tokens left
//	X-RateLimit-Reset      seconds until the bucket is full again
//	RateLimit-Policy       "<policy>";q=<capacity>;w=<seconds to refill it all>
//	RateLimit              "<policy>";r=<remaining>;t=<seconds until one more token>
//	Retry-After            on refusals (not in shadow mode): whole seconds (≥ 1)
//	                       until a token is available
//
// RateLimit-Policy and RateLimit follow draft-ietf-httpapi-ratelimit-headers
// (-10/-11: the policy is an sf-string item, q quota, w window, r remaining,
// t seconds until additional quota is available). It does not allocate.
func (p *Policy) SetHeaders(h *fasthttp.ResponseHeader, d Decision) {
	var buf [64]byte
	h.SetBytesV(hdrLimit, p.limitValue)
	h.SetBytesV(hdrRemaining, strconv.AppendInt(buf[:0], int64(d.Remaining), 10))
	h.SetBytesV(hdrReset, strconv.AppendInt(buf[:0], ceilSeconds(d.Reset), 10))
	h.SetBytesV(hdrPolicy, p.policyValue)

	next := d.RetryAfter // until one more token
	if d.Allowed && d.Reset > 0 {
		emit := time.Duration(p.emit) * time.Microsecond
		if next = d.Reset % emit; next == 0 {
			next = emit
		}
	}
	b := append(buf[:0], p.nameItem...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(next), 10)
	h.SetBytesV(hdrRateLimit, b)
	if !d.Allowed && !d.Shadow { // a shadow refusal is served: no one waits
		h.SetBytesV(hdrRetryAfter, strconv.AppendInt(buf[:0], max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendSFString appends s as an RFC 9651 sf-string: quoted, with '"' and
// '\' escaped; bytes outside printable ASCII become '?'.
func appendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '?')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
