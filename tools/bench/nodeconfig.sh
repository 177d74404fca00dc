# shellcheck shell=bash disable=SC2034,SC2154 # variables shared with the sourcing script
# nodeconfig.sh is sourced by tools/bench/cluster.sh and tools/bench/scale.sh: their
# output directory and binaries, the wait for an idle machine, and the
# config file of a node, so that both scripts run nodes alike.

log() { echo "$bench_name.sh $(date -u +%H:%M:%S): $*" >&2; }

# idle_pct: the machine's idle CPU percentage over one second.
idle_pct() {
	local a b
	read -r -a a < <(head -1 /proc/stat)
	sleep 1
	read -r -a b < <(head -1 /proc/stat)
	local total=0 k
	for k in 1 2 3 4 5 6 7 8; do total=$((total + b[k] - a[k])); done
	echo $((total > 0 ? 100 * (b[4] - a[4] + b[5] - a[5]) / total : 100))
}

# wait_idle: up to 30 s for the machine to be 80% idle (others' tests).
wait_idle() {
	local idle
	for _ in $(seq 30); do
		idle=$(idle_pct)
		[ "$idle" -ge 80 ] && return
	done
	log "machine still busy ($idle% idle); running anyway"
}

# bench_setup NAME sets out (a new /tmp/switchboard-NAME.* unless given),
# results, the name log prints, and bin, sb and gen (built into $out/bin unless bin is
# given). root, out and bin are the caller's.
bench_setup() {
	bench_name=$1
	local name=$1
	if [ -z "$out" ]; then
		out=$(mktemp -d "/tmp/switchboard-$name.XXXXXX")
	fi
	mkdir -p "$out"
	results=$out/results.jsonl
	touch "$results"
	if [ -z "$bin" ]; then
		bin=$out/bin
		mkdir -p "$bin"
		log "building into $bin"
		local go
		go=$(command -v go || echo /usr/local/go/bin/go)
		(cd "$root" && "$go" build -o "$bin/switchboard" ./cmd/switchboard &&
			"$go" build -o "$bin/switchboard-bench" ./cmd/switchboard-bench)
	fi
	sb=$bin/switchboard
	gen=$bin/switchboard-bench
}

# node_config I N NAME NATS_BASE ROUTE_BASE writes $out/nI.yaml: node I of
# a cluster NAME of N nodes (replicas min(3, N); client port NATS_BASE+I,
# route port ROUTE_BASE+I, routes to the others), or for I = 0 the single
# node without cluster:. The WebSocket port is the caller's ws_port I.
node_config() {
	local i=$1 n=$2 name=$3 nats=$4 route=$5 f=$out/n$1.yaml j routes=
	cat >"$f" <<EOF2
log: {level: warn}
transports:
  - type: websocket
    listen: 127.0.0.1:$(ws_port "$i")
    path: /ws
realms:
  - name: realm1
EOF2
	[ "$i" = 0 ] && return
	for j in $(seq 1 "$n"); do
		[ "$j" = "$i" ] || routes="$routes${routes:+, }nats://127.0.0.1:$((route + j))"
	done
	cat >>"$f" <<EOF2
cluster:
  name: $name
  node: n$i
  replicas: $((n < 3 ? n : 3))
  embedded:
    listen: 127.0.0.1:$((nats + i))
    cluster_listen: 127.0.0.1:$((route + i))
    routes: [$routes]
EOF2
}
