package trace

import (
	"math"
	"math/rand/v2"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestSamplerRatio checks, over trace ids from a seeded generator, that a
// ratio samples about that fraction and decides exactly like the
// OpenTelemetry Go SDK's TraceIDRatioBased.
func TestSamplerRatio(t *testing.T) {
	const n = 20000
	for _, ratio := range []float64{0, 0.001, 0.1, 0.25, 0.5, 0.9, 1} {
		r := rand.New(rand.NewPCG(1, uint64(ratio*1000)))
		s, sdk := newSampler(false, ratio), sdktrace.TraceIDRatioBased(ratio)
		sampled := 0
		for range n {
			var id [16]byte
			for i := range id {
				id[i] = byte(r.Uint32())
			}
			got := s.sample(&id, false, false)
			want := sdk.ShouldSample(sdktrace.SamplingParameters{TraceID: trace.TraceID(id)}).Decision == sdktrace.RecordAndSample
			if got != want {
				t.Fatalf("ratio %v: sample(%x) = %v; SDK says %v", ratio, id, got, want)
			}
			if got {
				sampled++
			}
		}
		if frac := float64(sampled) / n; math.Abs(frac-ratio) > 0.02 {
			t.Errorf("ratio %v: sampled %v of the trace ids", ratio, frac)
		}
	}
}

func TestSamplerParent(t *testing.T) {
	var lo, hi [16]byte // lo samples at any ratio > 0, hi at none < 1
	for i := range hi {
		hi[i] = 0xff
	}
	f := func(s sampler, id [16]byte, hasParent, parentSampled, want bool) {
		t.Helper()
		if got := s.sample(&id, hasParent, parentSampled); got != want {
			t.Errorf("%+v.sample(%x, parent %v, parent sampled %v) = %v; want %v", s, id[15], hasParent, parentSampled, got, want)
		}
	}
	pb := newSampler(true, 0.5)
	f(pb, hi, true, true, true)
	f(pb, lo, true, false, false)
	f(pb, lo, false, false, true)
	f(pb, hi, false, false, false)

	plain := newSampler(false, 0.5) // traceidratio ignores the parent
	f(plain, lo, true, false, true)
	f(plain, hi, true, true, false)

	f(newSampler(false, 1), hi, true, false, true)  // always_on
	f(newSampler(false, 0), lo, true, true, false)  // always_off
	f(newSampler(true, 0), lo, true, true, true)    // parentbased_always_off
	f(newSampler(true, 0), lo, false, false, false) //   root
}
