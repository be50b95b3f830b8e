package trace

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseTraceparent(t *testing.T) {
	f := func(in string, wantOK bool, wantTrace, wantSpan string, wantFlags byte) {
		t.Helper()
		p, ok := parseTraceparent([]byte(in))
		if ok != wantOK {
			t.Fatalf("parseTraceparent(%q) ok = %v; want %v", in, ok, wantOK)
		}
		if !ok {
			return
		}
		if got := hex.EncodeToString(p.traceID[:]); got != wantTrace {
			t.Errorf("parseTraceparent(%q) trace = %s; want %s", in, got, wantTrace)
		}
		if got := hex.EncodeToString(p.spanID[:]); got != wantSpan {
			t.Errorf("parseTraceparent(%q) span = %s; want %s", in, got, wantSpan)
		}
		if p.flags != wantFlags {
			t.Errorf("parseTraceparent(%q) flags = %#x; want %#x", in, p.flags, wantFlags)
		}
	}
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	bad := func(in string) { t.Helper(); f(in, false, "", "", 0) }

	// Valid, version 00.
	f("00-"+tid+"-"+sid+"-01", true, tid, sid, 0x01)
	f("00-"+tid+"-"+sid+"-00", true, tid, sid, 0x00)
	f("00-"+tid+"-"+sid+"-03", true, tid, sid, 0x03)
	f("00-"+tid+"-"+sid+"-ff", true, tid, sid, 0xff) // unknown flags ignored, not refused
	f("00-00000000000000000000000000000001-0000000000000001-01", true, "00000000000000000000000000000001", "0000000000000001", 1)

	// Future versions: the first 55 bytes, then nothing or "-...".
	f("01-"+tid+"-"+sid+"-01", true, tid, sid, 0x01)
	f("cc-"+tid+"-"+sid+"-01-what-the-future-will-be-like", true, tid, sid, 0x01)
	f("fe-"+tid+"-"+sid+"-09-", true, tid, sid, 0x09)
	bad("01-" + tid + "-" + sid + "-01x")
	bad("01-" + tid + "-" + sid + "-01.extra")
	bad("01-" + tid + "-" + sid[:15] + "-01") // short

	// Version ff and malformed versions.
	bad("ff-" + tid + "-" + sid + "-01")
	bad("0A-" + tid + "-" + sid + "-01")
	bad("0g-" + tid + "-" + sid + "-01")
	bad("-0-" + tid + "-" + sid + "-01")

	// Version 00 is exactly 55 bytes.
	bad("00-" + tid + "-" + sid + "-01-")
	bad("00-" + tid + "-" + sid + "-010")
	bad("00-" + tid + "-" + sid + "-0")
	bad("00-" + tid[:31] + "-" + sid + "-01")
	bad("00-" + tid + "0-" + sid + "-01")
	bad("00-" + tid + "-" + sid + "0-01")
	bad("")
	bad("00")

	// Hex: lowercase only.
	bad("00-" + strings.ToUpper(tid) + "-" + sid + "-01")
	bad("00-" + tid + "-00F067AA0BA902B7-01")
	bad("00-" + tid + "-" + sid + "-0A")
	bad("00-" + tid[:31] + "g-" + sid + "-01")
	bad("00-" + tid + "-" + sid[:15] + "z-01")
	bad("00-" + tid + "-" + sid + "-0g")
	bad("00-" + tid + "-" + sid + "- 1")
	bad("00-" + tid + "-" + sid + "--1")

	// All-zero ids.
	bad("00-00000000000000000000000000000000-" + sid + "-01")
	bad("00-" + tid + "-0000000000000000-01")
	bad("01-00000000000000000000000000000000-" + sid + "-01-x")

	// Separators.
	bad("00_" + tid + "-" + sid + "-01")
	bad("00-" + tid + "_" + sid + "-01")
	bad("00-" + tid + "-" + sid + "_01")
	bad(" 00-" + tid + "-" + sid + "-0")
}

func TestAppendTraceparent(t *testing.T) {
	f := func(sampled, random bool, want string) {
		t.Helper()
		var s Span
		copy(s.TraceID[:], "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36")
		copy(s.SpanID[:], "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7")
		s.Sampled, s.random = sampled, random
		if got := string(s.AppendTraceparent([]byte("x"))); got != "x"+want {
			t.Errorf("AppendTraceparent(sampled %v, random %v) = %q; want %q", sampled, random, got, "x"+want)
		}
	}
	f(false, false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	f(true, false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f(false, true, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")
	f(true, true, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")

	var s Span
	s.TraceID[15] = 0xab
	if got, want := string(s.AppendTraceID(nil)), "000000000000000000000000000000ab"; got != want {
		t.Errorf("AppendTraceID = %q; want %q", got, want)
	}
}

func TestHexValue(t *testing.T) {
	for c := range 256 {
		want, wantOK := byte(0), true
		switch {
		case c >= '0' && c <= '9':
			want = byte(c - '0')
		case c >= 'a' && c <= 'f':
			want = byte(c - 'a' + 10)
		default:
			wantOK = false
		}
		got, ok := hexByte('0', byte(c))
		if ok != wantOK || (ok && got != want) {
			t.Errorf("hexByte('0', %#x) = %#x, %v; want %#x, %v", c, got, ok, want, wantOK)
		}
		if _, ok := hexByte(byte(c), '0'); ok != wantOK {
			t.Errorf("hexByte(%#x, '0') ok = %v; want %v", c, ok, wantOK)
		}
	}
}
