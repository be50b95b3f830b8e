package proxy

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Trusted is a set of trusted-proxy networks: peers whose X-Forwarded-For,
// X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers are believed.
// It is immutable after ParseTrusted and safe for concurrent use.
type Trusted struct {
	prefixes []netip.Prefix
}

// ParseTrusted parses CIDRs ("10.0.0.0/8", "fd00::/8") and bare addresses
// ("192.0.2.1", "::1"). IPv4-mapped IPv6 forms are unmapped.
func ParseTrusted(cidrs []string) (*Trusted, error) {
	t := &Trusted{prefixes: make([]netip.Prefix, 0, len(cidrs))}
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		if strings.IndexByte(s, '/') >= 0 {
			var err error
			p, err = netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			a = a.Unmap().WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Contains reports whether ip lies in one of the trusted networks. A nil
// Trusted contains nothing.
func (t *Trusted) Contains(ip netip.Addr) bool {
	if t == nil || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client: peer itself unless peer is
// trusted and xff (the raw X-Forwarded-For value, several header lines
// joined by commas) is non-empty. Then it walks xff from right to left,
// skipping trusted addresses, and returns the first untrusted one; if all
// are trusted it returns the leftmost. An unparsable entry stops the walk:
// what lies left of it cannot be believed, so the last address accepted
// (or peer) is returned. Entries may carry a port ("192.0.2.1:4711",
// "[2001:db8::1]:80"). It does not allocate.
func (t *Trusted) ClientIP(peer netip.Addr, xff []byte) netip.Addr {
	peer = peer.Unmap()
	if len(xff) == 0 || !t.Contains(peer) {
		return peer
	}
	last := peer
	end := len(xff)
	for end > 0 {
		start := end - 1
		for start >= 0 && xff[start] != ',' {
			start--
		}
		entry := trimOWS(xff[start+1 : end])
		end = start
		if len(entry) == 0 {
			continue // tolerate "a,,b" and trailing commas
		}
		ip, ok := parseXFFAddr(entry)
		if !ok {
			return last
		}
		last = ip
		if !t.Contains(ip) {
			return ip
		}
	}
	return last
}

// parseXFFAddr parses one X-Forwarded-For entry: an address, optionally in
// brackets and optionally with a port.
func parseXFFAddr(b []byte) (netip.Addr, bool) {
	if b[0] == '[' { // [v6] or [v6]:port
		i := bytes.IndexByte(b, ']')
		if i < 0 {
			return netip.Addr{}, false
		}
		b = b[1:i]
	} else if i := bytes.IndexByte(b, ':'); i >= 0 && bytes.LastIndexByte(b, ':') == i {
		b = b[:i] // v4:port; a v6 address has several colons
	}
	ip, ok := parseIP(b)
	if !ok {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
