package proxy

import (
	"bufio"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// upstreamSaw parses the request head echoed by echoHeaders.
func upstreamSaw(t *testing.T, body string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatalf("parsing echoed head %q: %v", body, err)
	}
	return r
}

func TestRequestHeaders(t *testing.T) {
	up := startUpstream(t, echoHeaders)
	upHost := up.addr
	trusted, err := ParseTrusted([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	const absent = "<absent>"
	cases := []struct {
		name    string
		headers string // extra request header lines, CRLF-terminated
		opts    Options
		trusted *Trusted
		rid     string
		want    map[string]string
	}{
		{
			name:    "hop-by-hop and Connection-listed are dropped",
			headers: "Connection: keep-alive, X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eA==\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\nX-Normal: y\r\n",
			want: map[string]string{
				"Connection": absent, "X-Secret": absent, "X-Other": absent, "Keep-Alive": absent,
				"Te": absent, "Upgrade": absent, "Proxy-Authorization": absent, "Proxy-Authenticate": absent,
				"Trailer": absent, "X-Normal": "y",
			},
		},
		{
			name:    "Connection close is not forwarded, end-to-end headers kept",
			headers: "Connection: close\r\nAccept: */*\r\nCookie: a=1; b=2\r\nUser-Agent: ua/1\r\nAuthorization: Bearer t\r\n",
			want:    map[string]string{"Connection": absent, "Accept": "*/*", "Cookie": "a=1; b=2", "User-Agent": "ua/1", "Authorization": "Bearer t"},
		},
		{
			name:    "Host is the upstream's, client host in X-Forwarded-Host",
			headers: "",
			want:    map[string]string{"Host": upHost, "X-Forwarded-Host": "gw.example", "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"},
		},
		{
			name:    "untrusted peer: client X-Forwarded-* replaced",
			headers: "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n",
			want:    map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.example"},
		},
		{
			name:    "trusted peer: client X-Forwarded-* kept, peer appended",
			headers: "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example\r\n",
			trusted: trusted,
			want:    map[string]string{"X-Forwarded-For": "203.0.113.7, 10.0.0.1, 10.0.0.2, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"},
		},
		{
			name:    "trusted peer without client headers",
			trusted: trusted,
			want:    map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.example"},
		},
		{
			name: "no Forwarded unless enabled",
			want: map[string]string{"Forwarded": absent},
		},
		{
			name:    "Forwarded, untrusted: replaced",
			headers: "Forwarded: for=192.0.2.60;proto=https\r\n",
			opts:    Options{ForwardedHeader: true},
			want:    map[string]string{"Forwarded": "for=127.0.0.1;proto=http;host=gw.example"},
		},
		{
			name:    "Forwarded, trusted: appended",
			headers: "Forwarded: for=192.0.2.60;proto=https\r\n",
			opts:    Options{ForwardedHeader: true},
			trusted: trusted,
			want:    map[string]string{"Forwarded": "for=192.0.2.60;proto=https, for=127.0.0.1;proto=http;host=gw.example"},
		},
		{
			name:    "X-Request-ID from the caller replaces the client's",
			headers: "X-Request-ID: client-chosen\r\n",
			rid:     "rid-42",
			want:    map[string]string{"X-Request-Id": "rid-42"},
		},
		{
			name:    "X-Request-ID of the client kept when the caller has none",
			headers: "X-Request-ID: client-chosen\r\n",
			want:    map[string]string{"X-Request-Id": "client-chosen"},
		},
		{
			name:    "Expect is not forwarded",
			headers: "Expect: 100-continue\r\nContent-Length: 2\r\n",
			want:    map[string]string{"Expect": absent, "Content-Length": "2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, upstreamConfig(up.addr, nil), tc.opts)
			g := startGateway(t, u, gatewayConfig{trusted: tc.trusted, info: Info{RequestID: []byte(tc.rid)}})
			body := ""
			if strings.Contains(tc.headers, "Content-Length: 2") {
				body = "hi"
			}
			resp, echoed := rawRoundTrip(t, g.addr, "POST /p HTTP/1.1\r\nHost: gw.example\r\n"+tc.headers+"\r\n"+body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, echoed)
			}
			r := upstreamSaw(t, echoed)
			for k, want := range tc.want {
				var got string
				switch vs, ok := r.Header[http.CanonicalHeaderKey(k)]; {
				case k == "Host":
					got = r.Host
				case !ok:
					got = absent
				default:
					got = strings.Join(vs, ", ")
				}
				if got != want {
					t.Errorf("upstream %s = %q; want %q\n%s", k, got, want, echoed)
				}
			}
			if tc.rid != "" {
				if got := resp.Header.Get("X-Request-ID"); got != tc.rid {
					t.Errorf("response X-Request-ID = %q; want %q", got, tc.rid)
				}
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		h.Set("Connection", "X-Up-Secret")
		h.Set("X-Up-Secret", "s")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Upgrade", "h2c")
		h.Set("X-Request-ID", "upstream-id")
		h.Set("X-Kept", "k")
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; Path=/")
		ctx.SetStatusCode(201)
		ctx.SetBodyString("created")
	})
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{info: Info{RequestID: []byte("rid-1")}})
	resp, body := rawRoundTrip(t, g.addr, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != 201 || body != "created" {
		t.Fatalf("got %d %q; want 201 created", resp.StatusCode, body)
	}
	for _, k := range []string{"X-Up-Secret", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("client got %s: %q; want absent", k, v)
		}
	}
	if v := resp.Header.Values("Connection"); len(v) > 0 && !(len(v) == 1 && v[0] == "keep-alive") {
		t.Errorf("client got Connection %q", v)
	}
	if got := resp.Header.Get("X-Kept"); got != "k" {
		t.Errorf("X-Kept = %q; want k", got)
	}
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "rid-1" {
		t.Errorf("X-Request-ID = %q; want [rid-1]", got)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie = %q; want two", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "" {
		t.Errorf("Content-Type = %q; want none (the upstream sent none)", got)
	}
}

func TestAppendForwarded(t *testing.T) {
	f := func(ip, proto, host, want string) {
		t.Helper()
		var a netip.Addr
		if ip != "" {
			a = netip.MustParseAddr(ip)
		}
		if got := string(appendForwarded(nil, a, []byte(proto), []byte(host))); got != want {
			t.Errorf("appendForwarded(%q, %q, %q) = %q; want %q", ip, proto, host, got, want)
		}
	}
	f("192.0.2.1", "http", "example.com", "for=192.0.2.1;proto=http;host=example.com")
	f("2001:db8::1", "https", "example.com", `for="[2001:db8::1]";proto=https;host=example.com`)
	f("192.0.2.1", "http", "example.com:8080", `for=192.0.2.1;proto=http;host="example.com:8080"`)
	f("192.0.2.1", "http", "[::1]:80", `for=192.0.2.1;proto=http;host="[::1]:80"`)
	f("192.0.2.1", "http", "", "for=192.0.2.1;proto=http")
	f("", "http", "h", "for=unknown;proto=http;host=h")
}

func TestHopByHop(t *testing.T) {
	for _, k := range []string{"Connection", "connection", "KEEP-ALIVE", "Proxy-Authenticate", "proxy-authorization", "te", "Trailer", "Transfer-Encoding", "upgrade"} {
		if !isHopByHop([]byte(k)) {
			t.Errorf("isHopByHop(%q) = false; want true", k)
		}
	}
	for _, k := range []string{"Content-Length", "Accept", "Tea", "Trailers", "X-Upgrade", ""} {
		if isHopByHop([]byte(k)) {
			t.Errorf("isHopByHop(%q) = true; want false", k)
		}
	}
	f := func(key, list string, want bool) {
		t.Helper()
		if got := listed([]byte(key), []byte(list)); got != want {
			t.Errorf("listed(%q, %q) = %v; want %v", key, list, got, want)
		}
	}
	f("X-A", "keep-alive, x-a", true)
	f("X-A", "X-AB,", false)
	f("X-A", " ,\tX-A\t,", true)
	f("X-A", "", false)
}
