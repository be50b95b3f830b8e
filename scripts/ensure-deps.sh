#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: redis-server (the
# rate-limit tests start their own servers on private sockets/ports).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "redis-server is missing: install it (Debian: sudo apt-get install redis-server) and re-run" >&2
	exit 1
fi
echo "installing redis-server (needed by the rate-limit tests)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
