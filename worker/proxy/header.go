package proxy

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// Header names handled here; compared case-insensitively.
var (
	hdrConnection         = []byte("Connection")
	hdrContentLength      = []byte("Content-Length")
	hdrTransferEncoding   = []byte("Transfer-Encoding")
	hdrHost               = []byte("Host")
	hdrExpect             = []byte("Expect")
	hdrXForwardedFor      = []byte("X-Forwarded-For")
	hdrXForwardedProto    = []byte("X-Forwarded-Proto")
	hdrXForwardedHost     = []byte("X-Forwarded-Host")
	hdrForwarded          = []byte("Forwarded")
	hdrXRequestID         = []byte("X-Request-ID")
	hdrKeepAlive          = []byte("Keep-Alive")
	hdrProxyAuthenticate  = []byte("Proxy-Authenticate")
	hdrProxyAuthorization = []byte("Proxy-Authorization")
	hdrTE                 = []byte("TE")
	hdrTrailer            = []byte("Trailer")
	hdrUpgrade            = []byte("Upgrade")

	protoHTTP  = []byte("http")
	protoHTTPS = []byte("https")
)

// isHopByHop reports whether key is one of the fixed hop-by-hop headers of
// RFC 9110 section 7.6.1 (plus the legacy Keep-Alive and Proxy-*).
func isHopByHop(key []byte) bool {
	switch len(key) {
	case 2:
		return bytes.EqualFold(key, hdrTE)
	case 7:
		return bytes.EqualFold(key, hdrTrailer) || bytes.EqualFold(key, hdrUpgrade)
	case 10:
		return bytes.EqualFold(key, hdrConnection) || bytes.EqualFold(key, hdrKeepAlive)
	case 17:
		return bytes.EqualFold(key, hdrTransferEncoding)
	case 18:
		return bytes.EqualFold(key, hdrProxyAuthenticate)
	case 19:
		return bytes.EqualFold(key, hdrProxyAuthorization)
	}
	return false
}

// listed reports whether key is one of the comma-separated tokens of list
// (the values of the Connection headers).
func listed(key, list []byte) bool {
	for len(list) > 0 {
		i := bytes.IndexByte(list, ',')
		var tok []byte
		if i < 0 {
			tok, list = list, nil
		} else {
			tok, list = list[:i], list[i+1:]
		}
		if bytes.EqualFold(trimOWS(tok), key) {
			return true
		}
	}
	return false
}

// rewrite is the per-request scratch space of the header rewrite; its
// buffers are reused across requests.
type rewrite struct {
	uri      []byte
	connList []byte
	xff      []byte
	xfp      []byte
	xfh      []byte
	fwd      []byte
}

// requestHeader fills out (freshly reset) from in for the upstream: method,
// request target base+path+raw query, Host of the upstream, end-to-end
// headers of the client, and the X-Forwarded-*, Forwarded and X-Request-ID
// headers of the gateway. peer is the TCP peer's address.
func (rw *rewrite) requestHeader(out, in *fasthttp.RequestHeader, u *Upstream, path []byte, info *Info, peer netip.Addr) {
	out.SetMethodBytes(in.Method())

	rw.uri = append(rw.uri[:0], u.basePath...)
	rw.uri = append(rw.uri, path...)
	if raw := in.RequestURI(); len(raw) > 0 {
		if i := bytes.IndexByte(raw, '?'); i >= 0 {
			rw.uri = append(rw.uri, raw[i:]...)
		}
	}
	out.SetRequestURIBytes(rw.uri)
	out.SetHostBytes(u.host)

	rw.connList = rw.connList[:0]
	for k, v := range in.All() {
		if bytes.EqualFold(k, hdrConnection) {
			rw.connList = append(rw.connList, v...)
			rw.connList = append(rw.connList, ',')
		}
	}

	trusted := info.PeerTrusted
	rw.xff, rw.xfp, rw.xfh, rw.fwd = rw.xff[:0], rw.xfp[:0], rw.xfh[:0], rw.fwd[:0]
	for k, v := range in.All() {
		if isHopByHop(k) || listed(k, rw.connList) {
			continue
		}
		switch {
		case bytes.EqualFold(k, hdrHost), bytes.EqualFold(k, hdrContentLength), bytes.EqualFold(k, hdrExpect):
			continue
		case bytes.EqualFold(k, hdrXForwardedFor):
			if trusted {
				rw.xff = appendList(rw.xff, v)
			}
			continue
		case bytes.EqualFold(k, hdrXForwardedProto):
			if trusted && len(rw.xfp) == 0 {
				rw.xfp = append(rw.xfp, v...)
			}
			continue
		case bytes.EqualFold(k, hdrXForwardedHost):
			if trusted && len(rw.xfh) == 0 {
				rw.xfh = append(rw.xfh, v...)
			}
			continue
		case bytes.EqualFold(k, hdrForwarded):
			if trusted {
				rw.fwd = appendList(rw.fwd, v)
			}
			continue
		case bytes.EqualFold(k, hdrXRequestID):
			if len(info.RequestID) > 0 {
				continue
			}
		}
		out.AddBytesKV(k, v)
	}

	proto := protoHTTP
	if info.TLS {
		proto = protoHTTPS
	}
	if !peer.IsValid() {
		peer = info.ClientIP
	}
	client := info.ClientIP
	if !client.IsValid() {
		client = peer
	}
	switch {
	case trusted && len(rw.xff) > 0 && peer.IsValid():
		rw.xff = append(rw.xff, ", "...)
		rw.xff = peer.AppendTo(rw.xff)
	case client.IsValid():
		rw.xff = client.AppendTo(rw.xff[:0])
	default:
		rw.xff = rw.xff[:0]
	}
	if len(rw.xff) > 0 {
		out.SetBytesKV(hdrXForwardedFor, rw.xff)
	}
	if len(rw.xfp) == 0 {
		rw.xfp = append(rw.xfp, proto...)
	}
	out.SetBytesKV(hdrXForwardedProto, rw.xfp)
	if len(rw.xfh) == 0 {
		rw.xfh = append(rw.xfh, in.Host()...)
	}
	if len(rw.xfh) > 0 {
		out.SetBytesKV(hdrXForwardedHost, rw.xfh)
	}
	if u.opts.ForwardedHeader {
		if !trusted {
			rw.fwd = rw.fwd[:0]
		}
		// Our element describes the hop we saw: for= is the TCP peer.
		rw.fwd = appendForwarded(rw.fwd, peer, proto, in.Host())
		out.SetBytesKV(hdrForwarded, rw.fwd)
	}
	if len(info.RequestID) > 0 {
		out.SetBytesKV(hdrXRequestID, info.RequestID)
	}
}

// appendList appends v to the comma-separated list dst.
func appendList(dst, v []byte) []byte {
	v = trimOWS(v)
	if len(v) == 0 {
		return dst
	}
	if len(dst) > 0 {
		dst = append(dst, ", "...)
	}
	return append(dst, v...)
}

// appendForwarded appends one RFC 7239 element "for=...;proto=...;host=..."
// to the list dst. IPv6 addresses are bracketed and quoted; a host that is
// not a plain token (it has a port, say) is quoted.
func appendForwarded(dst []byte, ip netip.Addr, proto, host []byte) []byte {
	if len(dst) > 0 {
		dst = append(dst, ", "...)
	}
	dst = append(dst, "for="...)
	switch {
	case !ip.IsValid():
		dst = append(dst, "unknown"...)
	case ip.Is6():
		dst = append(dst, `"[`...)
		dst = ip.AppendTo(dst)
		dst = append(dst, `]"`...)
	default:
		dst = ip.AppendTo(dst)
	}
	dst = append(dst, ";proto="...)
	dst = append(dst, proto...)
	if len(host) > 0 {
		dst = append(dst, ";host="...)
		dst = appendTokenOrQuoted(dst, host)
	}
	return dst
}

// appendTokenOrQuoted appends v as an RFC 9110 token if it is one, else as
// a quoted-string.
func appendTokenOrQuoted(dst, v []byte) []byte {
	token := true
	for _, b := range v {
		if !isTChar(b) {
			token = false
			break
		}
	}
	if token {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, b := range v {
		if b == '"' || b == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, b)
	}
	return append(dst, '"')
}

func isTChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// responseHeader copies the upstream response head src onto dst, which may
// already hold headers set by the caller (rate-limit headers, say).
// Hop-by-hop headers, Connection-listed headers and Content-Length are not
// copied; the caller sets the body framing.
func (rw *rewrite) responseHeader(dst, src *fasthttp.ResponseHeader) {
	dst.SetStatusCode(src.StatusCode())
	dst.SetNoDefaultContentType(true)
	rw.connList = rw.connList[:0]
	for k, v := range src.All() {
		if bytes.EqualFold(k, hdrConnection) {
			rw.connList = append(rw.connList, v...)
			rw.connList = append(rw.connList, ',')
		}
	}
	for k, v := range src.All() {
		if isHopByHop(k) || listed(k, rw.connList) || bytes.EqualFold(k, hdrContentLength) {
			continue
		}
		dst.AddBytesKV(k, v)
	}
}
