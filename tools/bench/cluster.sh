#!/usr/bin/env bash
# cluster.sh measures a Switchboard cluster on one machine, every node a
# process of its own with its embedded NATS server routed to the others on
# loopback, against a single node (no cluster: section) under the same load.
# See "Cluster" in docs/performance.md for what each part measures.
#
#   tools/bench/cluster.sh [-only REGEX] [-n RUNS] [-sessions N] [-d DURATION]
#                    [-kills K] [-bin DIR] [-out DIR]
#
#   -only      parts to run (grep -E on: mem tput register kill);
#              default all four
#   -n         runs per figure (default 3)
#   -sessions  sessions per node for mem (default 15000: 4 nodes x 15000)
#   -d         measured window of the throughput runs (default 5s)
#   -kills     SIGKILLs for kill (default 5)
#   -bin       use switchboard and switchboard-bench from DIR instead of
#              building them
#   -out       directory for binaries, configs, logs and results
#              (default a new directory under /tmp)
#
# Parts:
#   mem       4 nodes (replicas 3), a conns generator per node opening
#             N sessions concurrently, each session on a topic of its own and
#             on bench.broadcast; then every node's /metrics (node deaths)
#             and /readyz, and one publication on bench.broadcast that must
#             reach all 4N sessions; then one node alone with one generator
#             and N sessions. KiB per session per node.
#   tput      3 nodes: subscribers on node 2, publishers on node 1 (-pub-url),
#             fanout -subscribers 1,
#             pubsub -pairs 10 and fanout -subscribers 100, W = 64; then the
#             same on one node alone.
#   register  3 nodes: one session registers and unregisters 1000
#             procedures at node 1, one at a time; then on one node alone.
#   kill      3 nodes: SIGKILL node 3, poll node 1's /metrics every 20 ms
#             until switchboard_cluster_nodes_dead_total grows; restart node 3
#             and wait for all three to be ready; K times.
#
# Results: OUT/results.jsonl (the generators' JSON reports, tagged with
# label and router), OUT/mem.txt, OUT/kill.txt, OUT/metrics-*.txt and the
# nodes' logs. Nothing runs unbounded: every generator has a count or a
# window, every wait a timeout, and every process started is stopped by pid
# on exit.
set -euo pipefail

only='mem|tput|register|kill'
runs=3
sessions=15000
dur=5s
kills=5
bin=
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-only) only=$2; shift 2 ;;
	-n) runs=$2; shift 2 ;;
	-sessions) sessions=$2; shift 2 ;;
	-d) dur=$2; shift 2 ;;
	-kills) kills=$2; shift 2 ;;
	-bin) bin=$2; shift 2 ;;
	-out) out=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "cluster.sh: unknown argument $1 (try -h)" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/bench/nodeconfig.sh
. "$root/tools/bench/nodeconfig.sh"
bench_setup cluster

ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((sessions + 100)) ]; then
	log "open file limit $(ulimit -n) is below $sessions sessions per process; mem will fail"
fi

# Node i (1-based) listens for WebSocket clients on 19000+10i (/ws, with
# /metrics and /readyz beside it), NATS clients on 14220+i and routes on
# 16220+i. Node 0 is the single node, on 19000.
ws_port() { echo $((19000 + 10 * $1)); }
url() { echo "ws://127.0.0.1:$(ws_port "$1")/ws"; }
http() { echo "http://127.0.0.1:$(ws_port "$1")"; }

declare -A pids=()

# config NODE NODES writes OUT/nNODE.yaml (tools/bench/nodeconfig.sh).
config() { node_config "$1" "$2" bench 14220 16220; }

start_node() {
	"$sb" -c "$out/n$1.yaml" >>"$out/n$1.log" 2>&1 &
	pids[$1]=$!
}

# wait_ready NODE...: until every node's /readyz answers 200 (60 s at most).
wait_ready() {
	local i t0=$SECONDS
	for i in "$@"; do
		until [ "$(curl -s -o /dev/null -w '%{http_code}' "$(http "$i")/readyz")" = 200 ]; do
			if [ $((SECONDS - t0)) -gt 60 ]; then
				log "node $i not ready after 60s: $(curl -s "$(http "$i")/readyz")"
				return 1
			fi
			sleep 0.1
		done
	done
}

# start NODES: a cluster of NODES nodes, or the single node for 0.
start() {
	local n=$1 i
	if [ "$n" = 0 ]; then
		config 0 0
		start_node 0
		wait_ready 0
		return
	fi
	for i in $(seq 1 "$n"); do config "$i" "$n"; done
	for i in $(seq 1 "$n"); do start_node "$i"; done
	wait_ready $(seq 1 "$n")
}

stop_node() {
	local pid=${pids[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "pids[$1]"
}

stop_all() {
	local i
	for i in "${!pids[@]}"; do stop_node "$i"; done
}
trap stop_all EXIT

# metric NODE NAME: the value of an unlabelled series of NODE's /metrics.
metric() {
	curl -s "$(http "$1")/metrics" | awk -v m="$2" '$1 == m { print $2; f = 1 } END { if (!f) print "absent" }'
}

# tag LABEL ROUTER: copies the generator's JSON lines into results.jsonl.
tag() {
	jq -c --arg l "$1" --arg r "$2" '.label = $l | .router = $r' >>"$results"
}

kib() { jq -r 'if .mem_per_session then (.mem_per_session / 1024 * 10 | round / 10) else "-" end'; }

# mem_run RUN LABEL ROUTER NODE...: one conns generator per node, all at
# once; once every generator holds, each node's deaths, sessions and
# /readyz, then one publication on bench.broadcast at the first node.
mem_run() {
	local run=$1 label=$2 router=$3 i p
	shift 3
	local f=$out/metrics-$router-$run.txt gp=()
	for i in "$@"; do
		echo "node $i before: dead $(metric "$i" switchboard_cluster_nodes_dead_total) disconnected $(metric "$i" switchboard_cluster_nodes_disconnected_total)" >>"$f"
	done
	# Every node's /readyz every 200 ms from now until 20 s after the
	# generators closed their sessions (10 min at most): a node unready
	# under load would send clients away.
	(
		for _ in $(seq 3000); do
			[ -e "$f.stop" ] && break
			for i in "$@"; do
				c=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$(http "$i")/readyz")
				[ "$c" = 200 ] || echo "$(date -u +%H:%M:%S.%N | cut -c1-12) node $i readyz $c: $(curl -s -m 1 "$(http "$i")/readyz")"
			done
			sleep 0.2
		done
	) >"$f.unready" 2>&1 &
	local poller=$!
	for i in "$@"; do
		"$gen" conns -sessions "$sessions" -parallel 32 -topic bench.broadcast -settle 10s -hold 60s -json \
			-url "$(url "$i")" -pid "${pids[$i]}" >"$out/mem-$router-$run-n$i.json" 2>"$out/mem-$router-$run-n$i.err" &
		gp+=($!)
	done
	# The generators say when their sessions are open and their node's
	# memory read (Settle after their last session); then the broadcast.
	local t0=$SECONDS ready=0 gone=0
	while [ $((ready + gone)) -lt $# ] && [ $((SECONDS - t0)) -lt 300 ]; do
		sleep 0.5
		ready=$(cat "$out"/mem-"$router"-"$run"-n*.err | grep -c 'holding' || true)
		gone=0
		for p in "${gp[@]}"; do kill -0 "$p" 2>/dev/null || gone=$((gone + 1)); done
	done
	for i in "$@"; do
		echo "node $i holding: sessions $(curl -s "$(http "$i")/metrics" | awk '$1 ~ /^switchboard_sessions_open({|$)/ { s += $2 } END { print s }') dead $(metric "$i" switchboard_cluster_nodes_dead_total) disconnected $(metric "$i" switchboard_cluster_nodes_disconnected_total) readyz $(curl -s -o /dev/null -w '%{http_code}' "$(http "$i")/readyz")" >>"$f"
	done
	"$gen" publish -url "$(url "$1")" -topic bench.broadcast >>"$f" 2>&1 || true
	for p in "${gp[@]}"; do wait "$p" || true; done
	echo "$(date -u +%H:%M:%S.%N | cut -c1-12) generators done: $((${#gp[@]} * sessions)) sessions closed" >>"$f"
	sleep 20
	touch "$f.stop"
	wait "$poller" || true
	echo "/readyz other than 200 until 20 s after: $(wc -l <"$f.unready") polls" >>"$f"
	for i in "$@"; do
		awk -v n="$i" '$3 == n { if (!first) first = $1; last = $1; r = $0; k++ } END { if (k) print "  node " n ": " k " polls unready, " first " to " last "; last: " r }' "$f.unready" >>"$f"
	done
	for i in "$@"; do
		echo "node $i after: dead $(metric "$i" switchboard_cluster_nodes_dead_total) disconnected $(metric "$i" switchboard_cluster_nodes_disconnected_total) readyz $(curl -s -o /dev/null -w '%{http_code}' "$(http "$i")/readyz")" >>"$f"
		tag "$label" "$router-n$i" <"$out/mem-$router-$run-n$i.json"
		echo "run $run $router node $i: $(kib <"$out/mem-$router-$run-n$i.json") KiB/session, broadcast to $(jq -r '"\(.broadcast_received) sessions, last \(.broadcast_last_ms) ms after publishing"' <"$out/mem-$router-$run-n$i.json"); errors $(jq -r .errors <"$out/mem-$router-$run-n$i.json")" | tee -a "$out/mem.txt" >&2
	done
	cat "$f" >&2
}

part_mem() {
	local run
	for run in $(seq 1 "$runs"); do
		wait_idle
		log "mem run $run: 4 nodes x $sessions sessions"
		start 4
		mem_run "$run" "conns-4x$sessions" cluster 1 2 3 4
		stop_all
		wait_idle
		log "mem run $run: single node, $sessions sessions"
		start 0
		mem_run "$run" "conns-$sessions" single 0
		stop_all
	done
}

part_tput() {
	local setup run sc
	for setup in cluster single; do
		if [ $setup = cluster ]; then
			start 3
			local sub=2 pub=1
		else
			start 0
			local sub=0 pub=0
		fi
		for sc in "fanout-1|fanout -subscribers 1" "pubsub-10|pubsub -pairs 10" "fanout-100|fanout -subscribers 100"; do
			for run in $(seq 1 "$runs"); do
				wait_idle
				log "tput $setup ${sc%%|*} run $run"
				# shellcheck disable=SC2086
				"$gen" ${sc#*|} -window 64 -d "$dur" -url "$(url $sub)" -pub-url "$(url $pub)" -pid "${pids[$sub]}" -json |
					tag "${sc%%|*}" "$setup"
				tail -1 "$results" | jq -r '"  \(.label) \(.router): \(.throughput | round) events/s, lost \(.lost), errors \(.errors)"' >&2
			done
		done
		stop_all
	done
}

part_register() {
	local setup run
	for setup in cluster single; do
		if [ $setup = cluster ]; then start 3; local at=1; else start 0; local at=0; fi
		for run in $(seq 1 "$runs"); do
			wait_idle
			log "register $setup run $run"
			"$gen" register -count 1000 -d 120s -url "$(url $at)" -pid "${pids[$at]}" -json | tag register-1000 "$setup"
			tail -1 "$results" | jq -r '"  \(.router): p50 \(.p50_us) µs p99 \(.p99_us) µs, errors \(.errors); \(.notes)"' >&2
		done
		stop_all
	done
}

part_kill() {
	local k t0 t1 dead0 n
	start 3
	: >"$out/kill.txt"
	for k in $(seq 1 "$kills"); do
		sleep 3
		dead0=$(metric 1 switchboard_cluster_nodes_dead_total)
		t0=$(date +%s%N)
		kill -KILL "${pids[3]}"
		wait "${pids[3]}" 2>/dev/null || true
		unset "pids[3]"
		t1=
		for _ in $(seq 1500); do # 30 s at most
			n=$(metric 1 switchboard_cluster_nodes_dead_total)
			if [ "$n" != "$dead0" ]; then
				t1=$(date +%s%N)
				break
			fi
			sleep 0.02
		done
		if [ -n "$t1" ]; then
			echo "kill $k: dead after $(((t1 - t0) / 1000000)) ms (dead_total $dead0 -> $n, disconnected_total $(metric 1 switchboard_cluster_nodes_disconnected_total))" | tee -a "$out/kill.txt" >&2
		else
			echo "kill $k: not detected within 30 s" | tee -a "$out/kill.txt" >&2
		fi
		start_node 3
		wait_ready 1 2 3
	done
	stop_all
}

log "results in $out"
for part in mem tput register kill; do
	if echo "$part" | grep -Eq "$only"; then
		"part_$part"
	fi
done
log "done: $out"
