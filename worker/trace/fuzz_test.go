package trace

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseTraceparent checks that parsing never panics and that a valid
// traceparent survives format then parse: same ids, known flags kept, and
// byte for byte when it already was version 00 with known flags only.
func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{
		tp,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
		"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"", "00-", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, ok := parseTraceparent(in)
		if !ok {
			return
		}
		if len(in) < traceparentLen || isZero(p.traceID[:]) || isZero(p.spanID[:]) {
			t.Fatalf("parseTraceparent(%q) accepted: %+v", in, p)
		}
		out := appendTraceparent(nil, &p.traceID, &p.spanID, p.flags)
		q, ok := parseTraceparent(out)
		if !ok || q.traceID != p.traceID || q.spanID != p.spanID || q.flags != p.flags&knownFlags {
			t.Fatalf("parse(%q) = %+v; format = %q; parse = %+v, %v", in, p, out, q, ok)
		}
		if in[0] == '0' && in[1] == '0' && p.flags&^knownFlags == 0 && !bytes.Equal(out, in) {
			t.Fatalf("format(parse(%q)) = %q", in, out)
		}
	})
}

// FuzzTraceState checks that tracestate handling never panics and keeps
// either nothing or the input unchanged, within the limits and made of
// key=value members of printable ASCII.
func FuzzTraceState(f *testing.F) {
	for _, s := range []string{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", " a=1 ,, b@c=2 ", "a=b=c", "Rojo=1", ""} {
		f.Add([]byte(s))
	}
	tr := &Tracer{sampler: newSampler(true, 1)}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Span
		tr.Start(&s, []byte(tp), in, time.Time{})
		got := s.TraceState()
		if len(got) == 0 {
			return
		}
		if !bytes.Equal(got, in) || len(got) > traceStateMaxLen {
			t.Fatalf("Start(tracestate %q).TraceState() = %q", in, got)
		}
		members := 0
		for m := range bytes.SplitSeq(got, []byte{','}) {
			m = bytes.Trim(m, " \t")
			if len(m) == 0 {
				continue
			}
			members++
			k, v, ok := bytes.Cut(m, []byte{'='})
			if !ok || len(k) == 0 || len(v) == 0 || bytes.ContainsFunc(m, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
				t.Fatalf("Start(tracestate %q) kept bad member %q", in, m)
			}
		}
		if members > traceStateMaxMembers {
			t.Fatalf("Start(tracestate %q) kept %d members", in, members)
		}
	})
}
