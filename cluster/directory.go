package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// The registration directory: one key per (realm, match, procedure) in
// the regs bucket, whose value lists the callees of every node. A
// REGISTER is admitted by compare-and-set on its key (admit), so of two
// racing REGISTERs exactly one wins, and a node that cannot reach a
// JetStream quorum admits none. Every node watches the bucket and keeps
// its dealer's stand-ins for remote callees equal to it
// (Realm.syncRegs). Each node keeps its own callees in the directory
// equal to its dealer's (reconcile): it removes the ones that
// unregistered or left, adds back the ones that a partition made the
// others remove, revokes its own that lost to another node meanwhile, and
// removes the callees of nodes that are gone.

// dirEntry is the value of a directory key.
type dirEntry struct {
	Realm   string      `json:"realm"`
	URI     string      `json:"uri"`
	Match   string      `json:"match"`
	Invoke  string      `json:"invoke"`
	Callees []dirCallee `json:"callees"`
}

// dirCallee is one callee of a registration, in the order they
// registered (the first/last invocation policies read it).
type dirCallee struct {
	Node    uint64   `json:"node"`
	Session uint64   `json:"s"`
	Info    sessInfo `json:"i"`
}

func (e *dirEntry) has(node uint64, sid wamp.ID) bool {
	return slices.ContainsFunc(e.Callees, func(c dirCallee) bool { return c.Node == node && c.Session == uint64(sid) })
}

// dirKey names (realm, match, uri) in the bucket. Base64url keeps any URI
// within the characters a key may hold; the "u" keeps a segment from
// being empty.
func dirKey(realm wamp.URI, match string, uri wamp.URI) string {
	return "u" + base64.RawURLEncoding.EncodeToString([]byte(realm)) + "." + match + ".u" + base64.RawURLEncoding.EncodeToString([]byte(uri))
}

// dirRec is what the watcher last saw of a key; e is nil once deleted.
type dirRec struct {
	e   *dirEntry
	rev uint64
}

// ownReg is a registration of this node: its local callees.
type ownReg struct {
	realm    wamp.URI
	uri      wamp.URI
	match    string
	invoke   string
	sessions map[wamp.ID]sessInfo
}

type directory struct {
	n *Node

	mu      sync.Mutex
	entries map[string]dirRec  // the bucket as watched
	own     map[string]*ownReg // this node's registrations, by key
	byReg   map[regRef]string  // this node's registration ids, for Unregistered
	dirty   map[string]struct{}
	caught  bool // the watcher has delivered the bucket's values at start
	// seen is the last revision of the bucket the watcher delivered (any
	// key, health keys included): the health check tells a stalled
	// watch by it.
	seen atomic.Uint64

	wake chan struct{}
}

type regRef struct {
	realm wamp.URI
	id    wamp.ID
}

func newDirectory(n *Node) *directory {
	return &directory{
		n:       n,
		entries: make(map[string]dirRec),
		own:     make(map[string]*ownReg),
		byReg:   make(map[regRef]string),
		dirty:   make(map[string]struct{}),
		wake:    make(chan struct{}, 1),
	}
}

func (d *directory) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// errRefused marks an admission the directory refused (the WAMP error
// says why), as opposed to one it could not decide.
var errRefused = errors.New("refused")

// unavailable is the REGISTER error of a node that cannot decide.
func unavailable(format string, args ...any) *wamp.Error {
	return wamp.NewError(ErrUnavailable, "the cluster could not decide the registration: "+fmt.Sprintf(format, args...))
}

// admit adds callee c to key by compare-and-set and returns the entry as
// written. A key held by live callees refuses a single registration, or
// another policy, with the error a node alone gives. Callees of nodes
// that are gone do not count: their registrations are the survivors' to
// remove.
func (d *directory) admit(ctx context.Context, key string, tmpl dirEntry, c dirCallee) (dirRec, error) {
	for {
		rec, err := d.admitOnce(ctx, key, tmpl, c)
		if err == nil || errors.Is(err, errRefused) {
			return rec, err
		}
		// No leader right now (an election after a node died), or no
		// quorum: try again until the REGISTER's bounded wait is over.
		select {
		case <-ctx.Done():
			return dirRec{}, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// admitOnce decides key once, retrying only a lost compare-and-set.
func (d *directory) admitOnce(ctx context.Context, key string, tmpl dirEntry, c dirCallee) (dirRec, error) {
	for {
		kv := d.n.store.kv(bucketRegs)
		if kv == nil {
			return dirRec{}, unavailable("%v", d.n.store.err())
		}
		e, rev, err := d.get(ctx, kv, key)
		if err != nil {
			return dirRec{}, unavailable("%v", err)
		}
		if e.has(c.Node, wamp.ID(c.Session)) {
			return dirRec{&e, rev}, nil // a retry of an admitted REGISTER
		}
		seen := make(map[uint64]bool)
		live := slices.DeleteFunc(e.Callees, func(x dirCallee) bool { return d.n.confirmGone(x.Node, seen) })
		next := tmpl
		if len(live) > 0 {
			var refusal error
			switch {
			case e.Invoke == dealer.InvokeSingle || tmpl.Invoke == dealer.InvokeSingle:
				refusal = wamp.NewError(wamp.ErrProcedureAlreadyExists, "procedure "+tmpl.URI+" is already registered")
			case e.Invoke != tmpl.Invoke:
				refusal = wamp.NewError(dealer.ErrDifferentInvocationPolicy,
					"procedure "+tmpl.URI+" is registered with invocation policy "+e.Invoke+", not "+tmpl.Invoke)
			}
			if refusal != nil {
				// Refused only on an entry known current: rewritten as it
				// was read, with its revision (a lagging replica may have
				// served the read; see reconcileOnce).
				cur, _ := json.Marshal(&e)
				if _, err := kv.Update(ctx, key, cur, rev); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					continue
				} else if err != nil {
					return dirRec{}, unavailable("%v", err)
				}
				return dirRec{}, fmt.Errorf("%w: %w", errRefused, refusal)
			}
		}
		next.Callees = append(live, c)
		b, _ := json.Marshal(&next)
		if rev == 0 {
			rev, err = kv.Create(ctx, key, b)
		} else {
			rev, err = kv.Update(ctx, key, b, rev)
		}
		switch {
		case err == nil:
			return dirRec{&next, rev}, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another node wrote it first: decide again
		default:
			return dirRec{}, unavailable("%v", err)
		}
	}
}

// get reads key: its entry (zero when absent) and revision (0 when
// absent). An entry that does not decode counts as empty, to be
// overwritten.
func (d *directory) get(ctx context.Context, kv jetstream.KeyValue, key string) (dirEntry, uint64, error) {
	var e dirEntry
	cur, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return e, 0, nil
	case err != nil:
		return e, 0, err
	}
	if err := json.Unmarshal(cur.Value(), &e); err != nil {
		d.n.log.Warn("bad directory entry: to be overwritten", "key", key, "error", err)
		e = dirEntry{}
	}
	return e, cur.Revision(), nil
}

// admitted records a registration of local session s, REGISTERED by the
// dealer under id.
func (d *directory) admitted(key string, realm wamp.URI, id wamp.ID, tmpl *dirEntry, s *session.Session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.own[key]
	if o == nil {
		o = &ownReg{realm: realm, uri: wamp.URI(tmpl.URI), match: tmpl.Match, invoke: tmpl.Invoke, sessions: make(map[wamp.ID]sessInfo)}
		d.own[key] = o
	}
	o.sessions[s.ID] = infoOf(s)
	d.byReg[regRef{realm, id}] = key
}

// dropped records that local session sid is no longer a callee of
// registration id (0: of any registration of the realm, when it left),
// and has the reconciler take it out of the directory.
func (d *directory) dropped(realm wamp.URI, sid, id wamp.ID) {
	d.mu.Lock()
	for k, o := range d.own {
		if o.realm != realm || (id != 0 && d.byReg[regRef{realm, id}] != k) {
			continue
		}
		if _, ok := o.sessions[sid]; !ok {
			continue
		}
		delete(o.sessions, sid)
		d.dirty[k] = struct{}{}
	}
	d.mu.Unlock()
	d.signal()
}

// loaded reports whether the watcher has delivered the bucket's values.
func (d *directory) loaded() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caught
}

// markDirty has the reconciler look at key.
func (d *directory) markDirty(key string) {
	d.mu.Lock()
	d.dirty[key] = struct{}{}
	d.mu.Unlock()
	d.signal()
}

// watch applies the bucket to the realms' dealers, in the bucket's
// order, until ctx ends.
func (d *directory) watch(ctx context.Context, kv jetstream.KeyValue) {
	watchBucket(ctx, d.n, kv, "registration directory", d.apply, func() {
		d.mu.Lock()
		d.caught = true
		d.mu.Unlock()
	})
}

func (d *directory) apply(ent jetstream.KeyValueEntry) {
	if r := ent.Revision(); r > d.seen.Load() {
		d.seen.Store(r)
	}
	key := ent.Key()
	if !strings.HasPrefix(key, "u") {
		return // a node's health key (jetstream.go)
	}
	rec := dirRec{rev: ent.Revision()}
	if ent.Operation() == jetstream.KeyValuePut {
		var e dirEntry
		if err := json.Unmarshal(ent.Value(), &e); err != nil {
			d.n.log.Warn("bad directory entry ignored", "key", key, "error", err)
			return
		}
		rec.e = &e
	}
	d.mu.Lock()
	old, seen := d.entries[key]
	if seen && old.rev >= rec.rev {
		d.mu.Unlock()
		return
	}
	d.entries[key] = rec
	_, mine := d.own[key]
	d.mu.Unlock()
	e := rec.e
	if e == nil {
		e = old.e // the realm and procedure of a deleted key
	}
	if e != nil {
		if l := d.n.realms[wamp.URI(e.Realm)]; l != nil && l.r != nil {
			l.syncRegs(key, e, rec.e)
		}
	}
	if mine {
		d.markDirty(key) // another node changed one of ours: look again
	}
}

// reset forgets the bucket as watched, for a new one: the stand-ins go
// (the new bucket brings back those that are still there) and this
// node's registrations are written again.
func (d *directory) reset() {
	d.mu.Lock()
	old := d.entries
	d.entries = make(map[string]dirRec)
	d.caught = false
	d.seen.Store(0)
	for k := range d.own {
		d.dirty[k] = struct{}{}
	}
	d.mu.Unlock()
	for k, r := range old {
		if r.e == nil {
			continue
		}
		if l := d.n.realms[wamp.URI(r.e.Realm)]; l != nil && l.r != nil {
			l.syncRegs(k, r.e, nil)
		}
	}
	d.signal()
}

// record keeps what this node wrote (admit, reconcile) as the latest of
// key unless the watcher already has newer, and applies it.
func (d *directory) record(key string, rec dirRec) {
	d.mu.Lock()
	if old, ok := d.entries[key]; ok && old.rev >= rec.rev {
		d.mu.Unlock()
		return
	}
	d.entries[key] = rec
	d.mu.Unlock()
	if rec.e != nil {
		if l := d.n.realms[wamp.URI(rec.e.Realm)]; l != nil && l.r != nil {
			l.syncRegs(key, rec.e, rec.e)
		}
	}
}

// resync applies the whole directory again: after a node came back to
// life, its callees are stand-ins again.
func (d *directory) resync() {
	d.mu.Lock()
	recs := make(map[string]dirRec, len(d.entries))
	for k, r := range d.entries {
		if r.e != nil {
			recs[k] = r
		}
	}
	d.mu.Unlock()
	for k, r := range recs {
		if l := d.n.realms[wamp.URI(r.e.Realm)]; l != nil && l.r != nil {
			l.syncRegs(k, r.e, r.e)
		}
	}
}

// reconcile runs until the node stops: on each change of this node's
// registrations, and every half failure timeout for what a partition or a
// dead node left behind.
func (d *directory) reconcile() {
	defer d.n.wg.Done()
	t := time.NewTicker(max(d.n.cfg.FailureTimeout/2, 100*time.Millisecond))
	defer t.Stop()
	for {
		full := false
		select {
		case <-d.n.stop:
			return
		case <-d.wake:
		case <-t.C:
			full = true
		}
		d.pass(full)
	}
}

// pass reconciles the dirty keys, and with full every key of this node
// and every key that names a node gone.
func (d *directory) pass(full bool) {
	if d.n.store.kv(bucketRegs) == nil {
		return
	}
	d.mu.Lock()
	keys := make([]string, 0, len(d.dirty))
	for k := range d.dirty {
		keys = append(keys, k)
	}
	clear(d.dirty)
	if full && d.caught {
		for k := range d.own {
			keys = append(keys, k)
		}
		for k, r := range d.entries {
			if r.e != nil && slices.ContainsFunc(r.e.Callees, func(c dirCallee) bool { return d.n.isGone(c.Node) }) {
				keys = append(keys, k)
			}
		}
	}
	d.mu.Unlock()
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if err := d.reconcileKey(k); err != nil {
			d.n.log.Debug("directory entry not reconciled yet", "key", k, "error", err)
			d.mu.Lock()
			d.dirty[k] = struct{}{}
			d.mu.Unlock()
		}
	}
}

// reconcileKey makes key's callees of this node those it has, drops the
// callees of nodes gone, and revokes this node's callees that lost the
// procedure to another node while they could not be written.
func (d *directory) reconcileKey(key string) error {
	kv := d.n.store.kv(bucketRegs)
	for range 8 {
		ctx, cancel := context.WithTimeout(d.n.ctx, d.n.opTimeout())
		done, err := d.reconcileOnce(ctx, kv, key)
		cancel()
		if done || err != nil {
			return err
		}
	}
	return errors.New("too many concurrent changes")
}

func (d *directory) reconcileOnce(ctx context.Context, kv jetstream.KeyValue, key string) (done bool, err error) {
	e, rev, err := d.get(ctx, kv, key)
	if err != nil {
		return false, err
	}
	me := d.n.id
	d.mu.Lock()
	var want map[wamp.ID]sessInfo
	var o ownReg
	if p := d.own[key]; p != nil {
		o = *p
		want = cloneInfos(p.sessions)
	}
	d.mu.Unlock()

	next := e
	seen := make(map[uint64]bool)
	next.Callees = slices.DeleteFunc(slices.Clone(e.Callees), func(c dirCallee) bool {
		if c.Node == me {
			_, keep := want[wamp.ID(c.Session)]
			return !keep
		}
		return d.n.confirmGone(c.Node, seen)
	})
	var revoke []wamp.ID
	for sid, info := range want {
		if next.has(me, sid) {
			continue
		}
		others := slices.ContainsFunc(next.Callees, func(c dirCallee) bool { return c.Node != me })
		if others && (next.Invoke == dealer.InvokeSingle || o.invoke == dealer.InvokeSingle || next.Invoke != o.invoke) {
			revoke = append(revoke, sid)
			continue
		}
		if len(next.Callees) == 0 {
			next = dirEntry{Realm: string(o.realm), URI: string(o.uri), Match: o.match, Invoke: o.invoke}
		}
		next.Callees = append(next.Callees, dirCallee{Node: me, Session: uint64(sid), Info: info})
	}
	// A local callee is revoked only once the entry that makes it lose is
	// known current: a read may be served by any replica (direct get),
	// and one that lags (a node back from a freeze) can show a callee
	// that is long gone. So the entry is written first, even unchanged,
	// with the revision read: the write succeeds only if nothing came
	// since, and the revocation follows it.
	unchanged := slices.Equal(calleeIDs(next.Callees), calleeIDs(e.Callees))
	switch {
	case unchanged && len(revoke) == 0, len(next.Callees) == 0 && rev == 0:
		return true, nil
	case len(next.Callees) == 0:
		err = kv.Delete(ctx, key, jetstream.LastRevision(rev))
		if err == nil {
			d.record(key, dirRec{nil, rev + 1})
		}
	default:
		b, _ := json.Marshal(&next)
		var nrev uint64
		if rev == 0 {
			nrev, err = kv.Create(ctx, key, b)
		} else {
			nrev, err = kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			d.record(key, dirRec{&next, nrev})
		}
	}
	switch {
	case err == nil:
		if len(revoke) > 0 {
			d.revoke(key, &o, revoke)
		}
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return false, nil
	}
	return false, err
}

// revoke takes from local sessions a registration that another node holds
// in the directory (they registered it while cut off from it, or kept it
// through a partition in which the others took their node for dead).
func (d *directory) revoke(key string, o *ownReg, sids []wamp.ID) {
	d.mu.Lock()
	if p := d.own[key]; p != nil {
		for _, sid := range sids {
			delete(p.sessions, sid)
		}
	}
	d.mu.Unlock()
	l := d.n.realms[o.realm]
	if l == nil || l.r == nil {
		return
	}
	for _, sid := range sids {
		d.n.log.Warn("registration revoked: another node holds the procedure", "realm", string(o.realm), "procedure", string(o.uri), "session", uint64(sid))
		l.revoke(sid, o.uri, o.match)
	}
	// The other node's callee waited for the local one to go: it can be
	// a stand-in now.
	d.mu.Lock()
	rec := d.entries[key]
	d.mu.Unlock()
	if rec.e != nil {
		l.syncRegs(key, rec.e, rec.e)
	}
}

func calleeIDs(cs []dirCallee) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%x/%d", c.Node, c.Session)
	}
	return out
}

func cloneInfos(m map[wamp.ID]sessInfo) map[wamp.ID]sessInfo {
	out := make(map[wamp.ID]sessInfo, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// flush reconciles what is dirty once more, for Close: the others would
// remove this node's callees once it is gone anyway, but sooner is
// better.
func (d *directory) flush() {
	d.pass(false)
}
