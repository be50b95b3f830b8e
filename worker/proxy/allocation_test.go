//go:build !race

package proxy

import (
	"net/netip"
	"testing"
)

func TestAllocations(t *testing.T) {
	bf := newBenchForward(t, []byte(`{"items":[1,2,3]}`))
	bf.run(t)
	if n := testing.AllocsPerRun(200, func() { bf.run(t) }); n > 0 {
		t.Errorf("Forward round trip: %v allocs/op; want 0", n)
	}

	bt := newBenchForwardOn(t, []byte(`{"items":[1,2,3]}`), listen(t))
	bt.run(t)
	if n := testing.AllocsPerRun(200, func() { bt.run(t) }); n > 0 {
		t.Errorf("Forward round trip over TCP: %v allocs/op; want 0", n)
	}

	tr, err := ParseTrusted([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddr("10.0.0.1")
	xff := []byte("198.51.100.1, [2001:db8::1]:80, 2001:db8::2, 10.0.0.2")
	if n := testing.AllocsPerRun(200, func() { tr.ClientIP(peer, xff) }); n > 0 {
		t.Errorf("ClientIP: %v allocs/op; want 0", n)
	}
}
