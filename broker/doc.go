// Package broker routes publish/subscribe within one realm: it keeps the
// subscription index and turns a PUBLISH into EVENTs.
//
// The broker knows nothing of sessions, realms or transports: it delivers to
// the Peer interface it declares, so a remote node can be a subscriber just
// like a local session.
//
// Concurrency: all methods are safe for concurrent use. Publish holds the
// index read lock while it encodes and queues events, so publishers run in
// parallel; Subscribe and Unsubscribe take the write lock and queue their
// reply under it, so a subscriber always sees SUBSCRIBED before the first
// EVENT of its subscription. Peer methods are called with the broker's lock
// held: they must not call back into the broker (session queues only take
// their own leaf lock).
package broker
