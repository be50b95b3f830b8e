package trace

import "bytes"

// W3C limits on tracestate that this package enforces.
const (
	traceStateMaxLen     = 512
	traceStateMaxMembers = 32
)

// validTraceState reports whether b is a well-formed tracestate of at most
// traceStateMaxLen bytes and traceStateMaxMembers list members. Empty
// members and optional whitespace around members are allowed.
func validTraceState(b []byte) bool {
	if len(b) > traceStateMaxLen {
		return false
	}
	members := 0
	for len(b) > 0 {
		var m []byte
		if i := bytes.IndexByte(b, ','); i >= 0 {
			m, b = b[:i], b[i+1:]
		} else {
			m, b = b, nil
		}
		m = trimOWS(m)
		if len(m) == 0 {
			continue
		}
		if members++; members > traceStateMaxMembers || !validMember(m) {
			return false
		}
	}
	return true
}

// validMember reports whether m is key "=" value.
func validMember(m []byte) bool {
	eq := bytes.IndexByte(m, '=')
	return eq > 0 && validKey(m[:eq]) && validValue(m[eq+1:])
}

// validKey checks simple-key / tenant-id "@" system-id (Level 2 grammar).
func validKey(k []byte) bool {
	at := bytes.IndexByte(k, '@')
	if at < 0 {
		return len(k) <= 256 && isLCAlpha(k[0]) && keyChars(k[1:])
	}
	tenant, system := k[:at], k[at+1:]
	return len(tenant) >= 1 && len(tenant) <= 241 && (isLCAlpha(tenant[0]) || isDigit(tenant[0])) && keyChars(tenant[1:]) &&
		len(system) >= 1 && len(system) <= 14 && isLCAlpha(system[0]) && keyChars(system[1:])
}

func keyChars(b []byte) bool {
	for _, c := range b {
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

// validValue checks 0*255(chr) nblk-chr: printable ASCII without ',' and
// '=', spaces allowed except at the end.
func validValue(v []byte) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
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

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
