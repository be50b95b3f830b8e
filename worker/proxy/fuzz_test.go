package proxy

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "255.255.255.255", "01.2.3.4", "1.2.3", "::", "::1", "2001:db8::1",
		"::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "1::2::3", "fe80::1%eth0", "1:2:3:4:5:6:1.2.3.4", ":1", "1:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIP([]byte(s))
		want, err := netip.ParseAddr(s)
		if strings.IndexByte(s, '%') >= 0 {
			if ok {
				t.Fatalf("parseIP(%q) accepted a zone", s)
			}
			return
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("parseIP(%q) = %v, %v; netip.ParseAddr = %v, %v", s, got, ok, want, err)
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("203.0.113.9, 10.0.0.1", "10.0.0.2")
	f.Add("[2001:db8::1]:80,,", "10.0.0.2")
	f.Add(" , ,", "::1")
	tr, err := ParseTrusted([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, xff, peer string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		ip := tr.ClientIP(p, []byte(xff))
		if !ip.IsValid() && p.IsValid() {
			t.Fatalf("ClientIP(%v, %q) = invalid", p, xff)
		}
	})
}

func FuzzCheckFraming(f *testing.F) {
	f.Add("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, y\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		var h fasthttp.RequestHeader
		if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			return
		}
		err := checkFraming(&h)
		if err == nil && h.ContentLength() != -1 && strings.Contains(strings.ToLower(raw), "\ntransfer-encoding:") {
			t.Fatalf("checkFraming passed a non-chunked request with Transfer-Encoding: %q", raw)
		}
		listed([]byte("X-A"), h.Peek("Connection"))
	})
}
