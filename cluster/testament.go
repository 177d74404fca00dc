package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Testaments live in the testaments bucket, one key per session that has
// any: "<node>.<realm>.<session>". The session's node writes them as they
// change and deletes them when the session leaves (it publishes them
// itself then, as a node alone does). When a node is gone, the survivors
// race to delete each of its keys by compare-and-set: the one that
// deletes a key publishes its testaments, so they are published once.
type testaments struct {
	n *Node

	mu      sync.Mutex
	local   map[string][]byte // this node's keys and values, to write again after a gap
	pending map[string][]byte // to write (nil: to delete)
	others  map[string]uint64 // other nodes' keys as watched, with their revisions

	wake chan struct{}
}

// testamentRec is the value of a key.
type testamentRec struct {
	Realm      string            `json:"realm"`
	AuthID     string            `json:"authid"`
	AuthRole   string            `json:"authrole"`
	Testaments []realm.Testament `json:"testaments"`
}

func newTestaments(n *Node) *testaments {
	return &testaments{
		n: n, local: make(map[string][]byte), pending: make(map[string][]byte),
		others: make(map[string]uint64), wake: make(chan struct{}, 1),
	}
}

func testamentKey(node uint64, realmName wamp.URI, sid wamp.ID) string {
	return strconv.FormatUint(node, 16) + ".u" + base64.RawURLEncoding.EncodeToString([]byte(realmName)) + "." + strconv.FormatUint(uint64(sid), 10)
}

func keyNode(key string) (uint64, bool) {
	h, _, ok := strings.Cut(key, ".")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(h, 16, 64)
	return id, err == nil
}

func (t *testaments) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// set records local session s's testaments (none: the key goes).
func (t *testaments) set(realmName wamp.URI, s *session.Session, ts []realm.Testament) {
	key := testamentKey(t.n.id, realmName, s.ID)
	var b []byte
	if len(ts) > 0 {
		b, _ = json.Marshal(testamentRec{Realm: string(realmName), AuthID: s.AuthID, AuthRole: s.AuthRole, Testaments: ts})
	}
	t.mu.Lock()
	if b == nil {
		if _, had := t.local[key]; !had {
			t.mu.Unlock()
			return
		}
		delete(t.local, key)
	} else {
		t.local[key] = b
	}
	t.pending[key] = b
	t.mu.Unlock()
	t.signal()
}

// left: local session sid is gone; its node published its testaments.
func (t *testaments) left(realmName wamp.URI, sid wamp.ID) {
	key := testamentKey(t.n.id, realmName, sid)
	t.mu.Lock()
	if _, had := t.local[key]; had {
		delete(t.local, key)
		t.pending[key] = nil
	}
	t.mu.Unlock()
	t.signal()
}

// rewrite writes every local key again: after a gap, the others may have
// taken this node for dead and published (and deleted) them.
func (t *testaments) rewrite() {
	t.mu.Lock()
	for k, b := range t.local {
		t.pending[k] = b
	}
	t.mu.Unlock()
	t.signal()
}

// run writes the pending changes and publishes the testaments of gone
// nodes, until the node stops.
func (t *testaments) run() {
	defer t.n.wg.Done()
	tick := time.NewTicker(max(t.n.cfg.FailureTimeout/2, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.n.stop:
			return
		case <-t.wake:
		case <-tick.C:
		}
		kv := t.n.store.kv(bucketTestaments)
		if kv == nil {
			continue
		}
		t.flush(kv)
		t.sweep(kv)
	}
}

func (t *testaments) flush(kv jetstream.KeyValue) {
	t.mu.Lock()
	todo := t.pending
	t.pending = make(map[string][]byte)
	t.mu.Unlock()
	for k, b := range todo {
		ctx, cancel := context.WithTimeout(t.n.ctx, t.n.opTimeout())
		var err error
		if b == nil {
			err = kv.Delete(ctx, k)
		} else {
			_, err = kv.Put(ctx, k, b)
		}
		cancel()
		if err != nil {
			t.n.log.Debug("testament not stored yet", "key", k, "error", err)
			t.mu.Lock()
			if _, newer := t.pending[k]; !newer {
				t.pending[k] = b
			}
			t.mu.Unlock()
		}
	}
}

// sweep publishes, once cluster-wide, the testaments of the nodes gone.
func (t *testaments) sweep(kv jetstream.KeyValue) {
	t.mu.Lock()
	var gone []string
	for k := range t.others {
		if node, ok := keyNode(k); ok && t.n.isGone(node) {
			gone = append(gone, k)
		}
	}
	t.mu.Unlock()
	seen := make(map[uint64]bool)
	for _, k := range gone {
		if node, _ := keyNode(k); t.n.confirmGone(node, seen) {
			t.claim(kv, k)
		}
	}
}

// claim deletes key by compare-and-set and, when this node's delete won,
// publishes its testaments.
func (t *testaments) claim(kv jetstream.KeyValue, key string) {
	ctx, cancel := context.WithTimeout(t.n.ctx, t.n.opTimeout())
	defer cancel()
	ent, err := kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			t.mu.Lock()
			delete(t.others, key)
			t.mu.Unlock()
		}
		return
	}
	if err := kv.Delete(ctx, key, jetstream.LastRevision(ent.Revision())); err != nil {
		return // another node won, or no quorum: it is theirs, or later
	}
	t.mu.Lock()
	delete(t.others, key)
	t.mu.Unlock()
	var rec testamentRec
	if err := json.Unmarshal(ent.Value(), &rec); err != nil {
		t.n.log.Warn("bad testaments of a gone node dropped", "key", key, "error", err)
		return
	}
	l := t.n.realms[wamp.URI(rec.Realm)]
	if l == nil || l.r == nil {
		return
	}
	_, sidStr, _ := strings.Cut(key[strings.IndexByte(key, '.')+1:], ".")
	sid, _ := strconv.ParseUint(sidStr, 10, 64)
	p := &testator{id: wamp.ID(sid), authid: rec.AuthID, authrole: rec.AuthRole}
	for i := range rec.Testaments {
		l.r.Broker().Publish(p, rec.Testaments[i].Message())
	}
	t.n.log.Info("testaments of a session of a gone node published", "realm", rec.Realm, "session", sid, "count", len(rec.Testaments))
}

// watch keeps the other nodes' keys, so that a survivor knows a gone
// node's testaments without listing the bucket.
func (t *testaments) watch(ctx context.Context, kv jetstream.KeyValue) {
	watchBucket(ctx, t.n, kv, "testaments", func(ent jetstream.KeyValueEntry) {
		node, ok := keyNode(ent.Key())
		if !ok || node == t.n.id {
			return
		}
		t.mu.Lock()
		if ent.Operation() == jetstream.KeyValuePut {
			t.others[ent.Key()] = ent.Revision()
		} else {
			delete(t.others, ent.Key())
		}
		t.mu.Unlock()
	}, t.signal)
}

// testator stands for a gone session as the publisher of its testaments.
type testator struct {
	id               wamp.ID
	authid, authrole string
}

func (p *testator) SessionID() wamp.ID                { return p.id }
func (p *testator) Serialization() wamp.Serialization { return wamp.JSON }
func (p *testator) SendEvent([]byte)                  {}
func (p *testator) Send(*wamp.Message) error          { return nil }
func (p *testator) Auth() (string, string)            { return p.authid, p.authrole }
