package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Data messages (subject sb.<cluster>.n.<node>) carry WAMP traffic
// between nodes: a small binary header, then one WAMP message encoded in
// the serializer its payload came in, so that payloads pass through
// untouched:
//
//	kind(1) | from node (8, big endian) | session (uvarint) | realm length (uvarint) | realm | serializer(1) | frame
//
// kindPub carries a PUBLISH (Request = publication id, Details = what
// pubMeta names); kindInv an INVOCATION and kindInt an INTERRUPT for the
// local callee session; kindAns the callee's YIELD or ERROR back to the
// caller's node, session naming the callee.
const (
	kindPub byte = 1 + iota
	kindInv
	kindInt
	kindAns
	kindHist // an EVENT kept for history (history.go): ID = subscription, Details t (Unix ns), u (topic), d (details)

	numKinds = iota + 1 // size of arrays indexed by kind
)

// encodePub appends to dst a publication as kindPub: the header's
// session is the publisher, Request the publication id, and Details only
// what differs from the common case (nil for most publications, which
// keeps encoding and decoding cheap): "o" the black/white-list options,
// "d", "ai", "ar" the disclosed publisher, "t" the trust level, "p" the
// payload passthru attributes (as PUBLISH.Options names them), and, with
// keepX (a retained event, delivered later on any node, the publisher's
// included), "x" exclude_me. The payload passes through.
func encodePub(dst []byte, from uint64, realm wamp.URI, pub *broker.Publication, keepX bool) ([]byte, error) {
	m := wamp.Message{Type: wamp.PUBLISH, Request: pub.ID, URI: pub.Topic, Args: pub.Args, Kwargs: pub.Kwargs}
	if len(pub.Options) > 0 || pub.Disclose || (keepX && pub.ExcludeMe) || pub.Trust != 0 || pub.Passthru != nil {
		meta := wamp.Dict{}
		if n, ok := pub.Trust.Level(); ok {
			meta["t"] = n
		}
		if pub.Passthru != nil {
			meta["p"] = map[string]any(pub.Passthru.Dict())
		}
		if len(pub.Options) > 0 {
			meta["o"] = map[string]any(pub.Options)
		}
		if keepX && pub.ExcludeMe {
			meta["x"] = true
		}
		if pub.Disclose {
			meta["d"], meta["ai"], meta["ar"] = true, pub.AuthID, pub.AuthRole
		}
		m.Details = meta
	}
	return appendData(dst, kindPub, from, pub.Publisher, realm, &m)
}

// decodePub reads back what encodePub wrote, with h its header; the
// publication refers to m's payload.
func decodePub(h *dataHeader, m *wamp.Message) broker.Publication {
	pub := broker.Publication{Topic: m.URI, ID: m.Request, Args: m.Args, Kwargs: m.Kwargs, Publisher: h.session}
	if d := m.Details; len(d) > 0 {
		pub.ExcludeMe = wamp.Bool(d, "x", false)
		pub.Disclose = wamp.Bool(d, "d", false)
		pub.AuthID, pub.AuthRole = wamp.String(d, "ai"), wamp.String(d, "ar")
		if o, ok := d["o"].(map[string]any); ok {
			pub.Options = o
		}
		if t, ok := d["t"]; ok {
			pub.Trust, _ = wamp.ParseTrustLevel(t)
		}
		if p, ok := d["p"].(map[string]any); ok {
			var ppt wamp.Passthru
			for k, v := range p {
				if wamp.IsPassthruKey(k) {
					_ = ppt.Set(k, v)
				}
			}
			if !ppt.IsZero() {
				pub.Passthru = &ppt
			}
		}
	}
	return pub
}

// bufPool holds encode buffers of forwarded publications: NATS copies a
// message into its own buffer before Publish returns.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

type dataHeader struct {
	kind    byte
	from    uint64
	session wamp.ID
	realm   wamp.URI
	ser     wamp.Serialization
}

var errShort = errors.New("cluster: short data message")

// payloadSer is the serializer a message travels in: its payload's own,
// so that nothing is re-encoded.
func payloadSer(m *wamp.Message) wamp.Serialization {
	switch {
	case m.Args.Raw != nil:
		return m.Args.Ser
	case m.Kwargs.Raw != nil:
		return m.Kwargs.Ser
	}
	return wamp.JSON
}

func encodeData(kind byte, from uint64, session wamp.ID, realm wamp.URI, m *wamp.Message) ([]byte, error) {
	return appendData(make([]byte, 0, 64+len(realm)+len(m.Args.Raw)+len(m.Kwargs.Raw)+len(m.URI)), kind, from, session, realm, m)
}

// appendData appends a data message to b.
func appendData(b []byte, kind byte, from uint64, session wamp.ID, realm wamp.URI, m *wamp.Message) ([]byte, error) {
	ser := payloadSer(m)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.AppendUvarint(b, uint64(session))
	b = binary.AppendUvarint(b, uint64(len(realm)))
	b = append(b, realm...)
	b = append(b, byte(ser))
	b, err := codec.For(ser).Encode(b, m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode %v: %w", m.Type, err)
	}
	return b, nil
}

// decodeData parses a data message into h and m; m's payload borrows b.
func decodeData(b []byte, h *dataHeader, m *wamp.Message) error {
	if len(b) < 9 {
		return errShort
	}
	h.kind = b[0]
	h.from = binary.BigEndian.Uint64(b[1:9])
	b = b[9:]
	s, n := binary.Uvarint(b)
	if n <= 0 {
		return errShort
	}
	h.session = wamp.ID(s)
	b = b[n:]
	l, n := binary.Uvarint(b)
	// l >= len-n, not len-n < l+1: a length of 2^64-1 wraps l+1 to 0.
	// The realm is followed by at least the serializer byte.
	if n <= 0 || l >= uint64(len(b)-n) {
		return errShort
	}
	b = b[n:]
	h.realm = wamp.URI(b[:l])
	h.ser = wamp.Serialization(b[l])
	c := codec.For(h.ser)
	if c == nil {
		return fmt.Errorf("cluster: unknown serializer %d", h.ser)
	}
	return c.Decode(b[l+1:], m)
}

// op is one change of a node's interest, as its control messages carry
// it: "sub" when a subscription gets its first local subscriber, "unsub"
// when it loses its last.
type op struct {
	K     string `json:"k"` // sub, unsub
	Realm string `json:"r"`
	ID    uint64 `json:"id"`
	URI   string `json:"u,omitempty"`
	Match string `json:"m,omitempty"`
}

// sessInfo is what other nodes learn of a callee (in the registration
// directory) and of a session asked for (wamp.session.get).
type sessInfo struct {
	AuthID       string   `json:"authid"`
	AuthRole     string   `json:"authrole"`
	AuthMethod   string   `json:"authmethod"`
	AuthProvider string   `json:"authprovider"`
	Transport    string   `json:"transport"`
	Serializer   string   `json:"serializer"`
	Peer         string   `json:"peer"`
	Features     []string `json:"features,omitempty"` // callee features the dealer asks about
}

// realmState is a node's whole interest in one realm (a snapshot), and
// how many sessions it has there (for status).
type realmState struct {
	Realm    string `json:"realm"`
	Sessions int    `json:"sessions,omitempty"`
	Subs     []ref  `json:"subs,omitempty"`
}

type ref struct {
	ID    uint64 `json:"id"`
	URI   string `json:"u"`
	Match string `json:"m"`
}
