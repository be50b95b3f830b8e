package ratelimit

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/rueidis"
)

// parseRedisURL turns the configured Redis URL into rueidis options.
// Accepted forms:
//
//	redis://[user:pass@]host:port[/db][?opts]    standalone, or a cluster node
//	                                             (rueidis detects cluster mode)
//	rediss://...                                 the same over TLS
//	unix:///path/to/redis.sock[?db=n]            a local socket
//	redis://host:port?addr=h2:p2&addr=h3:p3      several cluster seeds
//	redis://h1:p1,redis://h2:p2  (or h1:p1,h2:p2) several cluster seeds
//	redis://[:pass@]s1:26379?addr=s2:26379&master_set=mymaster
//	                                             Sentinel (the addresses are
//	                                             sentinels; pass = the master's)
//	redis-sentinel://[:pass@]s1:26379,s2:26379/mymaster
//	                                             the same, as one URL
//
// Query options of rueidis.ParseURL apply (dial_timeout, write_timeout,
// client_name, protocol, skip_verify for rediss).
func parseRedisURL(s string) (rueidis.ClientOption, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "redis-sentinel://"); ok {
		return parseSentinelURL(rest)
	}
	seeds := strings.Split(s, ",")
	var opt rueidis.ClientOption
	for i, seed := range seeds {
		seed = strings.TrimSpace(seed)
		if !strings.Contains(seed, "://") {
			seed = "redis://" + seed
		}
		// rueidis reads an empty database number from a bare "/" path
		// (the config default is "redis://127.0.0.1:6379/").
		if u, err := url.Parse(seed); err == nil && u.Path == "/" && u.Scheme != "unix" {
			u.Path = ""
			seed = u.String()
		}
		o, err := rueidis.ParseURL(seed)
		if err != nil {
			return opt, fmt.Errorf("%q: %v: %w", s, err, ErrRedisURL)
		}
		if i == 0 {
			opt = o
			continue
		}
		opt.InitAddress = append(opt.InitAddress, o.InitAddress...)
	}
	return opt, nil
}

// parseSentinelURL parses the part after "redis-sentinel://":
// [user:pass@]host[:port][,host[:port]...]/master[?opts].
func parseSentinelURL(rest string) (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	bad := func(why string) (rueidis.ClientOption, error) {
		return opt, fmt.Errorf("redis-sentinel://%s: %s: %w", rest, why, ErrRedisURL)
	}
	if at := strings.LastIndexByte(strings.SplitN(rest, "/", 2)[0], '@'); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var err error
		if opt.Username, err = url.PathUnescape(user); err != nil {
			return bad("user")
		}
		if opt.Password, err = url.PathUnescape(pass); err != nil {
			return bad("password")
		}
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	master, query, _ := strings.Cut(path, "?")
	if master == "" {
		return bad("no master name")
	}
	for h := range strings.SplitSeq(hosts, ",") {
		if h == "" {
			return bad("empty sentinel address")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "26379")
		}
		opt.InitAddress = append(opt.InitAddress, h)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("query")
	}
	opt.Sentinel.MasterSet = master
	opt.ClientName = q.Get("client_name")
	return opt, nil
}
