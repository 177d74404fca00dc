# shellcheck shell=bash
# nodeconfig.sh is sourced by bench/cluster.sh and bench/scale.sh: the
# config file of a node, so that both scripts run nodes alike.

# node_config I N NAME NATS_BASE ROUTE_BASE writes $out/nI.yaml: node I of
# a cluster NAME of N nodes (replicas min(3, N); client port NATS_BASE+I,
# route port ROUTE_BASE+I, routes to the others), or for I = 0 the single
# node without cluster:. The WebSocket port is the caller's ws_port I.
node_config() {
	# shellcheck disable=SC2154 # out is the caller's output directory
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
