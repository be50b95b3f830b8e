package route

// AppendRewrite appends to dst the path to forward for the normalised
// request path p, which this route matched, and returns the extended slice:
//
//   - without rewrite_path: p itself;
//   - exact route: rewrite_path, whatever p is;
//   - prefix route: p with the matched prefix replaced by rewrite_path
//     (prefix "/api", rewrite "/v2": "/api/users" → "/v2/users", and, the
//     prefix being a plain string prefix, "/apix" → "/v2x").
//
// The junction never doubles or loses a slash: when rewrite_path ends with
// "/" and the rest of p starts with "/", one of them is dropped (prefix
// "/api", rewrite "/": "/api/users" → "/users", "/api" → "/"); when the
// prefix ends with "/" its slash is kept even if rewrite_path lacks it
// (prefix "/api/", rewrite "/v2": "/api/users" → "/v2/users"). The result
// always starts with "/": an empty rewrite_path strips the prefix ("/api" →
// "/", "/apix" → "/x"). A p that does not start with a prefix route's path
// is appended unchanged. Zero allocations when dst has room.
func (r *Route) AppendRewrite(dst, p []byte) []byte {
	if !r.hasRewrite {
		return append(dst, p...)
	}
	var rest []byte
	if !r.Exact {
		if len(p) < len(r.Path) || string(p[:len(r.Path)]) != r.Path {
			return append(dst, p...)
		}
		rest = p[len(r.Path):]
	}
	start := len(dst)
	dst = append(dst, r.rewrite...)
	if len(rest) > 0 && rest[0] == '/' && len(dst) > start && dst[len(dst)-1] == '/' {
		rest = rest[1:]
	}
	dst = append(dst, rest...)
	if len(dst) == start || dst[start] != '/' {
		dst = append(dst, 0)
		copy(dst[start+1:], dst[start:])
		dst[start] = '/'
	}
	return dst
}
