package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

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

// encodePub encodes a publication as kindPub: Request is the publication
// id, Details the publisher and options (short keys), the payload passes
// through.
func encodePub(from uint64, realm wamp.URI, pub *broker.Publication) ([]byte, error) {
	meta := wamp.Dict{"p": uint64(pub.Publisher)}
	if len(pub.Options) > 0 {
		meta["o"] = map[string]any(pub.Options)
	}
	if pub.ExcludeMe {
		meta["x"] = true
	}
	if pub.Disclose {
		meta["d"], meta["ai"], meta["ar"] = true, pub.AuthID, pub.AuthRole
	}
	m := wamp.Message{Type: wamp.PUBLISH, Request: pub.ID, URI: pub.Topic, Details: meta, Args: pub.Args, Kwargs: pub.Kwargs}
	return encodeData(kindPub, from, 0, realm, &m)
}

// decodePub reads back what encodePub wrote; the publication refers to
// m's payload.
func decodePub(m *wamp.Message) broker.Publication {
	pub := broker.Publication{Topic: m.URI, ID: m.Request, Args: m.Args, Kwargs: m.Kwargs}
	d := m.Details
	pub.Publisher, _ = wamp.AsID(d["p"])
	pub.ExcludeMe = wamp.Bool(d, "x", false)
	pub.Disclose = wamp.Bool(d, "d", false)
	pub.AuthID, pub.AuthRole = wamp.String(d, "ai"), wamp.String(d, "ar")
	if o, ok := d["o"].(map[string]any); ok {
		pub.Options = o
	}
	return pub
}

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
	ser := payloadSer(m)
	b := make([]byte, 0, 64+len(realm)+len(m.Args.Raw)+len(m.Kwargs.Raw)+len(m.URI))
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
