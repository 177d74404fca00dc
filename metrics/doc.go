// Package metrics counts what the router does for Prometheus at a cost the
// hot path does not notice.
//
// Counting is plain atomic adds on structs resolved once: a session gets
// the *Group of its (realm, transport, serializer) when it joins, and from
// then on counts its messages, bytes, drops and close into that group's
// fields with no lookup, no label and no lock. A realm holds its *Realm for
// publications and calls. The Prometheus side is a custom Collector that
// reads the atomics at scrape time and sums groups into the exported
// series, so a scrape costs in proportion to the number of groups (bounded
// by config: realms × transports × serializers), never to traffic.
//
// Label values come only from config (realm names, transport types,
// serializers, auth methods, the HTTP bridge's listener address and its
// subscribers' configured topics) or from fixed sets (WAMP message types,
// close reasons, call outcomes): never from client input such as topics,
// procedures, authids or session ids.
//
// # Concurrency
//
// Every counting method is safe for concurrent use and never blocks; the
// registry's mutex is taken only to resolve a group or realm (at join, at
// realm creation) and to scrape.
//
// # The cluster
//
// Cluster metrics (link state, NATS round trip, events and calls forwarded
// to other nodes, snapshots, node deaths) are atomics of the cluster node
// (cluster.Stats), read at scrape time through the function SetCluster
// sets; a node alone exports none of them. Their only labels are fixed
// sets (direction).
package metrics
