package trace

import "encoding/binary"

// sampler decides whether a span is sampled. The zero value samples
// nothing.
type sampler struct {
	// parentBased makes a span with a (valid) parent follow the parent's
	// sampled flag; a root span then uses the ratio.
	parentBased bool
	// all samples every root span (ratio >= 1); otherwise bound is the
	// OpenTelemetry Go SDK's traceIDUpperBound for the ratio.
	all   bool
	bound uint64
}

// newSampler returns the sampler for a ratio in [0, 1].
func newSampler(parentBased bool, ratio float64) sampler {
	s := sampler{parentBased: parentBased}
	switch {
	case ratio >= 1:
		s.all = true
	case ratio > 0:
		s.bound = uint64(ratio * (1 << 63))
	}
	return s
}

// sample reports whether a span of traceID is sampled; hasParent and
// parentSampled describe the incoming traceparent.
func (s sampler) sample(traceID *[16]byte, hasParent, parentSampled bool) bool {
	if s.parentBased && hasParent {
		return parentSampled
	}
	if s.all {
		return true
	}
	return binary.BigEndian.Uint64(traceID[8:16])>>1 < s.bound
}
