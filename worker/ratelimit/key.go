package ratelimit

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
)

// KeyInput is what a request offers to build a rate-limit key. The callbacks
// are called synchronously from AppendKey, on the caller's goroutine; their
// results are not retained.
type KeyInput struct {
	// ClientIP is the client address (the TCP peer, or X-Forwarded-For when
	// the peer is a trusted proxy). IPv4-mapped IPv6 addresses count as IPv4.
	ClientIP netip.Addr
	// Subject is the verified token's sub; "" falls back to ClientIP.
	Subject string
	// RouteID is the matched route's id.
	RouteID string
	// Header returns a request header's value (nil when absent). May be nil
	// when no policy uses header: parts.
	Header func(name string) []byte
	// Claim returns a verified token claim as a string. May be nil when no
	// policy uses claim: parts.
	Claim func(name string) (string, bool)
}

type partKind uint8

const (
	partClientIP partKind = iota
	partSubject
	partRoute
	partHeader
	partClaim
)

// keyPart is one element of a policy's key list.
type keyPart struct {
	kind partKind
	name string // header or claim name
}

// maxValueLen bounds a header, claim or subject value inside a key; longer
// values are replaced by a hash so keys (and Redis memory) stay small.
const maxValueLen = 128

// parseKeyParts compiles a policy's key list (default [client_ip]).
func parseKeyParts(list []string) ([]keyPart, error) {
	if len(list) == 0 {
		list = []string{"client_ip"}
	}
	parts := make([]keyPart, 0, len(list))
	for _, s := range list {
		switch {
		case s == "client_ip":
			parts = append(parts, keyPart{kind: partClientIP})
		case s == "jwt_subject":
			parts = append(parts, keyPart{kind: partSubject})
		case s == "route_path":
			parts = append(parts, keyPart{kind: partRoute})
		case strings.HasPrefix(s, "header:") && len(s) > len("header:"):
			parts = append(parts, keyPart{kind: partHeader, name: s[len("header:"):]})
		case strings.HasPrefix(s, "claim:") && len(s) > len("claim:"):
			parts = append(parts, keyPart{kind: partClaim, name: s[len("claim:"):]})
		default:
			return nil, fmt.Errorf("key part %q: %w", s, ErrPolicy)
		}
	}
	return parts, nil
}

// AppendKey appends the policy's combined key for a request to dst and
// returns the extended buffer. Parts are joined with '|' in the order of the
// policy's key list: client_ip as the textual address, jwt_subject as
// "s=<sub>" (or "ip=<address>" without a subject), route_path as the route
// id, header:<Name> and claim:<name> as their values ("" when absent).
// Values are escaped (%XX for '%', '|', '{', '}' and control bytes), and a
// value longer than 128 bytes is replaced by "#<hash>". It does not allocate
// when dst has enough capacity.
func (p *Policy) AppendKey(dst []byte, in *KeyInput) []byte {
	for i, part := range p.parts {
		if i > 0 {
			dst = append(dst, '|')
		}
		switch part.kind {
		case partClientIP:
			dst = in.ClientIP.Unmap().AppendTo(dst)
		case partSubject:
			if in.Subject != "" {
				dst = append(dst, "s="...)
				dst = appendValue(dst, in.Subject)
			} else {
				dst = append(dst, "ip="...)
				dst = in.ClientIP.Unmap().AppendTo(dst)
			}
		case partRoute:
			dst = appendValue(dst, in.RouteID)
		case partHeader:
			if in.Header != nil {
				dst = appendValue(dst, in.Header(part.name))
			}
		case partClaim:
			if in.Claim != nil {
				if v, ok := in.Claim(part.name); ok {
					dst = appendValue(dst, v)
				}
			}
		}
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

func appendValue[T string | []byte](dst []byte, v T) []byte {
	if len(v) > maxValueLen {
		h := hash64(0, []byte(v))
		dst = append(dst, '#')
		for s := 60; s >= 0; s -= 4 {
			dst = append(dst, hexDigits[h>>uint(s)&0xf])
		}
		return dst
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' || c == '|' || c == '{' || c == '}' || c < 0x20 || c == 0x7f {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// hash64 is a fixed-seed 64-bit hash (the xxHash64 mixing steps on one
// lane). The local table needs the same hash in every process, so
// hash/maphash, whose seed is per process, cannot be used.
func hash64(seed uint64, b []byte) uint64 {
	const (
		p1 = 0x9E3779B185EBCA87
		p2 = 0xC2B2AE3D27D4EB4F
		p3 = 0x165667B19E3779F9
		p4 = 0x85EBCA77C2B2AE63
		p5 = 0x27D4EB2F165667C5
	)
	h := seed + p5 + uint64(len(b))
	for len(b) >= 8 {
		k := binary.LittleEndian.Uint64(b) * p2
		k = bits.RotateLeft64(k, 31) * p1
		h ^= k
		h = bits.RotateLeft64(h, 27)*p1 + p4
		b = b[8:]
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * p1
		h = bits.RotateLeft64(h, 23)*p2 + p3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * p5
		h = bits.RotateLeft64(h, 11) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}
