package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	f := func(in string, want slog.Level, wantErr bool) {
		t.Helper()
		got, err := ParseLevel(in)
		if (err != nil) != wantErr || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err=%v", in, got, err, want, wantErr)
		}
	}
	f("", slog.LevelInfo, false)
	f("DEBUG", slog.LevelDebug, false)
	f("warn", slog.LevelWarn, false)
	f("warning", slog.LevelWarn, false)
	f("error", slog.LevelError, false)
	f("gateway=debug", slog.LevelDebug, false)
	f("info,hyper=warn", slog.LevelInfo, false)
	f("loud", slog.LevelInfo, true)
}

func TestLevelPrecedence(t *testing.T) {
	env := map[string]string{"LOG_LEVEL": "warn", "RUST_LOG": "debug"}
	getenv := func(k string) string { return env[k] }
	if got := Level("error", getenv); got != slog.LevelError {
		t.Errorf("Level(config error) = %v; want ERROR", got)
	}
	if got := Level("", getenv); got != slog.LevelWarn {
		t.Errorf("Level(LOG_LEVEL) = %v; want WARN", got)
	}
	delete(env, "LOG_LEVEL")
	if got := Level("", getenv); got != slog.LevelDebug {
		t.Errorf("Level(RUST_LOG) = %v; want DEBUG", got)
	}
}

func TestJSONLine(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo).Info("ready", KeyGen, 1, Took(1500*time.Millisecond))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if m["msg"] != "ready" || m[KeyGen] != 1.0 || m[KeyTook] != 1.5 {
		t.Errorf("log line = %v", m)
	}
}
