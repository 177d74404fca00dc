// Package dealer routes remote procedure calls within one realm: the
// registration index, CALL to INVOCATION, YIELD to RESULT, callee errors,
// and the pending calls in between, with the advanced profile's shared and
// pattern-based registrations, progressive call results and invocations,
// call canceling, call timeouts and caller identification.
//
// Like the broker it declares the Peer it delivers to and imports nothing of
// sessions or realms, so a remote node can stand in for a callee. A
// procedure can also be a Go function of the router (RegisterLocal), and
// the router can call a session's procedure itself (CallInternal), as it
// does for dynamic authenticators and authorizers.
//
// # Routing
//
// A CALL goes to the exact registration of its URI; failing that, to the
// prefix registration with the longest prefix; failing that, to the best
// wildcard registration (see wildIndex.match for the rule). An exact call
// costs one map lookup, as before patterns existed; patterns are consulted
// only on a miss, and cost one probe per distinct prefix length plus a walk
// of the wildcard trie along the URI, independent of how many unrelated
// registrations there are. Calls to URIs under wamp. never match patterns.
// A registration with several callees (shared registration) picks one per
// call by its invocation policy.
//
// # Pending calls and tombstones
//
// A call is pending from INVOCATION to the callee's final YIELD or ERROR,
// indexed both by (callee, INVOCATION request) and (caller, CALL request).
// When it ends early — CANCEL skip or killnowait, timeout, the caller
// leaving, an unreadable YIELD — it becomes a tombstone: the caller is
// answered at once, and the callee's later answer is swallowed rather than
// taken for a protocol violation. Tombstones go when the callee answers or
// leaves, and are bounded per callee (Config.MaxTombstones). A plain call
// (no options, exact registration, no timeout) allocates nothing: call
// records and messages are pooled.
//
// # Concurrency
//
// All methods are safe for concurrent use. The dealer's mutex guards the
// indexes and pending calls. Messages that must keep their order with the
// dealer's state are queued under it: REGISTERED and UNREGISTERED (so that
// a callee never sees an INVOCATION for a registration before the reply
// that created it), INTERRUPT, progressive RESULTs and continuation
// INVOCATIONs, and the ERRORs of cancel and timeout (so that no RESULT
// overtakes the ERROR that ended a call). The first INVOCATION of a call,
// the final RESULT and callee errors are encoded and queued outside the
// lock. Peer methods must not call back into the dealer. Hooks are queued
// under the lock and run after it, in order (see Hooks, internal/hookq);
// timers run expire on their own goroutine, which takes the lock like any
// other caller. Lock order: docs/locks.md.
package dealer
