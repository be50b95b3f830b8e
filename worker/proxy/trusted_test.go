package proxy

import (
	"net/netip"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	tr, err := ParseTrusted([]string{"10.0.0.0/8", " 192.0.2.1 ", "fd00::/8", "::ffff:172.16.0.0/108", "2001:db8::5"})
	if err != nil {
		t.Fatal(err)
	}
	f := func(ip string, want bool) {
		t.Helper()
		if got := tr.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Contains(%s) = %v; want %v", ip, got, want)
		}
	}
	f("10.1.2.3", true)
	f("::ffff:10.1.2.3", true)
	f("11.0.0.1", false)
	f("192.0.2.1", true)
	f("192.0.2.2", false)
	f("fd12::1", true)
	f("fe80::1", false)
	f("172.16.5.5", true)
	f("172.17.0.1", true) // /108 on the mapped form = /12
	f("172.32.0.1", false)
	f("2001:db8::5", true)
	f("2001:db8::6", false)
	if (*Trusted)(nil).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("nil Trusted contains an address")
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0.1/", ""} {
		if _, err := ParseTrusted([]string{bad}); err == nil {
			t.Errorf("ParseTrusted(%q) = nil error; want one", bad)
		}
	}
}

func TestClientIP(t *testing.T) {
	tr, err := ParseTrusted([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	f := func(peer, xff, want string) {
		t.Helper()
		if got := tr.ClientIP(netip.MustParseAddr(peer), []byte(xff)); got.String() != want {
			t.Errorf("ClientIP(%s, %q) = %v; want %s", peer, xff, got, want)
		}
	}
	f("192.0.2.1", "203.0.113.9", "192.0.2.1")  // untrusted peer: XFF ignored
	f("10.0.0.1", "", "10.0.0.1")               // trusted, no XFF
	f("10.0.0.1", "203.0.113.9", "203.0.113.9") // one hop
	f("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2", "203.0.113.9")
	f("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3") // all trusted: leftmost
	f("10.0.0.1", "203.0.113.9,,  ,", "203.0.113.9")
	f("10.0.0.1", "203.0.113.9:4711", "203.0.113.9")
	f("10.0.0.1", "[2001:db9::1]:80, 2001:db8::7", "2001:db9::1")
	f("10.0.0.1", "198.51.100.1, garbage, 10.0.0.2", "10.0.0.2") // stop at garbage
	f("10.0.0.1", "198.51.100.1, garbage", "10.0.0.1")
	f("10.0.0.1", "fe80::1%eth0", "10.0.0.1")
	f("::ffff:10.0.0.1", "::ffff:203.0.113.9", "203.0.113.9")
	f("10.0.0.1", "1.2.3.4.5", "10.0.0.1")
	f("10.0.0.1", "[::1", "10.0.0.1")
}
