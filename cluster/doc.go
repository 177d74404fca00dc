// Package cluster links the nodes of a Switchboard cluster over NATS
// (docs/cluster.md). A Node holds the NATS connection (and, in embedded
// mode, the NATS server with JetStream), knows which other nodes are
// alive, and keeps the cluster's shared state in JetStream: the
// registration directory, retained events, testaments and event history.
// A Realm per realm implements realm.Link: it announces this node's
// interest (which subscriptions have local subscribers) and keeps the
// others' as one stand-in per node, forwards publications to the nodes
// with interest, keeps the dealer's stand-ins for the directory's remote
// callees, relays invocations to local callees, and asks the other nodes
// what the meta API needs of their sessions. No node mirrors another's
// sessions.
//
// Concurrency: each NATS subscription (control, data, ping, rpc) is
// handled on a goroutine of its own, one message after another, which
// keeps each sender's order. Interest changes are published by one
// announcer goroutine, heartbeats by another; pings, the round trip, the
// buckets' watchers, the directory's reconciler and the writers of
// retained events, testaments and history each run on their own. The
// counters behind Stats and Status are atomics (stats.go). The realm's
// notifications (Joined, Subscribed, ...) never block: they queue. Lock
// order: docs/locks.md.
package cluster
