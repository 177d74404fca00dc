# shellcheck shell=bash disable=SC2034,SC2154 # variables shared with the sourcing script
# nodeconfig.sh is sourced by tools/bench/cluster.sh and tools/bench/scale.sh: their
# output directory and binaries, and the config file of a node, so that
# both scripts run nodes alike.

log() { echo "$bench_name.sh $(date -u +%H:%M:%S): $*" >&2; }

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
