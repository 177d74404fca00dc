package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
)

// Retained events live in the retained bucket, one key per (realm,
// topic) holding the last retained publication, encoded as it crosses
// nodes (wire.go). Every node watches the bucket and keeps each event in
// its broker, so a subscriber with get_retained gets the latest one
// wherever it was published, also on a node that joined later; with file
// storage they survive a restart of the whole cluster.
//
// The publisher's node stores its event in its own broker at once, as a
// node alone does, and writes it to the bucket from a goroutine of its
// own, so that the publisher never waits for JetStream; the queue between
// them is bounded (writer.go), past it a retained event is kept on
// its node only (counted, logged).
type retainedStore struct {
	n *Node
	w *writer
	// caught is set once the watcher has delivered the bucket's values at
	// start: before that the node is not ready.
	caught atomic.Bool
}

func newRetainedStore(n *Node) *retainedStore {
	return &retainedStore{n: n, w: newWriter(n, "retained event")}
}

func retainedKey(realm, topic wamp.URI) string {
	return "u" + base64.RawURLEncoding.EncodeToString([]byte(realm)) + ".u" + base64.RawURLEncoding.EncodeToString([]byte(topic))
}

// put queues pub, a retained publication of a local publisher, for the
// bucket. It never blocks.
func (s *retainedStore) put(realm wamp.URI, pub *broker.Publication) {
	b, err := appendPub(nil, s.n.id, realm, pub, true)
	if err != nil {
		s.n.log.Warn("retained event not stored in the cluster", "topic", string(pub.Topic), "error", err)
		return
	}
	key := retainedKey(realm, pub.Topic)
	s.w.push(func(ctx context.Context) error {
		_, err := s.n.store.kv(bucketRetained).Put(ctx, key, b)
		return err
	})
}

// watch keeps every retained event of the bucket in the realms' brokers.
func (s *retainedStore) watch(ctx context.Context, kv jetstream.KeyValue) {
	watchBucket(ctx, s.n, kv, "retained events", func(ent jetstream.KeyValueEntry) {
		if ent.Operation() == jetstream.KeyValuePut {
			s.apply(ent.Value())
		}
	}, func() { s.caught.Store(true) })
}

func (s *retainedStore) apply(b []byte) {
	defer s.n.survive("retained")
	var h dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	var pub broker.Publication
	body, err := decodeHeader(b, &h)
	if err == nil && h.kind != kindPub {
		err = fmt.Errorf("cluster: data message of kind %d", h.kind)
	}
	if err == nil {
		err = readPub(&h, body, m, &pub)
	}
	if err != nil {
		s.n.log.Warn("bad retained event in the cluster store", "error", err)
		return
	}
	l := s.n.realms[wamp.URI(h.realm)]
	if l == nil || l.r == nil {
		return
	}
	pub.Retain = true
	l.r.Broker().StoreRetained(&pub)
}
