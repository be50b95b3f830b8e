package ratelimit

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/config"
)

func TestAppendKey(t *testing.T) {
	in := &KeyInput{
		ClientIP: netip.MustParseAddr("::ffff:192.0.2.1"),
		RouteID:  "orders",
		Header: func(name string) []byte {
			switch name {
			case "X-Api-Key":
				return []byte("abc|d%e{f}")
			case "X-Long":
				return []byte(strings.Repeat("x", 200))
			}
			return nil
		},
		Claim: func(name string) (string, bool) {
			if name == "tenant" {
				return "acme", true
			}
			return "", false
		},
	}
	f := func(parts []string, subject, want string) {
		t.Helper()
		l := newLocalLimiter(t, config.RateLimit{Name: "p", LimitPerMinute: 1, Key: parts})
		in := *in
		in.Subject = subject
		if got := string(l.Policy("p").AppendKey(nil, &in)); got != want {
			t.Errorf("AppendKey(%q, sub %q) = %q; want %q", parts, subject, got, want)
		}
	}
	f(nil, "", "192.0.2.1")
	f([]string{"client_ip"}, "alice", "192.0.2.1")
	f([]string{"jwt_subject"}, "alice", "s=alice")
	f([]string{"jwt_subject"}, "", "ip=192.0.2.1")
	f([]string{"jwt_subject"}, "a|b", "s=a%7Cb")
	f([]string{"route_path"}, "", "orders")
	f([]string{"client_ip", "route_path"}, "", "192.0.2.1|orders")
	f([]string{"route_path", "jwt_subject"}, "bob", "orders|s=bob")
	f([]string{"header:X-Api-Key"}, "", "abc%7Cd%25e%7Bf%7D")
	f([]string{"header:X-Missing", "client_ip"}, "", "|192.0.2.1")
	f([]string{"claim:tenant", "claim:none"}, "", "acme|")
	f([]string{"header:X-Long"}, "", "#"+hex16(hash64(0, []byte(strings.Repeat("x", 200)))))

	l := newLocalLimiter(t, config.RateLimit{Name: "p", LimitPerMinute: 1, Key: []string{"client_ip"}})
	v6 := &KeyInput{ClientIP: netip.MustParseAddr("2001:db8::1")}
	if got := string(l.Policy("p").AppendKey([]byte("pre:"), v6)); got != "pre:2001:db8::1" {
		t.Errorf("AppendKey(v6) = %q", got)
	}
	// Header and Claim may be nil when unused.
	l = newLocalLimiter(t, config.RateLimit{Name: "p", LimitPerMinute: 1, Key: []string{"header:A", "claim:b"}})
	if got := string(l.Policy("p").AppendKey(nil, &KeyInput{})); got != "|" {
		t.Errorf("AppendKey(nil callbacks) = %q", got)
	}
}

func hex16(h uint64) string {
	var b []byte
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hexDigits[h>>uint(s)&0xf])
	}
	return string(b)
}

func TestHash64Spread(t *testing.T) {
	// Fixed seed: the same value in every process and run.
	if a, b := hash64(0, []byte("203.0.113.7")), hash64(0, []byte("203.0.113.7")); a != b {
		t.Fatal("hash64 is not deterministic")
	}
	// Bucket spread over a small table: no bucket gets more than 4× its share.
	const buckets, keys = 256, 256 * 16
	var n [buckets]int
	for i := range keys {
		k := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		n[hash64(7, []byte(k))%buckets]++
	}
	for i, c := range n {
		if c > 4*keys/buckets {
			t.Fatalf("bucket %d got %d of %d keys", i, c, keys)
		}
	}
}

func TestParseRedisURL(t *testing.T) {
	f := func(url string, want []string, master string) {
		t.Helper()
		opt, err := parseRedisURL(url)
		if err != nil {
			t.Errorf("parseRedisURL(%q): %v", url, err)
			return
		}
		if strings.Join(opt.InitAddress, ",") != strings.Join(want, ",") || opt.Sentinel.MasterSet != master {
			t.Errorf("parseRedisURL(%q) = %q, master %q; want %q, %q", url, opt.InitAddress, opt.Sentinel.MasterSet, want, master)
		}
	}
	f("redis://127.0.0.1:6379/", []string{"127.0.0.1:6379"}, "")
	f("redis://:pw@cache:6380/2", []string{"cache:6380"}, "")
	f("rediss://cache", []string{"cache:6379"}, "")
	f("unix:///run/redis.sock", []string{"/run/redis.sock"}, "")
	f("redis://a:7000?addr=b:7001&addr=c:7002", []string{"a:7000", "b:7001", "c:7002"}, "")
	f("redis://a:7000,redis://b:7001", []string{"a:7000", "b:7001"}, "")
	f("a:7000, b:7001,c:7002", []string{"a:7000", "b:7001", "c:7002"}, "")
	f("redis://s1:26379?addr=s2:26379&master_set=mymaster", []string{"s1:26379", "s2:26379"}, "mymaster")
	f("redis-sentinel://:pw@s1,s2:26380/mymaster", []string{"s1:26379", "s2:26380"}, "mymaster")

	opt, _ := parseRedisURL("redis-sentinel://user:p%40ss@s1/m")
	if opt.Username != "user" || opt.Password != "p@ss" {
		t.Errorf("sentinel credentials = %q, %q", opt.Username, opt.Password)
	}
	for _, bad := range []string{"http://x", "redis-sentinel://s1", "redis-sentinel://s1,/m", "redis://a:1/x/y"} {
		if _, err := parseRedisURL(bad); err == nil {
			t.Errorf("parseRedisURL(%q) succeeded", bad)
		}
	}
}
