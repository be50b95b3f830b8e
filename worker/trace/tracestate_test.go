package trace

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTraceState(t *testing.T) {
	tr := newTestTracer(t, nil, Options{}, nil)
	f := func(parent, in string, kept bool) {
		t.Helper()
		var s Span
		tr.Start(&s, []byte(parent), []byte(in), time.Time{})
		want := ""
		if kept {
			want = in
		}
		if got := string(s.TraceState()); got != want {
			t.Errorf("Start(%q, %q).TraceState() = %q; want %q", parent, in, got, want)
		}
	}
	members := func(n int) string {
		m := make([]string, n)
		for i := range m {
			m[i] = "k" + strconv.Itoa(i) + "=v"
		}
		return strings.Join(m, ",")
	}

	f(tp, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", true)
	f(tp, " rojo=1 ,\tcongo=2 ", true)
	f(tp, "", true)
	f(tp, ",, ,", true)
	f(tp, "a=b c", true)
	f(tp, "a=b ", true) // the trailing space is OWS
	f(tp, "tenant@sys=v,1tenant@s_y-s*/=v", true)
	f(tp, "a_b-c*d/e=~!\"#$%&'()*+-./:;<>?@[]^_`{|}", true)
	f(tp, members(32), true)
	f(tp, members(32)+",,", true)
	f(tp, "a="+strings.Repeat("x", 254)+",b="+strings.Repeat("x", 253), true) // 512 bytes
	f(tp, "k="+strings.Repeat("x", 256), true)

	f(tp, members(33), false)
	f(tp, "a="+strings.Repeat("x", 254)+",b="+strings.Repeat("x", 254), false) // 513 bytes
	f(tp, "k="+strings.Repeat("x", 257), false)
	f(tp, "Rojo=1", false)
	f(tp, "1rojo=1", false)
	f(tp, "rojo", false)
	f(tp, "rojo=", false)
	f(tp, "=1", false)
	f(tp, "a=b=c", false)
	f(tp, "a=b,c", false)
	f(tp, "a=\x7f", false)
	f(tp, "a=é", false)
	f(tp, "t@toolongsystemid=v", false)
	f(tp, "t@=v", false)
	f(tp, "@s=v", false)
	f(tp, "t@1s=v", false)
	f(tp, "a b=c", false)

	// No valid traceparent: tracestate is not even looked at.
	f("", "rojo=1", false)
	f("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "rojo=1", false)
}
