#!/usr/bin/env bash
# compare.sh runs the load generator's scenarios against Switchboard, the
# nexus v3 router (nexusd) and the forwarding stub, one fresh router process
# per run, the routers taking turns on the same port, and prints each
# metric's median and the ratio Switchboard/nexus against the targets of
# issue 4. On a machine with two or more CPUs the router runs on CPU 0 and
# the load generator on CPU 1.
#
#   tools/bench/compare.sh [-n RUNS] [-d DURATION] [-quick] [-only REGEX]
#                    [-routers "switchboard nexus stub"] [-port PORT] [-out DIR]
#
#   -n        runs per scenario and router (default 3)
#   -d        measured window of each run (default 5s)
#   -quick    smoke run: 1 run of 1s each, 1000 sessions for conns
#   -only     run only the scenarios whose label matches REGEX (grep -E)
#   -routers  routers to run, in turn (default "switchboard nexus stub")
#   -port     TCP port every router listens on (default 18080)
#   -out      directory for binaries, configs, logs and results
#             (default a new directory under /tmp)
#
# Results: OUT/results.jsonl (one JSON report per run), OUT/summary.txt and
# OUT/summary.md (the tables), OUT/machine.txt. See docs/performance.md.
set -euo pipefail

runs=3
dur=5s
quick=0
only=
routers="switchboard nexus stub"
port=18080
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-n) runs=$2; shift 2 ;;
	-d) dur=$2; shift 2 ;;
	-quick) quick=1; shift ;;
	-only) only=$2; shift 2 ;;
	-routers) routers=$2; shift 2 ;;
	-port) port=$2; shift 2 ;;
	-out) out=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "compare.sh: unknown argument $1 (try -h)" >&2; exit 2 ;;
	esac
done
sessions=10000
if [ "$quick" = 1 ]; then
	runs=1
	dur=1s
	sessions=1000
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
go=$(command -v go || echo /usr/local/go/bin/go)
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/switchboard-compare.XXXXXX)
fi
mkdir -p "$out/bin"
bin=$out/bin
results=$out/results.jsonl
: >"$results"
log() { echo "compare.sh: $*" >&2; }

log "building into $bin"
(
	cd "$root"
	"$go" build -o "$bin/switchboard" ./cmd/switchboard
	"$go" build -o "$bin/switchboard-bench" ./cmd/switchboard-bench
	# nexus v3.3.0 as pinned in go.mod.
	"$go" build -o "$bin/nexusd" github.com/gammazero/nexus/v3/nexusd
)

cat >"$out/switchboard.yaml" <<EOF
log: {level: warn}
transports:
  - type: websocket
    listen: 127.0.0.1:$port
    path: /ws
realms:
  - name: realm1
EOF
# Realm realm1, anonymous, nexus's default queue sizes (64 messages per
# session), no keepalive pings, WebSocket only. nexus has no log level; it
# logs sessions coming and going to a file, as it does by default.
cat >"$out/nexus.json" <<EOF
{
  "websocket": {"address": "127.0.0.1:$port"},
  "log_path": "$out/nexus.log",
  "router": {"realms": [{"uri": "realm1", "anonymous_auth": true, "allow_disclose": true}]}
}
EOF

# The generator holds up to 10,000 sockets and so does the router.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((sessions + 100)) ]; then
	log "open file limit $(ulimit -n) is below $sessions sessions; conns will fail"
fi

ncpu=$(nproc)
router_cpu=()
gen_cpu=()
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	router_cpu=(taskset -c 0)
	gen_cpu=(taskset -c 1)
else
	log "not pinning: $ncpu CPU(s) or no taskset"
fi

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $ncpu"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory: $(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
	echo "kernel: $(uname -r)"
	echo "go: $("$go" version)"
	echo "switchboard: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$root" && git diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "load before: $(cat /proc/loadavg)"
	echo "runs: $runs x $dur, pinned: ${router_cpu[*]:-no} / ${gen_cpu[*]:-no}"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# label | target (metric>=ratio or metric<=ratio, Switchboard/nexus) | args
scenarios=(
	"fanout-1|throughput>=3|fanout -subscribers 1"
	"fanout-100|throughput>=10|fanout -subscribers 100"
	"fanout-1000|throughput>=4|fanout -subscribers 1000"
	"pubsub-10|throughput>=8|pubsub -pairs 10"
	"pubsub-100|throughput>=5|pubsub -pairs 100"
	"rpc-8x4|throughput>=3|rpc -callees 1 -callers 8 -inflight 4"
	"rpc-4x16|throughput>=3|rpc -callees 4 -invoke roundrobin -callers 16 -inflight 4"
	"rpc-rtt|p50<=1|rpc -callees 1 -callers 1 -inflight 1"
	"conns-$sessions|mem<=0.4|conns -sessions $sessions -parallel 32"
	"churn|throughput>=1.5|churn -parallel 32"
)

url=ws://127.0.0.1:$port/ws

# port_open reports whether something accepts connections on the port.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# idle_pct prints the machine's idle CPU percentage over one second.
idle_pct() {
	local a b
	a=($(head -1 /proc/stat))
	sleep 1
	b=($(head -1 /proc/stat))
	local total=0 i
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	local idle=$((b[4] - a[4] + b[5] - a[5]))
	echo $((total > 0 ? 100 * idle / total : 100))
}

# wait_quiet waits, up to a minute (5 s with -quick), for the machine to be
# at least 90% idle before a run: other work on the machine skews every
# figure. What remains shows in the reports as others CPU.
wait_quiet() {
	local i idle tries=30
	[ "$quick" = 1 ] && tries=3
	for i in $(seq "$tries"); do
		idle=$(idle_pct)
		if [ "$idle" -ge 90 ]; then
			return 0
		fi
		sleep 1
	done
	log "machine still busy ($idle% idle); running anyway, see others CPU in the tables"
}

start_router() {
	case "$1" in
	switchboard) "${router_cpu[@]}" "$bin/switchboard" -c "$out/switchboard.yaml" >>"$out/switchboard.log" 2>&1 & ;;
	nexus) "${router_cpu[@]}" "$bin/nexusd" -c "$out/nexus.json" >>"$out/nexus.out" 2>&1 & ;;
	stub) "${router_cpu[@]}" "$bin/switchboard-bench" stub -ws "127.0.0.1:$port" >>"$out/stub.log" 2>&1 & ;;
	*) log "unknown router $1"; exit 2 ;;
	esac
	router_pid=$!
	local i
	for i in $(seq 200); do
		if port_open; then
			return 0
		fi
		if ! kill -0 "$router_pid" 2>/dev/null; then
			log "$1 exited at start"
			return 1
		fi
		sleep 0.05
	done
	log "$1 did not open port $port"
	return 1
}

stop_router() {
	kill -TERM "$router_pid" 2>/dev/null || true
	local i
	for i in $(seq 150); do
		kill -0 "$router_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$router_pid" 2>/dev/null || true
	wait "$router_pid" 2>/dev/null || true
	for i in $(seq 100); do
		port_open || return 0
		sleep 0.1
	done
	log "port $port still open after stopping the router"
}

trap 'stop_router 2>/dev/null; exit 130' INT TERM

for sc in "${scenarios[@]}"; do
	IFS='|' read -r label target args <<<"$sc"
	if [ -n "$only" ] && ! grep -Eq "$only" <<<"$label"; then
		continue
	fi
	for run in $(seq "$runs"); do
		for router in $routers; do
			wait_quiet
			if ! start_router "$router"; then
				stop_router
				continue
			fi
			# shellcheck disable=SC2086 # args is a word list on purpose
			if line=$("${gen_cpu[@]}" "$bin/switchboard-bench" $args -url "$url" -d "$dur" \
				-pid "$router_pid" -json -label "$label" -router "$router" -target "$target" 2>>"$out/bench.log"); then
				echo "$line" >>"$results"
				log "$label $router run $run: $(jq -r '"\(.throughput|floor) \(.unit), p50 \(.p50_us)µs, lost \(.lost), router CPU \(.router_cpu|floor)%, others \(.other_cpu|floor)%"' <<<"$line" 2>/dev/null || echo done)"
			else
				log "$label $router run $run failed; see $out/bench.log"
			fi
			stop_router
		done
	done
done
trap - INT TERM

echo "load after: $(cat /proc/loadavg)" >>"$out/machine.txt"
"$bin/switchboard-bench" summarize "$results" | tee "$out/summary.txt"
"$bin/switchboard-bench" summarize -md "$results" >"$out/summary.md"
log "results in $out"
