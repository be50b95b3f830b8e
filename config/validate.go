package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// validator collects every problem of a decoded config.
type validator struct {
	c          *Config
	getenv     func(string) string
	decodeErrs []*Error // problems already reported while decoding
	errs       []*Error
}

// errf records a problem at path, unless decoding already reported one at
// path or above it (which would make this one a follow-on).
func (v *validator) errf(path, format string, args ...any) {
	for _, e := range v.decodeErrs {
		if e.Path == path || strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[") {
			return
		}
	}
	v.errs = append(v.errs, v.c.Errorf(path, format, args...))
}

// nonNegative reports a negative value at path.
func (v *validator) nonNegative(path string, n int64) {
	if n < 0 {
		v.errf(path, "must not be negative, got %d", n)
	}
}

// algorithms lists the JOSE algorithm names a policy may use (case matters).
const algorithms = "HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

// knownAlgorithm reports whether a is one of algorithms.
func knownAlgorithm(a string) bool {
	return a != "" && !strings.Contains(a, " ") && contains(strings.Fields(algorithms), a)
}

// knownMethod reports whether m is an HTTP method a route may list.
func knownMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE":
		return true
	}
	return false
}

func (v *validator) validate() {
	v.server()
	v.observability()
	policies := v.authPolicies()
	upstreams := v.upstreams()
	limits := v.rateLimits()
	v.routes(policies, upstreams, limits)
}

func (v *validator) server() {
	s := &v.c.Server
	if host, port, err := net.SplitHostPort(s.ListenAddr); err != nil {
		v.errf("server.listen_addr", "%q is not host:port", s.ListenAddr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errf("server.listen_addr", "%q: port must be a number from 0 to 65535", s.ListenAddr)
	} else if host != "" && net.ParseIP(host) == nil && !validHost(host) {
		v.errf("server.listen_addr", "%q: bad host", s.ListenAddr)
	}
	v.nonNegative("server.shutdown_grace_period_secs", int64(s.ShutdownGracePeriodSecs))
	v.nonNegative("server.shutdown_delay_secs", int64(s.ShutdownDelaySecs))
	v.nonNegative("server.workers", int64(s.Workers))
	v.nonNegative("server.idle_grace_ms", int64(s.IdleGraceMS))
	v.nonNegative("server.ready_timeout_secs", int64(s.ReadyTimeoutSecs))
	v.nonNegative("server.max_header_bytes", int64(s.MaxHeaderBytes))
	v.nonNegative("server.idle_timeout_secs", int64(s.IdleTimeoutSecs))
	v.nonNegative("server.read_header_timeout_secs", int64(s.ReadHeaderTimeoutSecs))
	v.nonNegative("server.max_body_bytes", s.MaxBodyBytes)
	for i, p := range s.TrustedProxies {
		p = strings.TrimSpace(p)
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err == nil {
			continue
		}
		v.errf(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is neither a CIDR nor an IP address", p)
	}
}

// validHost reports whether h looks like a DNS name.
func validHost(h string) bool {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func (v *validator) observability() {
	c := v.c
	switch p := c.Metrics.Path; {
	case !strings.HasPrefix(p, "/"):
		v.errf("metrics.path", "%q must start with \"/\"", p)
	case p == "/healthz" || p == "/readyz":
		v.errf("metrics.path", "%q is reserved", p)
	}
	v.nonNegative("redis.timeout_ms", int64(c.Redis.TimeoutMS))
	if !knownLevel(c.Log.Level) {
		v.errf("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	if s := c.Log.AccessLogSample; !(s > 0 && s <= 1) {
		v.errf("log.access_log_sample", "must be in (0, 1], got %v", s)
	}
}

// names checks that every name is set and unique, and returns the index of
// each by name.
func (v *validator) names(section, field string, n int, name func(int) string) map[string]int {
	idx := make(map[string]int, n)
	for i := range n {
		path := fmt.Sprintf("%s[%d].%s", section, i, field)
		nm := name(i)
		if nm == "" {
			v.errf(path, "%s is required", field)
			continue
		}
		if j, dup := idx[nm]; dup {
			v.errf(path, "duplicate %s %q (also %s[%d])", field, nm, section, j)
			continue
		}
		idx[nm] = i
	}
	return idx
}

func (v *validator) authPolicies() map[string]int {
	ps := v.c.AuthPolicies
	idx := v.names("auth_policies", "name", len(ps), func(i int) string { return ps[i].Name })
	for i, p := range ps {
		at := func(f string) string { return fmt.Sprintf("auth_policies[%d].%s", i, f) }
		switch {
		case p.Algorithm == "":
			v.errf(at("algorithm"), "algorithm is required")
		case !knownAlgorithm(p.Algorithm):
			v.errf(at("algorithm"), "unknown algorithm %q (want one of %s)", p.Algorithm, algorithms)
		}
		if p.JWKSURL != "" {
			if msg := checkURL(p.JWKSURL, false); msg != "" {
				v.errf(at("jwks_url"), "%s", msg)
			}
		}
		if p.LeewaySecs != nil {
			v.nonNegative(at("leeway_secs"), int64(*p.LeewaySecs))
		}
		for claim, header := range p.ForwardClaims {
			fp := at("forward_claims." + claim)
			if claim == "" {
				v.errf(fp, "claim name must not be empty")
			}
			if !validToken(header) {
				v.errf(fp, "%q is not a valid header name", header)
			}
		}
	}
	return idx
}

// checkURL returns what is wrong with an http(s) URL, or "".
// prefixOnly forbids a query and fragment.
func checkURL(s string, prefixOnly bool) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("bad URL %q", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("URL %q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("URL %q has no host", s)
	case prefixOnly && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#")):
		return fmt.Sprintf("URL %q must not have a query or fragment", s)
	case u.User != nil && prefixOnly:
		return fmt.Sprintf("URL %q must not carry user info", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("URL %q: bad port", s)
		}
	}
	return ""
}

// validToken reports whether s is an RFC 9110 token (a header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (v *validator) upstreams() map[string]int {
	us := v.c.Upstreams
	idx := v.names("upstreams", "name", len(us), func(i int) string { return us[i].Name })
	for i, u := range us {
		at := func(f string) string { return fmt.Sprintf("upstreams[%d].%s", i, f) }
		if u.BaseURL == "" {
			v.errf(at("base_url"), "base_url is required")
		} else if msg := checkURL(u.BaseURL, true); msg != "" {
			v.errf(at("base_url"), "%s", msg)
		}
		v.nonNegative(at("timeout_ms"), int64(u.TimeoutMS))
		v.nonNegative(at("connect_timeout_ms"), int64(u.ConnectTimeoutMS))
		v.nonNegative(at("max_conns"), int64(u.MaxConns))
		v.nonNegative(at("retry.attempts"), int64(u.Retry.Attempts))
		v.nonNegative(at("retry.backoff_ms"), int64(u.Retry.BackoffMS))
	}
	return idx
}

func (v *validator) rateLimits() map[string]int {
	ls := v.c.RateLimits
	idx := v.names("rate_limits", "name", len(ls), func(i int) string { return ls[i].Name })
	for i, l := range ls {
		at := func(f string) string { return fmt.Sprintf("rate_limits[%d].%s", i, f) }
		if l.LimitPerMinute <= 0 {
			v.errf(at("limit_per_minute"), "must be positive, got %d", l.LimitPerMinute)
		}
		v.nonNegative(at("burst"), int64(l.Burst))
		for j, k := range l.Key {
			if msg := checkKey(k); msg != "" {
				v.errf(fmt.Sprintf("rate_limits[%d].key[%d]", i, j), "%s", msg)
			}
		}
		if l.Store != "redis" && l.Store != "local" {
			v.errf(at("store"), "unknown store %q (want redis or local)", l.Store)
		}
		switch l.OnRedisFailure {
		case "local", "allow", "deny":
		default:
			v.errf(at("on_redis_failure"), "unknown value %q (want local, allow or deny)", l.OnRedisFailure)
		}
	}
	return idx
}

// checkKey returns what is wrong with a rate-limit key part, or "".
func checkKey(k string) string {
	switch {
	case k == "client_ip", k == "jwt_subject", k == "route_path":
		return ""
	case strings.HasPrefix(k, "header:"):
		if !validToken(k[len("header:"):]) {
			return fmt.Sprintf("key %q: bad header name", k)
		}
		return ""
	case strings.HasPrefix(k, "claim:"):
		if strings.TrimSpace(k[len("claim:"):]) == "" {
			return fmt.Sprintf("key %q: empty claim name", k)
		}
		return ""
	}
	return fmt.Sprintf("unknown key %q (want client_ip, jwt_subject, route_path, header:<Name> or claim:<name>)", k)
}

// needsAuth reports whether a rate limit keys on the token.
func needsAuth(l RateLimit) bool {
	for _, k := range l.Key {
		if k == "jwt_subject" || strings.HasPrefix(k, "claim:") {
			return true
		}
	}
	return false
}

// broken reports whether decoding failed somewhere in section, so that
// references into it are not checked (they would only echo that problem).
func (v *validator) broken(section string) bool {
	for _, e := range v.decodeErrs {
		if e.Path == section || strings.HasPrefix(e.Path, section+"[") {
			return true
		}
	}
	return false
}

func (v *validator) routes(policies, upstreams, limits map[string]int) {
	rs := v.c.Routes
	checkUpstreams, checkPolicies, checkLimits := !v.broken("upstreams"), !v.broken("auth_policies"), !v.broken("rate_limits")
	v.names("routes", "id", len(rs), func(i int) string { return rs[i].ID })
	for i := range rs {
		r := &rs[i]
		at := func(f string) string { return fmt.Sprintf("routes[%d].%s", i, f) }
		v.matchPath(at("match_path"), r.MatchPath)
		if r.RewritePath != nil && !strings.HasPrefix(*r.RewritePath, "/") {
			v.errf(at("rewrite_path"), "%q must start with \"/\"", *r.RewritePath)
		}
		seen := r.Methods[:0]
		for j, m := range r.Methods {
			if !knownMethod(m) {
				v.errf(fmt.Sprintf("routes[%d].methods[%d]", i, j), "unknown method %q", m)
			}
			if !contains(seen, m) {
				seen = append(seen, m)
			}
		}
		r.Methods = seen
		switch _, ok := upstreams[r.Upstream]; {
		case r.Upstream == "":
			v.errf(at("upstream"), "upstream is required")
		case !ok && checkUpstreams:
			v.errf(at("upstream"), "unknown upstream %q", r.Upstream)
		}
		if _, ok := policies[r.AuthPolicy]; r.AuthPolicy != "" && !ok && checkPolicies {
			v.errf(at("auth_policy"), "unknown auth policy %q", r.AuthPolicy)
		}
		if r.RateLimit != "" {
			if j, ok := limits[r.RateLimit]; !ok && checkLimits {
				v.errf(at("rate_limit"), "unknown rate limit %q", r.RateLimit)
			} else if ok && r.AuthPolicy == "" && needsAuth(v.c.RateLimits[j]) {
				v.errf(at("rate_limit"), "rate limit %q keys on the token (jwt_subject or claim:) but the route has no auth_policy", r.RateLimit)
			}
		}
	}
	v.overlaps()
}

func (v *validator) matchPath(path string, m MatchPath) {
	switch {
	case m.Prefix == "" && m.Exact == "":
		v.errf(path, "needs one of prefix or exact")
		return
	case m.Prefix != "" && m.Exact != "":
		v.errf(path, "has both prefix and exact; set only one")
		return
	}
	field, p := "prefix", m.Prefix
	if m.Exact != "" {
		field, p = "exact", m.Exact
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		v.errf(path+"."+field, "%q must start with \"/\"", p)
	case strings.ContainsAny(p, "?#"):
		v.errf(path+"."+field, "%q must not contain a query or fragment", p)
	}
}

// overlaps reports routes with the same exact path (or the same prefix)
// whose methods overlap, so that no request matches two routes equally.
// Empty methods mean any; GET implies HEAD.
func (v *validator) overlaps() {
	rs := v.c.Routes
	type key struct {
		exact bool
		path  string
	}
	first := map[key][]int{}
	for i, r := range rs {
		k := key{r.MatchPath.Exact != "", r.MatchPath.Exact + r.MatchPath.Prefix}
		if k.path == "" || r.MatchPath.Exact != "" && r.MatchPath.Prefix != "" {
			continue
		}
		for _, j := range first[k] {
			if methodsOverlap(rs[i].Methods, rs[j].Methods) {
				field := "prefix"
				if k.exact {
					field = "exact"
				}
				v.errf(fmt.Sprintf("routes[%d].match_path.%s", i, field),
					"same %s %q and overlapping methods as route %q", field, k.path, rs[j].ID)
				break
			}
		}
		first[k] = append(first[k], i)
	}
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, m := range a {
		for _, n := range b {
			if m == n || m == "GET" && n == "HEAD" || m == "HEAD" && n == "GET" {
				return true
			}
		}
	}
	return false
}
