package route

import "bytes"

// Normalize appends the normal form of the request path p (without query)
// to dst and returns the extended slice:
//
//   - percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are
//     decoded ("%41" → "A", "%2e" → ".");
//   - every other escape is kept, with upper-case hex ("%2f" → "%2F");
//   - dot-segments are removed as in RFC 3986 §5.2.4, after decoding, never
//     climbing above the root ("/a/%2E%2E/b" → "/b", "/../x" → "/x",
//     "/a/.." → "/");
//   - empty segments are kept ("/a//b" stays "/a//b"), and so is every other
//     byte.
//
// The result starts with "/", holds no "." or ".." segment, and
// Normalize(Normalize(p)) == Normalize(p). When p is empty, does not start
// with "/" (this includes "*") or holds a malformed escape ("%zz", "%4" at
// the end) Normalize returns dst unchanged and ErrBadPath. It does not
// allocate when dst has room for len(p) more bytes.
func Normalize(dst, p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] != '/' {
		return dst, ErrBadPath
	}
	if bytes.IndexByte(p, '%') < 0 && !hasSlashDot(p) {
		return append(dst, p...), nil // common case: already normal
	}
	base := len(dst)
	out := append(dst, '/')
	i := 1
	for {
		// out ends with '/'; copy the next segment after it.
		seg := len(out)
		for i < len(p) && p[i] != '/' {
			if p[i] != '%' { // copy the run up to the next '/' or '%'
				j := i + 1
				for j < len(p) && p[j] != '/' && p[j] != '%' {
					j++
				}
				out = append(out, p[i:j]...)
				i = j
				continue
			}
			if i+2 >= len(p) {
				return dst, ErrBadPath
			}
			hi, lo := unhex(p[i+1]), unhex(p[i+2])
			if hi > 15 || lo > 15 {
				return dst, ErrBadPath
			}
			out = appendEscape(out, hi, lo)
			i += 3
		}
		switch s := out[seg:]; {
		case len(s) == 1 && s[0] == '.':
			out = out[:seg]
		case len(s) == 2 && s[0] == '.' && s[1] == '.':
			out = out[:seg]
			if seg-1 > base { // drop the previous segment too, keeping its leading '/'
				j := bytes.LastIndexByte(out[base:seg-1], '/')
				out = out[:base+j+1]
			}
		default:
			if i < len(p) {
				out = append(out, '/')
			}
		}
		if i >= len(p) {
			return out, nil
		}
		i++ // the '/' ending this segment
	}
}

// appendEscape appends the normal form of the escape with hex digit
// values hi and lo: the byte itself when unreserved, else the escape with
// upper-case hex.
func appendEscape(out []byte, hi, lo byte) []byte {
	if v := hi<<4 | lo; unreserved(v) {
		return append(out, v)
	}
	const upperHex = "0123456789ABCDEF"
	return append(out, '%', upperHex[hi], upperHex[lo])
}

// hasSlashDot reports whether p, which starts with '/', contains "/.", as
// every dot-segment does.
func hasSlashDot(p []byte) bool {
	for i := 1; i < len(p); {
		j := bytes.IndexByte(p[i:], '.')
		if j < 0 {
			return false
		}
		if p[i+j-1] == '/' {
			return true
		}
		i += j + 1
	}
	return false
}

// unhex returns the value of the hex digit c, or 255 when c is not one.
func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// canonEscapes returns p with its escapes in normal form (unreserved
// characters decoded, other escapes upper-cased) and its dot-segments left
// alone. It reports ErrBadPath like Normalize.
func canonEscapes(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", ErrBadPath
	}
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(p) {
			return "", ErrBadPath
		}
		hi, lo := unhex(p[i+1]), unhex(p[i+2])
		if hi > 15 || lo > 15 {
			return "", ErrBadPath
		}
		out = appendEscape(out, hi, lo)
		i += 2
	}
	return string(out), nil
}
