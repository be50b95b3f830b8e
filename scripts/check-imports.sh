#!/usr/bin/env bash
# Enforces the package boundaries of STYLE.md with `go list -deps`:
#   config imports nothing of ours;
#   worker/... (but the worker entry point worker/proc) never imports
#     supervisor/..., os/exec, os/signal or go-reuseport;
#   supervisor/... never imports worker/... or fasthttp;
#   only tests import bench/redistest.
set -euo pipefail
mod=github.com/fluxgate/fluxgate
fail=0
deps() { go list -deps "$1" 2>/dev/null | grep -vx "$1"; }
check() { # package, forbidden-regexp, reason
	local bad
	bad=$(deps "$1" | grep -E "$2" || true)
	if [ -n "$bad" ]; then
		echo "import rule: $1 must not import ($3):" >&2
		echo "$bad" | sed 's/^/    /' >&2
		fail=1
	fi
}
check "$mod/config" "^$mod/" "config imports nothing of ours"
for p in $(go list "$mod/worker/..." | grep -v "^$mod/worker/proc$"); do
	check "$p" "^($mod/supervisor|os/exec|os/signal|github.com/libp2p/go-reuseport)" "data plane knows no processes"
done
if go list "$mod/supervisor/..." >/dev/null 2>&1; then
	for p in $(go list "$mod/supervisor/..."); do
		check "$p" "^($mod/worker|github.com/valyala/fasthttp)" "supervisor knows no data plane"
	done
fi
# bench/redistest starts processes for tests only.
for p in $(go list ./... | grep -v "^$mod/bench/redistest$"); do
	check "$p" "^$mod/bench/redistest$" "redistest is for tests only"
done
exit $fail
