// Package cluster links the nodes of a Switchboard cluster over NATS
// (docs/cluster.md): a Node holds the NATS connection (and, in embedded
// mode, the NATS server), knows which other nodes are alive, and publishes
// this node's state; a Realm per realm implements realm.Link, mirroring
// the sessions of the other nodes as ghosts in the local broker and
// dealer, forwarding publications to the nodes with interest, relaying
// invocations to local callees, and asking the leader to admit
// registrations.
//
// Concurrency: each NATS subscription (control, data, claims) is handled
// on a goroutine of its own, one message after another, which keeps each
// sender's order; state changes are published by one announcer goroutine,
// heartbeats by another, and a third measures the NATS round trip. The
// counters behind Stats and Status are atomics (stats.go). The realm's notifications (Joined,
// Subscribed, ...) never block: they queue. Lock order: Realm.mirrorMu ->
// the realm's, broker's and dealer's locks -> Realm.localMu,
// Realm.relayMu, Node.mu and the announcer's mutex (leaves).
package cluster
