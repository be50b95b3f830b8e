#!/usr/bin/env bash
# `make bench`: fluxgate side by side with NGINX on loopback, with wrk.
#
# Starts bin/upstream, fluxgate (bench/configs/fluxgate.yaml.tmpl) and NGINX
# as the equivalent reverse proxy (bench/nginx/nginx.conf.tmpl), each on a
# port of its own choosing or a freshly free one; runs every scenario against
# fluxgate and NGINX in alternation (A B A B ...), then once straight at the
# upstream (the ceiling); prints a markdown table and writes it, with the
# machine and versions, to bench/results/YYYY-MM-DD-<host>.md. Every process
# it starts is stopped by PID on exit, Ctrl-C included. See bench/README.md.
#
# Environment (defaults in brackets):
#   BENCH_DURATION   one measured wrk run [10s]
#   BENCH_WARMUP     unmeasured wrk run per scenario and target, 0 = none [2s]
#   BENCH_CONNS      wrk connections [64]
#   BENCH_THREADS    wrk threads [2]
#   BENCH_ROUNDS     fluxgate/NGINX pairs per scenario [2]
#   BENCH_SCENARIOS  space- or comma-separated subset of
#                    plain post_4k post_1m auth_hs256 auth_rs256 auth_rs256_many ratelimit mixed
#   BENCH_WORKERS    fluxgate workers = NGINX worker_processes [nproc]
#   BENCH_OUT        result file [bench/results/YYYY-MM-DD-<host>.md; "-quick" added
#                    when any of the settings above differs from its default]
#   BENCH_NOTE       a line for the result file (e.g. what else ran on the machine)
#   BENCH_KEEP=1     keep the temp dir (configs, logs, raw wrk output)
set -eEuo pipefail
trap 'echo "[bench] failed: line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

all_scenarios="plain post_4k post_1m auth_hs256 auth_rs256 auth_rs256_many ratelimit mixed"
duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
conns=${BENCH_CONNS:-64}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-2}
scenarios=$(echo "${BENCH_SCENARIOS:-$all_scenarios}" | tr ',' ' ')
workers=${BENCH_WORKERS:-$(nproc)}
many_tokens=20000 # auth_rs256_many: twice the verified-token cache of a worker
rl_keys=10000     # ratelimit: distinct X-Forwarded-For addresses
GO=${GO:-go}

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# seconds turns a wrk duration (10, 10s, 2m, 1h) into seconds.
seconds() {
	local d=$1
	case $d in
	*s) echo "${d%s}" ;;
	*m) echo $((${d%m} * 60)) ;;
	*h) echo $((${d%h} * 3600)) ;;
	*) echo "$d" ;;
	esac
}

for s in $scenarios; do
	case " $all_scenarios " in *" $s "*) ;; *) die "unknown scenario '$s' (known: $all_scenarios)" ;; esac
done
for v in "$conns" "$threads" "$rounds" "$workers" "$(seconds "$duration")" "$(seconds "$warmup")"; do
	[[ $v =~ ^[0-9]+$ ]] || die "not a count or duration: '$v'"
done
[ "$rounds" -ge 1 ] && [ "$(seconds "$duration")" -ge 1 ] || die "BENCH_ROUNDS and BENCH_DURATION must be at least 1"

# --- tools -----------------------------------------------------------------

apt_install() {
	[ "$(id -u)" = 0 ] || die "$1 is missing: install it (apt-get install $1) and run again"
	log "installing $1 with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null; }
}
command -v wrk >/dev/null || apt_install wrk
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
	apt_install nginx
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
command -v curl >/dev/null || apt_install curl
[ -x bin/fluxgate ] && [ -x bin/upstream ] || die "bin/fluxgate or bin/upstream missing: run 'make build' (make bench does)"

# --- processes, cleaned up by PID --------------------------------------------

work=$(mktemp -d /tmp/fluxgate-bench.XXXXXX)
chmod 755 "$work" # NGINX workers run as an unprivileged user
pids=()

stop() { # pid name: SIGTERM, then SIGKILL after 10 s
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$2 (pid $pid) still running after 10 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

names=()
cleanup() {
	local rc=$? i
	trap - EXIT
	trap '' INT TERM # finish stopping what we started, even on a second Ctrl-C
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop "${pids[i]}" "${names[i]}"
	done
	if [ "$rc" != 0 ] || [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "logs, configs and raw wrk output kept in $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

started() { pids+=("$1") && names+=("$2"); }

# wait_for FILE PATTERN PID NAME: until a line of FILE matches PATTERN (20 s).
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		if grep -q -- "$2" "$1" 2>/dev/null; then return 0; fi
		kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "$4 exited before it was ready"; }
		sleep 0.1
	done
	cat "$1" >&2
	die "$4 not ready after 20 s"
}

# cpu PID: CPU seconds (user+system) used so far by PID and its children.
tck=$(getconf CLK_TCK)
cpu() {
	local root_pid=$1
	# After "pid (comm) ", field 2 is the ppid, 12 and 13 utime and stime.
	# Processes may vanish between the glob and cat: ignore cat's status.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed -E 's/^([0-9]+) \(.*\) /\1 /' |
		awk -v p="$root_pid" -v hz="$tck" '$1 == p || $3 == p { t += $13 + $14 } END { printf "%.2f", t / hz }'
}

log "work dir $work; building bench tool"
$GO build -o "$work/benchtool" ./bench/tools/benchtool
bt=$work/benchtool

# Upstream: bin/upstream reports its own port.
bin/upstream -addr 127.0.0.1:0 -name bench >"$work/upstream.log" 2>&1 &
up_pid=$!
started $up_pid upstream
wait_for "$work/upstream.log" "listening on" $up_pid upstream
up_addr=$(sed -n 's/^listening on //p' "$work/upstream.log" | head -1)
log "upstream on $up_addr"

# Keys and tokens for the auth scenarios.
"$bt" keys "$work"
"$bt" token -alg HS256 -key "$work/hs256.secret" >"$work/hs256.token"
"$bt" token -alg RS256 -key "$work/rs256.key" >"$work/rs256.token"
if [[ " $scenarios " == *" auth_rs256_many "* ]]; then
	log "minting $many_tokens RS256 tokens"
	"$bt" token -alg RS256 -key "$work/rs256.key" -n "$many_tokens" >"$work/rs256_many.tokens"
fi

# fluxgate: listens on 127.0.0.1:0 and reports the address in its "ready" line.
sed -e "s|@UPSTREAM@|$up_addr|g" -e "s|@WORKERS@|$workers|g" -e "s|@KEYDIR@|$work|g" \
	bench/configs/fluxgate.yaml.tmpl >"$work/fluxgate.yaml"
bin/fluxgate check -c "$work/fluxgate.yaml" >/dev/null
bin/fluxgate run -c "$work/fluxgate.yaml" 2>"$work/fluxgate.log" &
fg_pid=$!
started $fg_pid fluxgate
wait_for "$work/fluxgate.log" '"msg":"ready"' $fg_pid fluxgate
fg_addr=$(grep -m1 '"msg":"ready"' "$work/fluxgate.log" | sed -E 's/.*"addr":"([^"]+)".*/\1/')
log "fluxgate on $fg_addr ($workers workers)"

# NGINX cannot report a port: take a free one and check that it got it.
mkdir -p "$work/nginx"
ng_pid=
for attempt in 1 2 3 4 5; do
	port=$("$bt" freeport)
	sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@WORKERS@|$workers|g" -e "s|@PORT@|$port|g" \
		-e "s|@UPSTREAM@|$up_addr|g" bench/nginx/nginx.conf.tmpl >"$work/nginx/nginx.conf"
	"$NGINX" -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" ||
		{ cat "$work/nginx/error.log" >&2; die "nginx -t refused the bench config"; }
	"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 $pid 2>/dev/null || break
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/plain/ping" && break
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null && curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/plain/ping"; then
		ng_pid=$pid
		started $pid nginx
		break
	fi
	stop $pid nginx
	log "nginx could not use port $port (attempt $attempt): $(tail -1 "$work/nginx/error.log" 2>/dev/null)"
done
[ -n "$ng_pid" ] || die "nginx did not start"
ng_addr=127.0.0.1:$port
log "nginx on $ng_addr ($workers worker processes)"

# --- scenarios ---------------------------------------------------------------

# scenario NAME sets: path (request URL path), script (wrk Lua, may be empty),
# note (for the table) and exports the variables the script reads.
scenario() {
	unset BENCH_TOKEN_FILE BENCH_KEYS
	script=
	case $1 in
	plain)
		path=/plain/api/items
		note="GET, ~0.5 KB JSON response; both plain proxies" ;;
	post_4k)
		path=/post/upload script=post_4k.lua
		note="POST 4 KiB body; NGINX with proxy_request_buffering off (streams like fluxgate)" ;;
	post_1m)
		path=/post/upload script=post_1m.lua
		note="POST 1 MiB body; NGINX with proxy_request_buffering off; limit 8 MiB on both" ;;
	auth_hs256)
		path=/auth-hs/api/me script=auth.lua
		export BENCH_TOKEN_FILE=$work/hs256.token
		note="fluxgate validates an HS256 JWT (one token, so its verified-token cache answers); NGINX: plain proxy, no JWT check (not in open-source NGINX)" ;;
	auth_rs256)
		path=/auth-rs/api/me script=auth.lua
		export BENCH_TOKEN_FILE=$work/rs256.token
		note="fluxgate validates an RS256 JWT (one token, cache hit); NGINX: plain proxy, no JWT check" ;;
	auth_rs256_many)
		path=/auth-rs/api/me script=auth.lua
		export BENCH_TOKEN_FILE=$work/rs256_many.tokens
		note="fluxgate validates $many_tokens distinct RS256 JWTs round-robin (2x its 10000-token cache per worker: mostly real RSA verifications); NGINX: plain proxy, no JWT check" ;;
	ratelimit)
		path=/rl/api/items script=ratelimit_keys.lua
		export BENCH_KEYS=$rl_keys
		note="$rl_keys client keys in X-Forwarded-For; fluxgate: token bucket, store local, trusts 127.0.0.1; NGINX: limit_req zone keyed by \$http_x_forwarded_for at 1000000 r/s (never refuses)" ;;
	mixed)
		path= script=mixed.lua
		export BENCH_TOKEN_FILE=$work/hs256.token
		note="60% small GET, 10% 16 KiB GET, 10% POST 4 KiB, 12% HS256-auth GET, 8% rate-limited GET; NGINX: same routes, auth ones as plain proxy" ;;
	esac
}

# preflight NAME ADDR: one request like the scenario's, which must get a 2xx.
preflight() {
	local args=(-s -o "$work/preflight.body" -w '%{http_code}' --max-time 5)
	case $1 in
	post_4k) args+=(-X POST --data-binary "@$work/body4k") ;;
	post_1m) args+=(-X POST -H 'Content-Type: application/octet-stream' --data-binary "@$work/body1m") ;;
	auth_hs256 | mixed) args+=(-H "Authorization: Bearer $(cat "$work/hs256.token")") ;;
	auth_rs256) args+=(-H "Authorization: Bearer $(cat "$work/rs256.token")") ;;
	auth_rs256_many) args+=(-H "Authorization: Bearer $(head -1 "$work/rs256_many.tokens")") ;;
	ratelimit) args+=(-H 'X-Forwarded-For: 10.0.0.1') ;;
	esac
	local p=$path code
	[ -n "$p" ] || p=/auth-hs/api/me
	code=$(curl "${args[@]}" "http://$2$p" 2>/dev/null) || true # curl prints 000 when it gets no answer
	echo "${code:-000}"
}
head -c 4096 /dev/zero | tr '\0' x >"$work/body4k"
head -c 1048576 /dev/zero | tr '\0' x >"$work/body1m"

dur_s=$(seconds "$duration")
# wrk_run NAME TARGET ADDR ROUND: one measured run, appended to raw.tsv.
wrk_run() {
	local name=$1 target=$2 addr=$3 round=$4 pid= out c0 c1 res
	out=$work/runs/$name-$target-$round.txt
	case $target in fluxgate) pid=$fg_pid ;; nginx) pid=$ng_pid ;; esac
	[ -z "$pid" ] || c0=$(cpu "$pid")
	timeout --foreground --kill-after=5 $((dur_s + 30)) wrk -t"$threads" -c"$conns" -d"$duration" --timeout 5s --latency \
		${script:+-s "bench/wrk/$script"} "http://$addr$path" >"$out" 2>&1 ||
		log "wrk exited with $? for $name/$target (output in $out)"
	[ -z "$pid" ] || c1=$(cpu "$pid")
	if ! res=$("$bt" wrk <"$out"); then
		cat "$out" >&2
		log "$name/$target round $round: unreadable wrk output, not counted"
		return 0
	fi
	local cpu_s=0
	[ -z "$pid" ] || cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$target" "$round" "$res" "$cpu_s" >>"$work/raw.tsv"
	read -r rps p50 p99 non2xx sock _ <<<"$res"
	log "$(printf '%-16s %-8s round %s: %9.0f req/s  p50 %7.3f ms  p99 %8.3f ms  non-2xx %s  socket errors %s  cpu %ss' \
		"$name" "$target" "$round" "$rps" "$p50" "$p99" "$non2xx" "$sock" "$cpu_s")"
}

alive() {
	kill -0 "$fg_pid" 2>/dev/null || { tail -20 "$work/fluxgate.log" >&2; die "fluxgate died"; }
	kill -0 "$ng_pid" 2>/dev/null || { tail -20 "$work/nginx/error.log" >&2; die "nginx died"; }
}

mkdir -p "$work/runs"
: >"$work/raw.tsv"
: >"$work/notes.tsv"
n_scen=$(wc -w <<<"$scenarios")
est=$((n_scen * ((2 * rounds + 1) * dur_s + 3 * $(seconds "$warmup"))))
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	log "warning: load average $load_before on $(nproc) CPUs before starting: other work will skew the numbers"
fi
log "scenarios: $scenarios; $rounds rounds x $duration, $conns connections, $threads wrk threads; about $((est / 60)) min $((est % 60)) s"

for s in $scenarios; do
	alive
	scenario "$s"
	for t in fluxgate:$fg_addr nginx:$ng_addr direct:$up_addr; do
		code=$(preflight "$s" "${t#*:}")
		if [[ $code != 2* ]]; then
			log "preflight $s/${t%%:*}: HTTP $code: $(head -c 300 "$work/preflight.body")"
			note="$note; PREFLIGHT ${t%%:*}: HTTP $code"
		fi
	done
	printf '%s\t%s\n' "$s" "$note" >>"$work/notes.tsv"
	if [ "$(seconds "$warmup")" -gt 0 ]; then
		for addr in "$fg_addr" "$ng_addr" "$up_addr"; do
			timeout --foreground $(($(seconds "$warmup") + 30)) wrk -t"$threads" -c"$conns" -d"$warmup" --timeout 5s \
				${script:+-s "bench/wrk/$script"} "http://$addr$path" >/dev/null 2>&1 || true
		done
	fi
	for ((r = 1; r <= rounds; r++)); do
		wrk_run "$s" fluxgate "$fg_addr" $r
		wrk_run "$s" nginx "$ng_addr" $r
		alive
	done
	wrk_run "$s" direct "$up_addr" 1
done

# --- report ------------------------------------------------------------------

# fluxgate's own counters, as a sanity check: the bench must not be measuring
# refusals.
fg_metrics=$(curl -s --max-time 5 "http://$fg_addr/metrics" || true)
fg_refused=$(awk '/^fluxgate_ratelimit_decisions_total\{.*result="refused"/ { n += $NF } END { print n + 0 }' <<<"$fg_metrics")
fg_authfail=$(awk '/^fluxgate_auth_failures_total\{/ { n += $NF } END { print n + 0 }' <<<"$fg_metrics")

host=$(hostname -s 2>/dev/null || hostname)
out=${BENCH_OUT:-}
if [ -z "$out" ]; then
	suffix=
	if [ "$duration" != 10s ] || [ "$conns" != 64 ] || [ "$threads" != 2 ] || [ "$rounds" != 2 ] ||
		[ "$scenarios" != "$all_scenarios" ] || [ "$workers" != "$(nproc)" ] || [ "$warmup" != 2s ]; then
		suffix=-quick
	fi
	out=bench/results/$(date -u +%F)-$host$suffix.md
fi
mkdir -p "$(dirname "$out")"

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
fg_problems=$(grep -c -E '"level":"(WARN|ERROR)"' "$work/fluxgate.log" || true)
ng_problems=$(grep -c -E '\[(warn|error|crit|alert|emerg)\]' "$work/nginx/error.log" || true)
{
	echo "# fluxgate vs NGINX — $(date -u '+%F %H:%M UTC') on $host"
	echo
	echo "- machine: $(nproc) CPUs ($cpu_model), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
	echo "- versions: $($GO version | sed 's/^go version //'), $(bin/fluxgate version), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $({ wrk -v 2>&1 || true; } | head -1 | awk '{ print "wrk " $2 }')"
	echo "- settings: wrk -t$threads -c$conns -d$duration --latency, warm-up $warmup per target, $rounds rounds per proxy in alternation (fluxgate, NGINX, fluxgate, NGINX, ...), direct-to-upstream ceiling once"
	echo "- fluxgate: $workers workers, access log off; NGINX: worker_processes $workers, access_log off, upstream keepalive 256, HTTP/1.1 to the upstream"
	echo "- everything (wrk, both proxies, bin/upstream) shares the same $(nproc) CPUs on 127.0.0.1, so absolute numbers are low and"
	echo "  noisy; compare the ratio and the CPU cost. Load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "- sanity: log lines at warn or above: fluxgate $fg_problems, NGINX $ng_problems; fluxgate counted $fg_refused rate-limit refusals and $fg_authfail auth failures (preflight included)"
	[ -z "${BENCH_NOTE:-}" ] || echo "- note: $BENCH_NOTE"
	echo
	echo "req/s: mean over rounds (lowest–highest); p50/p99: mean of the rounds' wrk percentiles; errors: non-2xx responses and socket errors summed over rounds."
	echo
	"$bt" table "$work/raw.tsv" "$work/notes.tsv"
} >"$out"
echo
cat "$out"
echo
log "written to $out"
