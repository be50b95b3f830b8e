#!/usr/bin/env bash
# `make run`: starts the demo upstream on 127.0.0.1:9090 and the gateway with
# config/config.yaml in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${JWT_SECRET:=demo-secret-change-me}"
export JWT_SECRET
bin/upstream -addr 127.0.0.1:9090 -name demo &
up=$!
trap 'kill "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true' EXIT
echo "demo upstream pid $up on 127.0.0.1:9090; gateway on :8080 (try: curl localhost:8080/api/hello)" >&2
bin/fluxgate run -c "${GATEWAY_CONFIG_PATH:-config/config.yaml}"
