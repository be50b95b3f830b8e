package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// completeUpstream answers 200 to every request it reads completely (head
// and body) and counts those in complete.
func completeUpstream(t *testing.T) (addr string, complete *atomic.Int64) {
	complete = new(atomic.Int64)
	addr, _ = rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			complete.Add(1)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return addr, complete
}

// TestFraming sends requests with ambiguous or invalid framing to a
// fasthttp.Server with Forward as handler; none may reach the upstream.
func TestFraming(t *testing.T) {
	addr, complete := completeUpstream(t)
	u := newUpstream(t, upstreamConfig(addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})

	const hostLine = "POST /x HTTP/1.1\r\nHost: gw\r\n"
	cases := []struct {
		name, raw string
		want      string // status line prefix
		forwarded int64  // complete requests the upstream may receive
	}{
		{"CL then TE", hostLine + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"TE then CL", hostLine + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"two different CL", hostLine + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "HTTP/1.1 400", 0},
		{"two equal CL", hostLine + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"CL list", hostLine + "Content-Length: 5, 5\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"CL letters", hostLine + "Content-Length: abc\r\n\r\n", "HTTP/1.1 400", 0},
		{"CL negative", hostLine + "Content-Length: -1\r\n\r\n", "HTTP/1.1 400", 0},
		{"CL plus sign", hostLine + "Content-Length: +5\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"CL hex", hostLine + "Content-Length: 0x5\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"CL inner space", hostLine + "Content-Length: 1 2\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"CL overflow", hostLine + "Content-Length: 99999999999999999999999\r\n\r\n", "HTTP/1.1 400", 0},
		{"TE gzip", hostLine + "Transfer-Encoding: gzip\r\n\r\nxxxx", "HTTP/1.1 400", 0},
		{"TE gzip, chunked", hostLine + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"TE chunked, gzip", hostLine + "Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"TE identity", hostLine + "Transfer-Encoding: identity\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"TE twice", hostLine + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"TE space before colon", hostLine + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		// fasthttp unfolds obs-fold (RFC 9112 allows replacing it by SP) and
		// reads the body as chunked: consistent framing, forwarded.
		{"TE obs-fold", hostLine + "Transfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 200", 1},
		{"TE on HTTP/1.0", "POST /x HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"bad chunk size", hostLine + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"chunk size overflow", hostLine + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400", 0},
		{"chunk without CRLF", hostLine + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", "HTTP/1.1 400", 0},
		{"bare LF in header", "POST /x HTTP/1.1\nHost: gw\nContent-Length: 5\n\nhello", "HTTP/1.1 400", 0},
		{"CL then TE identity", hostLine + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"TE identity then CL", hostLine + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 400", 0},
		{"TE chunked uppercase", hostLine + "TRANSFER-ENCODING: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 200", 1},
		{"valid CL", hostLine + "Content-Length: 5\r\n\r\nhello", "HTTP/1.1 200", 1},
		{"truncated CL body", hostLine + "Content-Length: 10\r\n\r\nhello", "HTTP/1.1 400", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := complete.Load()
			got := rawExchange(t, g.addr, tc.raw)
			if n := complete.Load() - before; n != tc.forwarded {
				t.Errorf("upstream received %d complete requests; want %d", n, tc.forwarded)
			}
			select {
			case r := <-g.results:
				t.Logf("answer %q; Forward ran: %v", got, r.err)
			default:
				t.Logf("answer %q; fasthttp refused it", got)
			}
			if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
				t.Errorf("answer %q; want %q", got, tc.want)
			}
		})
	}
}
