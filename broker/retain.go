package broker

import (
	"slices"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// retainedEvent is the last PUBLISH with retain: true to one topic, with
// what is needed to deliver it later as it would have been delivered then:
// its own copy of the payload, the publisher (for disclosure and
// exclude_me) and the black/white-lists (the specification forbids sending
// a retained event to a subscriber that would not have been eligible).
type retainedEvent struct {
	topic        wamp.URI
	pubID        wamp.ID
	args, kwargs wamp.Payload
	pub          publisher
	filter       filter
}

func (e *retainedEvent) size() int {
	return len(e.topic) + len(e.args.Raw) + len(e.kwargs.Raw)
}

// allows reports whether p would have received the event.
func (e *retainedEvent) allows(p Peer) bool {
	if e.pub.excludeMe && p.SessionID() == e.pub.id {
		return false
	}
	return e.filter.allows(p)
}

// retainStore keeps one retained event per topic, bounded in topics and
// bytes. Its mutex is taken under the broker's mu (read-locked by
// Publish, write-locked by Subscribe).
type retainStore struct {
	max, maxBytes int

	mu    sync.Mutex
	bytes int
	m     map[wamp.URI]*retainedEvent
}

// put replaces the topic's retained event. A new topic past either bound
// is not retained: the specification lets a Broker decline retention, and
// evicting another topic's event would make retention depend on traffic
// elsewhere.
func (s *retainStore) put(e *retainedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[e.topic]
	n := e.size()
	if old != nil {
		n -= old.size()
	} else if len(s.m) >= s.max {
		return
	}
	if s.bytes+n > s.maxBytes {
		return
	}
	if s.m == nil {
		s.m = make(map[wamp.URI]*retainedEvent)
	}
	// The topic may be a string the decoder interned; it is immutable
	// either way, so keeping it is safe.
	s.m[e.topic] = e
	s.bytes += n
}

// get returns the retained event of topic, or nil. The event is never
// changed once stored, so it may be read after the lock is released.
func (s *retainStore) get(topic wamp.URI) *retainedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[topic]
}

// matching returns the retained events of the topics sub matches, sorted
// by topic so that a pattern subscriber gets them in a stable order.
func (s *retainStore) matching(sub *subscription) []*retainedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.match == wamp.MatchExact {
		if e := s.m[sub.uri]; e != nil {
			return []*retainedEvent{e}
		}
		return nil
	}
	// A scan, bounded by MaxRetained, on SUBSCRIBE with get_retained only:
	// not worth an index of its own.
	var out []*retainedEvent
	for t, e := range s.m {
		if patternMatches(sub.uri, sub.match, t) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *retainedEvent) int { return strings.Compare(string(a.topic), string(b.topic)) })
	return out
}

// count returns the number of retained topics.
func (s *retainStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// sendRetainedLocked sends p the retained events sub matches that p may
// see, each marked retained: true. b.mu must be held.
func (b *Broker) sendRetainedLocked(p Peer, sub *subscription) {
	events := b.ret.matching(sub)
	if len(events) == 0 {
		return
	}
	c := codec.For(p.Serialization())
	ev := wamp.Acquire()
	defer wamp.Release(ev)
	for _, e := range events {
		if !e.allows(p) {
			continue
		}
		d := wamp.Dict{"retained": true}
		if sub.match != wamp.MatchExact {
			d["topic"] = string(e.topic)
		}
		// The copies of args and kwargs in ev are what the codec may
		// annotate with a decoded value; the stored event stays as it is.
		*ev = wamp.Message{Type: wamp.EVENT, ID: sub.id, Publication: e.pubID,
			Details: e.pub.details(d), Args: e.args, Kwargs: e.kwargs}
		f, err := c.Encode(nil, ev)
		if err != nil {
			b.log.Warn("cannot encode retained event", "serializer", p.Serialization().String(), "subscription", uint64(sub.id), "error", err)
			continue
		}
		p.SendEvent(f)
	}
}

// patternMatches reports whether topic matches the subscription URI uri
// under policy match. It is the one-pair form of what the index does for
// all subscriptions at once (and the index tests' reference).
func patternMatches(uri wamp.URI, match string, topic wamp.URI) bool {
	switch match {
	case wamp.MatchPrefix:
		return strings.HasPrefix(string(topic), string(uri))
	case wamp.MatchWildcard:
		p, t := string(uri), string(topic)
		for {
			pc, prest, pmore := strings.Cut(p, ".")
			tc, trest, tmore := strings.Cut(t, ".")
			if pmore != tmore || pc != "" && pc != tc {
				return false
			}
			if !pmore {
				return true
			}
			p, t = prest, trest
		}
	}
	return uri == topic
}
