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
// kindPub carries a publication, in the binary form of appendPub (its
// serializer byte serPub) or, from retained events stored by earlier
// releases, as a PUBLISH frame (Request = publication id, Details = what
// pubMeta names); kindInv an INVOCATION and kindInt an INTERRUPT for the
// local callee session; kindAns the callee's YIELD or ERROR back to the
// caller's node, session naming the callee.
const (
	kindPub byte = 1 + iota
	kindInv
	kindInt
	kindAns
	kindHist  // an EVENT kept for history (history.go): ID = subscription, Details t (Unix ns), u (topic), d (details)
	kindBatch // data messages packed into one NATS message (outbox.go): each a length (uvarint) and the message

	numKinds = iota + 1 // size of arrays indexed by kind
)

// serPub, in the serializer byte of a kindPub message, says that what
// follows is a publication in the binary form of appendPub rather than a
// PUBLISH frame: no serializer lays out the skeleton, so the payloads are
// copied, not re-encoded, and read back without a decoder. The frame form
// is still read (decodeFramePub), from retained events stored by earlier
// releases.
const serPub byte = 0xB1

// appendPub appends to dst a publication as kindPub in the binary form:
// the header's session is the publisher, then
//
//	publication id (uvarint) | topic length (uvarint) | topic
//	| args | kwargs | meta
//
// where args and kwargs are each a serializer byte and a length
// (uvarint, 0 for an absent payload) and its encoding in that serializer,
// as it came (a payload held decoded is written in JSON), and meta is the
// same for a dict of what differs from the common case (absent for most
// publications, which keeps both ends cheap): "o" the black/white-list
// options, "d", "ai", "ar" the disclosed publisher, "t" the trust level,
// "p" the payload passthru attributes (as PUBLISH.Options names them),
// and, with keepX (a retained event, delivered later on any node, the
// publisher's included), "x" exclude_me.
func appendPub(dst []byte, from uint64, realm wamp.URI, pub *broker.Publication, keepX bool) ([]byte, error) {
	b := appendHeader(dst, kindPub, from, pub.Publisher, realm, serPub)
	b = binary.AppendUvarint(b, uint64(pub.ID))
	b = binary.AppendUvarint(b, uint64(len(pub.Topic)))
	b = append(b, pub.Topic...)
	var err error
	if b, err = appendPayload(b, pub.Args); err != nil {
		return nil, err
	}
	if b, err = appendPayload(b, pub.Kwargs); err != nil {
		return nil, err
	}
	if meta := pubMeta(pub, keepX); meta != nil {
		// The payload's serializer, so that option values keep their
		// types (a MsgPack binary stays one).
		return appendPayload(b, wamp.Payload{Value: map[string]any(meta), Ser: payloadSer(pub.Args, pub.Kwargs)})
	}
	return append(b, 0, 0), nil
}

// appendPayload appends a serializer byte, a length and the payload's
// encoding; a serializer 0 and a length 0 for an absent payload. A
// payload held raw is copied as it came; one held decoded is encoded in
// p.Ser, JSON when that is not set.
func appendPayload(b []byte, p wamp.Payload) ([]byte, error) {
	switch {
	case p.Raw != nil:
		b = append(b, byte(p.Ser))
		b = binary.AppendUvarint(b, uint64(len(p.Raw)))
		return append(b, p.Raw...), nil
	case p.Value == nil:
		return append(b, 0, 0), nil
	}
	ser := p.Ser
	if codec.For(ser) == nil {
		ser = wamp.JSON
	}
	// The length goes before the value, whose size is known once it is
	// encoded: reserve the most a uvarint takes, then close the gap.
	b = append(b, byte(ser))
	at := len(b)
	b = append(b, make([]byte, binary.MaxVarintLen64)...)
	b, err := codec.For(ser).AppendValue(b, p.Value)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode publication: %w", err)
	}
	n := len(b) - at - binary.MaxVarintLen64
	var l [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(l[:], uint64(n))
	copy(b[at:], l[:ln])
	return append(b[:at+ln], b[at+binary.MaxVarintLen64:]...), nil
}

// pubMeta is the meta dict of appendPub, nil when there is nothing to
// say.
func pubMeta(pub *broker.Publication, keepX bool) wamp.Dict {
	if len(pub.Options) == 0 && !pub.Disclose && !(keepX && pub.ExcludeMe) && pub.Trust == 0 && pub.Passthru == nil {
		return nil
	}
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
	return meta
}

// applyMeta sets what meta (a dict of pubMeta's) says on pub.
func applyMeta(pub *broker.Publication, d wamp.Dict) {
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

// readPub parses a kindPub message, in either form, into pub: h is its
// header and body what follows it (decodeHeader). pub's payload borrows
// body; m is scratch for the frame form.
func readPub(h *dataHeader, body []byte, m *wamp.Message, pub *broker.Publication) error {
	if byte(h.ser) != serPub {
		c := codec.For(h.ser)
		if c == nil {
			return fmt.Errorf("cluster: unknown serializer %d", h.ser)
		}
		if err := c.Decode(body, m); err != nil {
			return err
		}
		*pub = broker.Publication{Topic: m.URI, ID: m.Request, Args: m.Args, Kwargs: m.Kwargs, Publisher: h.session}
		if len(m.Details) > 0 {
			applyMeta(pub, m.Details)
		}
		return nil
	}
	id, n := binary.Uvarint(body)
	if n <= 0 {
		return errShort
	}
	body = body[n:]
	topic, body, err := readBytes(body)
	if err != nil {
		return err
	}
	*pub = broker.Publication{Topic: wamp.URI(topic), ID: wamp.ID(id), Publisher: h.session}
	if pub.Args, body, err = readPayload(body); err != nil {
		return err
	}
	if pub.Kwargs, body, err = readPayload(body); err != nil {
		return err
	}
	meta, body, err := readPayload(body)
	if err != nil {
		return err
	}
	if len(body) != 0 {
		return fmt.Errorf("cluster: %d bytes after a publication", len(body))
	}
	if meta.Raw != nil {
		v, err := codec.For(meta.Ser).DecodeValue(meta.Raw)
		if err != nil {
			return fmt.Errorf("cluster: publication meta: %w", err)
		}
		d, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("cluster: publication meta is a %T", v)
		}
		applyMeta(pub, d)
	}
	return nil
}

// readBytes reads a length (uvarint) and that many bytes.
func readBytes(b []byte) (v, rest []byte, err error) {
	l, n := binary.Uvarint(b)
	// l > len-n, not len-n < l: a length near 2^64 must not wrap.
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, errShort
	}
	b = b[n:]
	return b[:l:l], b[l:], nil
}

// readPayload reads what appendPayload wrote; the payload borrows b.
func readPayload(b []byte) (wamp.Payload, []byte, error) {
	if len(b) == 0 {
		return wamp.Payload{}, nil, errShort
	}
	ser := wamp.Serialization(b[0])
	v, rest, err := readBytes(b[1:])
	switch {
	case err != nil:
		return wamp.Payload{}, nil, err
	case ser == 0 && len(v) == 0:
		return wamp.Payload{}, rest, nil
	case codec.For(ser) == nil || len(v) == 0:
		return wamp.Payload{}, nil, fmt.Errorf("cluster: payload of %d bytes in serializer %d", len(v), ser)
	}
	return wamp.Payload{Raw: v, Ser: ser}, rest, nil
}

// bufPool holds encode buffers of forwarded publications: NATS copies a
// message into its own buffer before Publish returns.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

type dataHeader struct {
	kind    byte
	from    uint64
	session wamp.ID
	realm   []byte // borrowed from the message
	ser     wamp.Serialization
}

var errShort = errors.New("cluster: short data message")

// payloadSer is the serializer a message travels in: its payload's own,
// so that nothing is re-encoded.
func payloadSer(args, kwargs wamp.Payload) wamp.Serialization {
	switch {
	case args.Raw != nil:
		return args.Ser
	case kwargs.Raw != nil:
		return kwargs.Ser
	}
	return wamp.JSON
}

func encodeData(kind byte, from uint64, session wamp.ID, realm wamp.URI, m *wamp.Message) ([]byte, error) {
	return appendData(make([]byte, 0, 64+len(realm)+len(m.Args.Raw)+len(m.Kwargs.Raw)+len(m.URI)), kind, from, session, realm, m)
}

// appendData appends a data message to b: its header, and m as a frame.
func appendData(b []byte, kind byte, from uint64, session wamp.ID, realm wamp.URI, m *wamp.Message) ([]byte, error) {
	ser := payloadSer(m.Args, m.Kwargs)
	b = appendHeader(b, kind, from, session, realm, byte(ser))
	b, err := codec.For(ser).Encode(b, m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode %v: %w", m.Type, err)
	}
	return b, nil
}

// appendHeader appends a data message's header.
func appendHeader(b []byte, kind byte, from uint64, session wamp.ID, realm wamp.URI, ser byte) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.AppendUvarint(b, uint64(session))
	b = binary.AppendUvarint(b, uint64(len(realm)))
	b = append(b, realm...)
	return append(b, ser)
}

// decodeData parses a data message holding a frame into h and m; m's
// payload borrows b.
func decodeData(b []byte, h *dataHeader, m *wamp.Message) error {
	body, err := decodeHeader(b, h)
	if err != nil {
		return err
	}
	c := codec.For(h.ser)
	if c == nil {
		return fmt.Errorf("cluster: unknown serializer %d", h.ser)
	}
	return c.Decode(body, m)
}

// decodeHeader parses a data message's header into h and returns what
// follows it.
func decodeHeader(b []byte, h *dataHeader) ([]byte, error) {
	if len(b) < 9 {
		return nil, errShort
	}
	h.kind = b[0]
	h.from = binary.BigEndian.Uint64(b[1:9])
	b = b[9:]
	s, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errShort
	}
	h.session = wamp.ID(s)
	realm, b, err := readBytes(b[n:])
	// The realm is followed by at least the serializer byte.
	if err != nil || len(b) == 0 {
		return nil, errShort
	}
	h.realm = realm
	h.ser = wamp.Serialization(b[0])
	return b[1:], nil
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
