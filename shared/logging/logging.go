// Package logging sets up fluxgate's structured JSON logs (log/slog) and
// fixes the attribute keys every package uses.
//
// Invariants: every log line is one JSON object on one line; lifecycle
// events use only the keys below (plus "msg", "time", "level"); durations
// are logged under KeyTook as seconds (a float).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Fixed attribute keys (STYLE.md: one list for the whole project).
const (
	// KeyGen is the worker generation number.
	KeyGen = "gen"
	// KeyWorker is the worker slot number.
	KeyWorker = "worker"
	// KeyPID is an operating-system process id.
	KeyPID = "pid"
	// KeyRoute is a route id.
	KeyRoute = "route"
	// KeyUpstream is an upstream name.
	KeyUpstream = "upstream"
	// KeyErr is an error's text.
	KeyErr = "err"
	// KeyTook is a duration in seconds.
	KeyTook = "took"
)

// ParseLevel maps "debug", "info", "warn"/"warning", "error" (any case) to a
// slog level. "" is info. RUST_LOG-style values such as "gateway=debug" or
// "info,hyper=warn" use their first bare or last module level.
func ParseLevel(s string) (slog.Level, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		s = s[i+1:]
	}
	switch s {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("logging: unknown level %q", s)
}

// Level picks the level from the config value, else LOG_LEVEL, else
// RUST_LOG, else info. An unknown value is info (the config validator
// reports it; logging must not fail).
func Level(configured string, getenv func(string) string) slog.Level {
	for _, v := range []string{configured, getenv("LOG_LEVEL"), getenv("RUST_LOG")} {
		if v == "" {
			continue
		}
		if l, err := ParseLevel(v); err == nil {
			return l
		}
	}
	return slog.LevelInfo
}

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Took is the KeyTook attribute for d, in seconds.
func Took(d time.Duration) slog.Attr {
	return slog.Float64(KeyTook, d.Seconds())
}

// Err is the KeyErr attribute for err.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.String(KeyErr, "")
	}
	return slog.String(KeyErr, err.Error())
}
