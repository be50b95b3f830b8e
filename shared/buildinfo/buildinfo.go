// Package buildinfo holds the version of the fluxgate binary.
//
// Invariant: Version is written only by the linker
// (go build -ldflags "-X github.com/fluxgate/fluxgate/shared/buildinfo.Version=v1.2.3",
// as the Makefile does); nothing assigns it at run time.
package buildinfo

import "runtime/debug"

// Version is the release version, set by -ldflags -X at build time. It is
// the one package-level variable the linker needs; never assigned in code.
var Version = "dev"

// String returns the one-line description printed by `fluxgate version`.
func String() string {
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	return "fluxgate " + Version + " (" + goVersion + ")"
}
