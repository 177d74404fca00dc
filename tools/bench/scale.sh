#!/usr/bin/env bash
# scale.sh measures Switchboard at scale on one machine: N nodes, each a
# process with its embedded NATS server routed to the others on loopback,
# and one load process (a conns generator) per node holding M sessions
# subscribed to one topic; then E broadcasts on that topic at R per second
# from node 1. Or one node alone (-single), beside the forwarding stub
# (-stub) under the same generator. See "Scale" in docs/performance.md.
#
#   tools/bench/scale.sh [-nodes N] [-sessions M] [-events E] [-rate R]
#                  [-single M] [-stub] [-pin] [-bin DIR] [-out DIR]
#
#   -nodes     cluster nodes (default 4)
#   -sessions  sessions per node (default 15000: 4 x 15000 = 60,000)
#   -events    broadcasts (default 10)
#   -rate      broadcasts per second (default 1)
#   -single    run one node alone (no cluster: section) with M sessions
#              instead of the cluster
#   -stub      run the single node, then the forwarding stub
#              (switchboard-bench stub) with the same generator and load;
#              the single node's sessions are -single's, else -sessions
#   -pin       single and stub: router on CPU 0, generator on CPU 1
#   -bin       use switchboard and switchboard-bench from DIR instead of
#              building them
#   -out       directory for binaries, configs, logs and results
#              (default a new directory under /tmp)
#
# Each generator opens its sessions (32 dialers), each subscribed to a topic
# of its own and to bench.broadcast, waits 10 s and reads its node's RSS,
# then holds until all E events have reached each of its sessions. Once
# every generator holds, `switchboard-bench publish -count E -rate R` at
# node 1 publishes E events, each stamped with the wall clock, which the
# processes on one machine share; each generator reports each event's
# first and last arrival after its stamp. Per event, the time to the last
# session everywhere is the largest of the generators' last arrivals.
#
# Reported (OUT/scale.txt, Markdown): per node RSS after setup, KiB per
# session (RSS growth over sessions), setup rate (sessions/s while every
# generator dials at once), the router's CPU µs and system calls per event
# delivered while holding (the idle time between events included); per
# event the sessions reached and the time to the last one, p50 and max
# over the events, and the last event's against the first's (one a second
# must leave no backlog). Machine: load average and the other processes'
# CPU during the broadcasts (others, % of one CPU; includes loopback
# softirq work).
#
# Source addresses: one generator per node, each connecting from 127.0.0.1
# to its own node's port. Linux picks an ephemeral port per 4-tuple, so
# each (source address, destination address and port) has the whole
# ip_local_port_range (32768-60999 here: 28,232 ports); at most ~19,900
# sessions per generator (the 20,000-file limit) fit without spreading
# over 127.0.0.x. Closed sessions leave TIME_WAIT on the generator's side
# for 60 s; tcp_tw_reuse=2 (loopback) lets the next run reuse them. The
# single node and the stub listen on different ports all the same.
#
# Ports: node i listens for WebSocket on 29000+10i (/ws, /metrics,
# /readyz), NATS clients on 24220+i, routes on 26220+i; the single node on
# 29000, the stub on 29001; all below the ephemeral range. Results:
# OUT/results.jsonl (the generators' JSON reports, tagged), OUT/scale.txt,
# OUT/publish-*.txt and the nodes' logs. Nothing runs unbounded: every
# wait has a timeout and every process started is stopped by pid on exit.
set -euo pipefail

nodes=4
sessions=15000
events=10
rate=1
single=
stub=0
pin=0
bin=
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-nodes) nodes=$2; shift 2 ;;
	-sessions) sessions=$2; shift 2 ;;
	-events) events=$2; shift 2 ;;
	-rate) rate=$2; shift 2 ;;
	-single) single=$2; shift 2 ;;
	-stub) stub=1; shift ;;
	-pin) pin=1; shift ;;
	-bin) bin=$2; shift 2 ;;
	-out) out=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,60p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "scale.sh: unknown argument $1 (try -h)" >&2; exit 2 ;;
	esac
done
if [ "$stub" = 1 ] && [ -z "$single" ]; then
	single=$sessions
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/bench/nodeconfig.sh
. "$root/tools/bench/nodeconfig.sh"
bench_setup scale

ulimit -n "$(ulimit -Hn)"
most=$sessions
[ -n "$single" ] && most=$single
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((most + 50)) ]; then
	log "open file limit $(ulimit -n) is below $most sessions per process; the run will fail"
fi
range=$(awk '{ print $2 - $1 + 1 }' /proc/sys/net/ipv4/ip_local_port_range)
if [ "$most" -gt "$range" ]; then
	log "$most sessions per generator exceed the $range ephemeral ports per destination"
	exit 2
fi

ws_port() { echo $((29000 + 10 * $1)); }
url() { echo "ws://127.0.0.1:$(ws_port "$1")/ws"; }
http() { echo "http://127.0.0.1:$(ws_port "$1")"; }
stub_port=29001

declare -A pids=()
gpids=()

# config NODE NODES writes OUT/nNODE.yaml (tools/bench/nodeconfig.sh).
config() { node_config "$1" "$2" scale 24220 26220; }

router_cpu=()
gen_cpu=()

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() {
	if port_open "$(ws_port "$1")"; then
		log "port $(ws_port "$1") is taken; is another scale.sh running?"
		return 1
	fi
	"${router_cpu[@]}" "$sb" -c "$out/n$1.yaml" >>"$out/n$1.log" 2>&1 &
	pids[$1]=$!
}

# wait_ready NODE...: until every node's /readyz answers 200 (60 s at most).
wait_ready() {
	local i t0=$SECONDS
	for i in "$@"; do
		until [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$(http "$i")/readyz")" = 200 ]; do
			if [ $((SECONDS - t0)) -gt 60 ] || ! kill -0 "${pids[$i]}" 2>/dev/null; then
				log "node $i not ready after $((SECONDS - t0))s; see $out/n$i.log"
				return 1
			fi
			sleep 0.1
		done
	done
}

# start_stub: the forwarding stub on stub_port, as node "stub".
start_stub() {
	if port_open "$stub_port"; then
		log "port $stub_port is taken"
		return 1
	fi
	"${router_cpu[@]}" "$gen" stub -ws "127.0.0.1:$stub_port" >>"$out/stub.log" 2>&1 &
	pids[stub]=$!
	for _ in $(seq 200); do
		port_open "$stub_port" && return 0
		sleep 0.05
	done
	log "stub did not open port $stub_port"
	return 1
}

stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_all() {
	local k p
	for p in "${gpids[@]}"; do stop_pid "$p"; done
	gpids=()
	for k in "${!pids[@]}"; do
		stop_pid "${pids[$k]}"
		unset "pids[$k]"
	done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# busy_ticks: the machine's non-idle clock ticks so far, and the softirq
# ones among them.
busy_ticks() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9, $8 }' /proc/stat; }
# proc_ticks PID...: their utime + stime (and their waited-for children's).
proc_ticks() {
	local p s=0 f
	for p in "$@"; do
		f=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		s=$((s + f))
	done
	echo "$s"
}

# sample PID...: sets sampled to "busy-ticks softirq-ticks process-ticks
# ns"
# when every PID is alive before and after reading them; else fails (an
# ended process's ticks are gone from /proc).
sample() {
	local p b r t
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
	b=$(busy_ticks)
	r=$(proc_ticks "$@")
	t=$(date +%s%N)
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
	sampled="$b $r $t"
}
sampled=

# others_pct SAMPLE0 SAMPLE1: the CPU, in % of one CPU, that the machine
# used between the samples besides the sampled processes, and the softirq
# part of it (loopback TCP, charged to no process).
others_pct() {
	local b0 i0 r0 t0 b1 i1 r1 t1
	read -r b0 i0 r0 t0 <<<"$1"
	read -r b1 i1 r1 t1 <<<"$2"
	awk -v b=$((b1 - b0 - r1 + r0)) -v i=$((i1 - i0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) \
		'BEGIN { s = ns > 0 ? 100 / hz / (ns / 1e9) : 0; printf "%.0f%% (softirq %.0f%%)", b < 0 ? 0 : b * s, i * s }'
}

# hold_run LABEL ROUTER PUB NODE...: one conns generator per node, all at
# once; once every generator holds, E events at R/s published at node PUB;
# then every generator's report, tagged, into results.jsonl.
hold_run() {
	local label=$1 router=$2 pub=$3 i p
	shift 3
	# The hold: twice the publishing time, plus a minute.
	local hold tag=$label
	hold=$(awk -v e="$events" -v r="$rate" 'BEGIN { printf "%d", 2 * e / r + 60 }')
	gpids=()
	local rpids=()
	for i in "$@"; do rpids+=("${pids[$i]}"); done
	sampled=
	sample "${rpids[@]}" || true
	local setup0=$sampled
	for i in "$@"; do
		local u name=$router-n$i
		case $i in
		stub) u=ws://127.0.0.1:$stub_port/ws name=stub ;;
		0) u=$(url 0) name=single ;;
		*) u=$(url "$i") ;;
		esac
		"${gen_cpu[@]}" "$gen" conns -sessions "$sessions_run" -parallel 32 -topic bench.broadcast -settle 10s \
			-hold "${hold}s" -events "$events" -json -label "$label" -router "$name" \
			-url "$u" -pid "${pids[$i]}" >"$out/$tag-n$i.json" 2>"$out/$tag-n$i.err" &
		gpids+=($!)
	done
	# Every generator says when its sessions are open and its node's
	# memory read; setup takes at most 10 min.
	local t0=$SECONDS ready=0 gone=0
	while [ $((ready + gone)) -lt $# ] && [ $((SECONDS - t0)) -lt 600 ]; do
		sleep 0.5
		ready=$(cat "$out/$tag"-n*.err | grep -c 'holding' || true)
		gone=0
		for p in "${gpids[@]}"; do kill -0 "$p" 2>/dev/null || gone=$((gone + 1)); done
	done
	local others_setup=-
	if [ -n "$setup0" ] && sample "${rpids[@]}" "${gpids[@]}"; then
		others_setup=$(others_pct "$setup0" "$sampled")
	fi
	log "$label: $ready of $# generators hold ($((SECONDS - t0)) s); $events events at $rate/s"
	local pu
	if [ "$pub" = stub ]; then pu=ws://127.0.0.1:$stub_port/ws; else pu=$(url "$pub"); fi
	sampled=
	sample "${rpids[@]}" "${gpids[@]}" || true
	local s0=$sampled
	timeout $((hold + 30)) "$gen" publish -url "$pu" -topic bench.broadcast -count "$events" -rate "$rate" \
		>"$out/publish-$tag.txt" 2>&1 || log "$label: publish failed: $(tail -1 "$out/publish-$tag.txt")"
	# The generators end once every event reached every session (or at
	# the end of their hold); the window of others ends with the last
	# sample before the first of them ends.
	t0=$SECONDS
	local left=${#gpids[@]} s1=$s0
	while [ "$left" -gt 0 ] && [ $((SECONDS - t0)) -lt $((hold + 60)) ]; do
		if [ "$left" = ${#gpids[@]} ] && sample "${rpids[@]}" "${gpids[@]}"; then
			s1=$sampled
		fi
		left=0
		for p in "${gpids[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
		[ "$left" -gt 0 ] && sleep 0.1
	done
	for p in "${gpids[@]}"; do stop_pid "$p"; done
	gpids=()
	local others=-
	[ -n "$s0" ] && others=$(others_pct "$s0" "$s1")
	for i in "$@"; do
		if [ -s "$out/$tag-n$i.json" ]; then
			jq -c --arg o "$others" --arg s "$others_setup" '.others_during_broadcast = $o | .others_during_setup = $s' <"$out/$tag-n$i.json" >>"$results"
		else
			log "$label node $i: no report; see $out/$tag-n$i.err"
		fi
	done
	log "$label: done; others during setup $others_setup, during the broadcasts $others of one CPU; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# table LABEL...: the Markdown table of the runs LABEL (scale.txt).
table() {
	local l
	for l in "$@"; do
		jq -s -r --arg l "$l" '
		def r1: . * 10 | round / 10;
		def r0: round;
		[.[] | select(.label == $l)] as $n
		| if ($n | length) == 0 then "\($l): no reports" else
		($n[0].broadcast_events | length) as $e
		| [range(0; $e) as $k | {
			received: ([$n[] | .broadcast_events[$k].received] | add),
			last: ([$n[] | .broadcast_events[$k].last_ms] | max),
			first: ([$n[] | .broadcast_events[$k].first_ms] | min)}] as $ev
		| ($ev | map(.last) | sort) as $s
		| ([$n[] | .sent] | add) as $total
		| "### \($l)\n",
		"| node | sessions | RSS MiB | KiB/session | setup sessions/s | router µs/event | syscalls/event |",
		"|---|---:|---:|---:|---:|---:|---:|",
		($n[] | "| \(.router) | \(.sent) | \(.router_rss_kib / 1024 | r1) | \(if .mem_per_session then (.mem_per_session / 1024 | r1) else "-" end) | \(.throughput | r0) | \(.broadcast_router_cpu_us_per_event // 0 | . * 100 | round / 100) | \(.broadcast_router_syscalls_per_event // 0 | . * 100 | round / 100) |"),
		"",
		"| event | sessions reached | first ms | last ms (all nodes) |",
		"|---:|---:|---:|---:|",
		($ev | to_entries[] | "| \(.key + 1) | \(.value.received) of \($total) | \(.value.first | r1) | \(.value.last | r1) |"),
		"",
		"time to the last session: p50 \($s[(($s | length) - 1) / 2 | floor] | r1) ms, max \($s[-1] | r1) ms over \($e) events; last of event 1 \($ev[0].last | r1) ms, largest of the rest \(if $e > 1 then ($ev[1:] | map(.last) | max | r1) else "-" end) ms",
		"sessions reached \([$ev[] | .received] | add) of \($total * $e); setup \($total) sessions in \([$n[] | .seconds] | max | r1) s (\($total / ([$n[] | .seconds] | max) | r0)/s); others (% of one CPU) during setup \($n[0].others_during_setup), during the broadcasts \($n[0].others_during_broadcast); generators lost \([$n[] | .lost] | add), errors \([$n[] | .errors] | add)",
		""
		end' "$results"
	done
}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $(nproc), memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), open files: $(ulimit -n), ports: $(cat /proc/sys/net/ipv4/ip_local_port_range)"
	echo "switchboard: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$root" && git diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "load before: $(cat /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

log "results in $out"
labels=()
if [ -z "$single" ]; then
	sessions_run=$sessions
	wait_idle
	log "cluster: $nodes nodes x $sessions sessions"
	for i in $(seq 1 "$nodes"); do config "$i" "$nodes"; done
	for i in $(seq 1 "$nodes"); do start_node "$i"; done
	wait_ready $(seq 1 "$nodes")
	label=cluster-${nodes}x$sessions
	hold_run "$label" cluster 1 $(seq 1 "$nodes")
	labels+=("$label")
	stop_all
else
	sessions_run=$single
	if [ "$pin" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
		router_cpu=(taskset -c 0)
		gen_cpu=(taskset -c 1)
	fi
	wait_idle
	log "single node: $single sessions"
	config 0 0
	start_node 0
	wait_ready 0
	label=single-$single
	hold_run "$label" single 0 0
	labels+=("$label")
	stop_all
	if [ "$stub" = 1 ]; then
		wait_idle
		log "stub: $single sessions"
		start_stub
		label=stub-$single
		hold_run "$label" stub stub stub
		labels+=("$label")
		stop_all
	fi
fi
echo "load after: $(cat /proc/loadavg)" >>"$out/machine.txt"
{
	cat "$out/machine.txt"
	echo
	table "${labels[@]}"
} | tee "$out/scale.txt"
log "done: $out"
