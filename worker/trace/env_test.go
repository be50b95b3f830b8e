package trace

import (
	"errors"
	"maps"
	"testing"
	"time"
)

func TestReadEnv(t *testing.T) {
	const base = "http://127.0.0.1:4318"
	ok := func(env map[string]string, check func(c envConfig) string) {
		t.Helper()
		c, err := readEnv(mapEnv(env))
		if err != nil {
			t.Fatalf("readEnv(%v): %v", env, err)
		}
		if msg := check(c); msg != "" {
			t.Errorf("readEnv(%v): %s", env, msg)
		}
	}
	bad := func(env map[string]string) {
		t.Helper()
		if _, err := readEnv(mapEnv(env)); !errors.Is(err, ErrEnv) {
			t.Errorf("readEnv(%v) = %v; want ErrEnv", env, err)
		}
	}
	exporting := func(want bool, endpoint string) func(envConfig) string {
		return func(c envConfig) string {
			if c.export != want || c.endpoint != endpoint {
				return "export " + boolStr(c.export) + " to " + c.endpoint
			}
			return ""
		}
	}

	// Export on and off.
	ok(nil, exporting(false, ""))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base}, exporting(true, base+"/v1/traces"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/"}, exporting(true, base+"/v1/traces"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/otlp"}, exporting(true, base+"/otlp/v1/traces"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base}, exporting(true, base+"/"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c.example/x/y"}, exporting(true, "https://c.example/x/y"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base + "/t"}, exporting(true, base+"/t"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_SDK_DISABLED": "true"}, exporting(false, ""))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_SDK_DISABLED": "false"}, exporting(true, base+"/v1/traces"))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_TRACES_EXPORTER": "none"}, exporting(false, ""))
	ok(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_TRACES_EXPORTER": "otlp"}, exporting(true, base+"/v1/traces"))
	bad(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"})
	bad(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://127.0.0.1:4317"})
	bad(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"})
	bad(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"})
	bad(map[string]string{"OTEL_SDK_DISABLED": "yes"})

	// Exporter settings.
	with := func(kv ...string) map[string]string {
		m := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	ok(with(), func(c envConfig) string {
		if c.timeout != 10*time.Second || c.gzip || c.json || c.headers != nil {
			return "defaults wrong"
		}
		return ""
	})
	ok(with("OTEL_EXPORTER_OTLP_HEADERS", " api-key = s3cr%20t ,x-tenant=a%2Cb,,"), func(c envConfig) string {
		if !maps.Equal(c.headers, map[string]string{"api-key": "s3cr t", "x-tenant": "a,b"}) {
			return "headers wrong"
		}
		return ""
	})
	ok(with("OTEL_EXPORTER_OTLP_HEADERS", "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"), func(c envConfig) string {
		if !maps.Equal(c.headers, map[string]string{"b": "2"}) {
			return "per-signal headers do not win"
		}
		return ""
	})
	bad(with("OTEL_EXPORTER_OTLP_HEADERS", "novalue"))
	bad(with("OTEL_EXPORTER_OTLP_HEADERS", "bad key=1"))
	bad(with("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"))
	ok(with("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500", "OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), func(c envConfig) string {
		if c.timeout != 2500*time.Millisecond || !c.gzip || !c.json {
			return "timeout, compression or protocol wrong"
		}
		return ""
	})
	bad(with("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"))
	bad(with("OTEL_EXPORTER_OTLP_TIMEOUT", "0"))
	bad(with("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"))
	bad(with("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))
	bad(with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http"))

	// Service name and resource.
	name := func(want string) func(envConfig) string {
		return func(c envConfig) string {
			if c.serviceName != want {
				return "service name " + c.serviceName
			}
			return ""
		}
	}
	ok(nil, name("fluxgate"))
	ok(map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=edge,deployment.environment=prod"}, func(c envConfig) string {
		if c.serviceName != "edge" || len(c.resource) != 1 || c.resource[0].Value.AsString() != "prod" {
			return "resource wrong"
		}
		return ""
	})
	ok(map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=edge", "OTEL_SERVICE_NAME": "gw"}, name("gw"))
	bad(map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name"})

	// Samplers.
	samp := func(want sampler) func(envConfig) string {
		return func(c envConfig) string {
			if c.sampler != want {
				return "sampler wrong"
			}
			return ""
		}
	}
	s := func(name, arg string) map[string]string {
		return map[string]string{"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": arg}
	}
	ok(nil, samp(sampler{parentBased: true, all: true}))
	ok(s("parentbased_always_on", "0.1"), samp(sampler{parentBased: true, all: true}))
	ok(s("parentbased_always_off", ""), samp(sampler{parentBased: true}))
	ok(s("always_on", ""), samp(sampler{all: true}))
	ok(s("always_off", ""), samp(sampler{}))
	ok(s("traceidratio", "0.5"), samp(newSampler(false, 0.5)))
	ok(s("traceidratio", ""), samp(sampler{all: true}))
	ok(s("parentbased_traceidratio", "0.25"), samp(newSampler(true, 0.25)))
	ok(s("parentbased_traceidratio", "0"), samp(sampler{parentBased: true}))
	bad(s("traceidratio", "1.5"))
	bad(s("traceidratio", "-0.1"))
	bad(s("traceidratio", "NaN"))
	bad(s("traceidratio", "half"))
	bad(s("jaeger_remote", ""))
	bad(s("AlwaysOn", ""))
}

func boolStr(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
