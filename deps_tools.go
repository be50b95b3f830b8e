//go:build tools

// This file pins the project's dependencies in go.mod while the packages
// that use them are being written. It is never built.
package main

import (
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/cristalhq/jwt/v5"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/goccy/go-yaml"
	_ "github.com/libp2p/go-reuseport"
	_ "github.com/redis/rueidis"
	_ "golang.org/x/sys/unix"
)
