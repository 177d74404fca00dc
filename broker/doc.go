// Package broker routes publish/subscribe within one realm: it keeps the
// subscription index and turns a PUBLISH into EVENTs.
//
// The broker knows nothing of sessions, realms or transports: it delivers to
// the Peer interface it declares, so a remote node can be a subscriber just
// like a local session.
//
// Advanced profile: pattern-based subscriptions (prefix, wildcard),
// subscriber black/white-listing, publisher exclusion and identification
// (Config.Disclose), event retention, and the data of the subscription meta
// API and event history (Hooks, List, Lookup, Match, Get, ListSubscribers,
// CountSubscribers, GetEvents) for the realm to serve.
//
// Index: exact topics are a map, so publishing to one costs a map lookup
// (and nothing more while no pattern subscription exists); prefixes are a
// radix tree over the URI's bytes and wildcards a trie by URI component,
// each walked once along the topic; pattern results are cached by topic and
// invalidated by a generation counter (see index).
//
// Concurrency: all methods are safe for concurrent use. Publish holds the
// index read lock while it encodes and queues events, so publishers run in
// parallel; on a cluster node it first hands the publication to
// Remote.Forward, with the lock released, when another node has interest
// or the event is retained (see publish for what may change meanwhile).
// Subscribe and Unsubscribe take the write lock and queue their reply, and
// any retained events, under it, so a subscriber always sees SUBSCRIBED,
// then its retained events, before the first live EVENT of its
// subscription. Peer methods are called with the broker's lock held: they
// must not call back into the broker (session queues only take their own
// leaf lock). Hooks are called without the broker's lock, in the order of
// the changes, and may call back into the broker (see Hooks).
//
// Lock order: docs/locks.md. The three mutexes inside the broker's
// (retained events, history, the hook queue) exist because Publish,
// holding mu only for reading, writes retained events and history, and
// Subscribe queues hook calls. Remote.Forward is called with none of these
// locks held.
package broker
