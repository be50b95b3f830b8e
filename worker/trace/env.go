package trace

import (
	"fmt"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// defaultServiceName is service.name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES names one.
const defaultServiceName = "fluxgate"

// defaultExportTimeout bounds one export request (retries included) when
// OTEL_EXPORTER_OTLP_TIMEOUT is not set; the OpenTelemetry default.
const defaultExportTimeout = 10 * time.Second

// envConfig is what the OpenTelemetry variables say.
type envConfig struct {
	sampler sampler

	// export is set when an endpoint variable is set and export is not
	// disabled; the fields below matter only then.
	export   bool
	endpoint string // full URL, path included
	headers  map[string]string
	timeout  time.Duration
	gzip     bool
	json     bool // http/json instead of http/protobuf

	serviceName string
	resource    []attribute.KeyValue // OTEL_RESOURCE_ATTRIBUTES minus service.name
}

// readEnv reads the OpenTelemetry variables through getenv. An empty
// variable counts as unset.
func readEnv(getenv func(string) string) (envConfig, error) {
	var c envConfig
	var err error
	if c.sampler, err = readSampler(getenv); err != nil {
		return c, err
	}

	c.serviceName = defaultServiceName
	if v := getenv("OTEL_RESOURCE_ATTRIBUTES"); v != "" {
		kv, err := parseList(v)
		if err != nil {
			return c, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
		}
		for _, p := range kv {
			if p[0] == "service.name" {
				c.serviceName = p[1]
				continue
			}
			c.resource = append(c.resource, attribute.String(p[0], p[1]))
		}
	}
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		c.serviceName = v
	}

	switch v := getenv("OTEL_SDK_DISABLED"); strings.ToLower(v) {
	case "", "false":
	case "true":
		return c, nil
	default:
		return c, fmt.Errorf("OTEL_SDK_DISABLED=%q: %w", v, ErrEnv)
	}
	switch v := getenv("OTEL_TRACES_EXPORTER"); v {
	case "", "otlp":
	case "none":
		return c, nil
	default:
		return c, fmt.Errorf("OTEL_TRACES_EXPORTER=%q (only otlp or none): %w", v, ErrEnv)
	}

	name, v := pick(getenv, "ENDPOINT")
	if v == "" {
		return c, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%s=%q (want an http or https URL): %w", name, v, ErrEnv)
	}
	switch {
	case name == "OTEL_EXPORTER_OTLP_ENDPOINT":
		// A base URL: the signal path is appended.
		u.Path = path.Join("/", u.Path, "v1/traces")
		u.RawPath = ""
	case u.Path == "":
		// The per-signal URL is used as is, but never without a path.
		u.Path = "/"
	}
	c.export = true
	c.endpoint = u.String()

	if name, v := pick(getenv, "HEADERS"); v != "" {
		kv, err := parseList(v)
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err) // no value: it may hold a secret
		}
		c.headers = make(map[string]string, len(kv))
		for _, p := range kv {
			c.headers[p[0]] = p[1]
		}
	}

	c.timeout = defaultExportTimeout
	if name, v := pick(getenv, "TIMEOUT"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 {
			return c, fmt.Errorf("%s=%q (want milliseconds > 0): %w", name, v, ErrEnv)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}

	switch name, v := pick(getenv, "COMPRESSION"); v {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return c, fmt.Errorf("%s=%q (want gzip or none): %w", name, v, ErrEnv)
	}

	switch name, v := pick(getenv, "PROTOCOL"); v {
	case "", "http/protobuf":
	case "http/json":
		c.json = true
	default:
		return c, fmt.Errorf("%s=%q (only http/protobuf or http/json): %w", name, v, ErrEnv)
	}
	return c, nil
}

// readSampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
func readSampler(getenv func(string) string) (sampler, error) {
	name := getenv("OTEL_TRACES_SAMPLER")
	switch name {
	case "", "parentbased_always_on":
		return newSampler(true, 1), nil
	case "parentbased_always_off":
		return newSampler(true, 0), nil
	case "always_on":
		return newSampler(false, 1), nil
	case "always_off":
		return newSampler(false, 0), nil
	case "traceidratio", "parentbased_traceidratio":
	default:
		return sampler{}, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: %w", name, ErrEnv)
	}
	ratio := 1.0
	if arg := getenv("OTEL_TRACES_SAMPLER_ARG"); arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			return sampler{}, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q (want a ratio in [0, 1]): %w", arg, ErrEnv)
		}
		ratio = r
	}
	return newSampler(name == "parentbased_traceidratio", ratio), nil
}

// pick returns the name and value of OTEL_EXPORTER_OTLP_TRACES_<suffix>
// if set, else of OTEL_EXPORTER_OTLP_<suffix>.
func pick(getenv func(string) string, suffix string) (name, value string) {
	name = "OTEL_EXPORTER_OTLP_TRACES_" + suffix
	if value = getenv(name); value != "" {
		return name, value
	}
	name = "OTEL_EXPORTER_OTLP_" + suffix
	return name, getenv(name)
}

// parseList parses "key=value,key=value" (W3C Baggage shaped, as used by
// OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES): whitespace
// around keys and values is trimmed, values are percent-decoded, empty
// members are skipped. The error never quotes the input.
func parseList(s string) ([][2]string, error) {
	var out [][2]string
	for m := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(m) == "" {
			continue
		}
		k, v, ok := strings.Cut(m, "=")
		k = strings.TrimSpace(k)
		if !ok || !validToken(k) {
			return nil, fmt.Errorf("member %d is not key=value: %w", len(out)+1, ErrEnv)
		}
		v, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("member %d: bad percent-encoding: %w", len(out)+1, ErrEnv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// validToken reports whether s is a non-empty RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
