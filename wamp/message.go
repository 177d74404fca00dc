package wamp

import (
	"fmt"
	"sync"
)

// Type is a WAMP message type code.
type Type uint8

// Message type codes of the basic and advanced profiles.
const (
	HELLO        Type = 1
	WELCOME      Type = 2
	ABORT        Type = 3
	CHALLENGE    Type = 4
	AUTHENTICATE Type = 5
	GOODBYE      Type = 6
	ERROR        Type = 8
	PUBLISH      Type = 16
	PUBLISHED    Type = 17
	SUBSCRIBE    Type = 32
	SUBSCRIBED   Type = 33
	UNSUBSCRIBE  Type = 34
	UNSUBSCRIBED Type = 35
	EVENT        Type = 36
	CALL         Type = 48
	CANCEL       Type = 49
	RESULT       Type = 50
	REGISTER     Type = 64
	REGISTERED   Type = 65
	UNREGISTER   Type = 66
	UNREGISTERED Type = 67
	INVOCATION   Type = 68
	INTERRUPT    Type = 69
	YIELD        Type = 70
)

var typeNames = [...]string{
	HELLO: "HELLO", WELCOME: "WELCOME", ABORT: "ABORT", CHALLENGE: "CHALLENGE",
	AUTHENTICATE: "AUTHENTICATE", GOODBYE: "GOODBYE", ERROR: "ERROR",
	PUBLISH: "PUBLISH", PUBLISHED: "PUBLISHED", SUBSCRIBE: "SUBSCRIBE",
	SUBSCRIBED: "SUBSCRIBED", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBSCRIBED: "UNSUBSCRIBED",
	EVENT: "EVENT", CALL: "CALL", CANCEL: "CANCEL", RESULT: "RESULT",
	REGISTER: "REGISTER", REGISTERED: "REGISTERED", UNREGISTER: "UNREGISTER",
	UNREGISTERED: "UNREGISTERED", INVOCATION: "INVOCATION", INTERRUPT: "INTERRUPT",
	YIELD: "YIELD",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Field names one positional element of a message. Layouts lists, for each
// message type, the elements in wire order; codecs walk it so that the field
// layout of the specification is written down once, here.
type Field uint8

// Fields of Message, in the roles the layouts give them.
const (
	FRequest     Field = iota + 1 // Message.Request
	FID                           // Message.ID
	FPublication                  // Message.Publication
	FErrType                      // Message.ErrType
	FDetails                      // Message.Details (Details, Options or Extra)
	FURI                          // Message.URI (Realm, Reason, Topic, Procedure or Error)
	FText                         // Message.Text (AuthMethod or Signature)
)

// Layout is the wire layout of one message type.
type Layout struct {
	Fields []Field
	// Payload reports whether Args and Kwargs may follow the fields.
	Payload bool
	// OptDetails reports whether the last field (Details) may be absent on
	// the wire, as for UNSUBSCRIBED and UNREGISTERED of the basic profile.
	OptDetails bool
}

// Layouts maps each known message type to its layout. A type with a nil
// Fields slice is unknown.
var Layouts = [256]Layout{
	HELLO:        {Fields: []Field{FURI, FDetails}},
	WELCOME:      {Fields: []Field{FID, FDetails}},
	ABORT:        {Fields: []Field{FDetails, FURI}},
	CHALLENGE:    {Fields: []Field{FText, FDetails}},
	AUTHENTICATE: {Fields: []Field{FText, FDetails}},
	GOODBYE:      {Fields: []Field{FDetails, FURI}},
	ERROR:        {Fields: []Field{FErrType, FRequest, FDetails, FURI}, Payload: true},
	PUBLISH:      {Fields: []Field{FRequest, FDetails, FURI}, Payload: true},
	PUBLISHED:    {Fields: []Field{FRequest, FID}},
	SUBSCRIBE:    {Fields: []Field{FRequest, FDetails, FURI}},
	SUBSCRIBED:   {Fields: []Field{FRequest, FID}},
	UNSUBSCRIBE:  {Fields: []Field{FRequest, FID}},
	UNSUBSCRIBED: {Fields: []Field{FRequest, FDetails}, OptDetails: true},
	EVENT:        {Fields: []Field{FID, FPublication, FDetails}, Payload: true},
	CALL:         {Fields: []Field{FRequest, FDetails, FURI}, Payload: true},
	CANCEL:       {Fields: []Field{FRequest, FDetails}},
	RESULT:       {Fields: []Field{FRequest, FDetails}, Payload: true},
	REGISTER:     {Fields: []Field{FRequest, FDetails, FURI}},
	REGISTERED:   {Fields: []Field{FRequest, FID}},
	UNREGISTER:   {Fields: []Field{FRequest, FID}},
	UNREGISTERED: {Fields: []Field{FRequest, FDetails}, OptDetails: true},
	INVOCATION:   {Fields: []Field{FRequest, FID, FDetails}, Payload: true},
	INTERRUPT:    {Fields: []Field{FRequest, FDetails}},
	YIELD:        {Fields: []Field{FRequest, FDetails}, Payload: true},
}

// Known reports whether t is a message type this package can lay out.
func (t Type) Known() bool { return Layouts[t].Fields != nil }

// Message is one WAMP message of any type: a flat union whose fields take the
// roles that Layouts gives them for the message's Type:
//
//	HELLO        URI=Realm Details
//	WELCOME      ID=Session Details
//	ABORT        Details URI=Reason
//	CHALLENGE    Text=AuthMethod Details=Extra
//	AUTHENTICATE Text=Signature Details=Extra
//	GOODBYE      Details URI=Reason
//	ERROR        ErrType Request Details URI=Error Args Kwargs
//	PUBLISH      Request Details=Options URI=Topic Args Kwargs
//	PUBLISHED    Request ID=Publication
//	SUBSCRIBE    Request Details=Options URI=Topic
//	SUBSCRIBED   Request ID=Subscription
//	UNSUBSCRIBE  Request ID=Subscription
//	UNSUBSCRIBED Request [Details]
//	EVENT        ID=Subscription Publication Details Args Kwargs
//	CALL         Request Details=Options URI=Procedure Args Kwargs
//	CANCEL       Request Details=Options
//	RESULT       Request Details Args Kwargs
//	REGISTER     Request Details=Options URI=Procedure
//	REGISTERED   Request ID=Registration
//	UNREGISTER   Request ID=Registration
//	UNREGISTERED Request [Details]
//	INVOCATION   Request ID=Registration Details Args Kwargs
//	INTERRUPT    Request Details=Options
//	YIELD        Request Details=Options Args Kwargs
//
// One flat struct rather than a type per message lets the session reader
// decode every frame into the same reused value without allocating.
type Message struct {
	Type        Type
	ErrType     Type
	Request     ID
	ID          ID
	Publication ID
	URI         URI
	Text        string
	Details     Dict
	Args        Payload
	Kwargs      Payload
}

// Reset clears m for reuse.
func (m *Message) Reset() { *m = Message{} }

// Clone returns a deep enough copy of m to outlive the frame it was decoded
// from: raw payload bytes and strings are copied. Decoded Details values are
// shared; they are never mutated after decoding.
func (m *Message) Clone() *Message {
	c := *m
	c.URI = URI(cloneString(string(m.URI)))
	c.Text = cloneString(m.Text)
	c.Args = m.Args.Clone()
	c.Kwargs = m.Kwargs.Clone()
	return &c
}

func cloneString(s string) string {
	if s == "" {
		return ""
	}
	b := make([]byte, len(s))
	copy(b, s)
	return string(b)
}

func (m *Message) String() string {
	return fmt.Sprintf("%v{req=%d id=%d uri=%q}", m.Type, m.Request, m.ID, m.URI)
}

// Serialization identifies a serializer. The values are the RawSocket
// serializer ids of the specification.
type Serialization uint8

// Serializations the router speaks.
const (
	JSON    Serialization = 1
	MsgPack Serialization = 2
	CBOR    Serialization = 3
)

// Serializations lists every serializer, in the order the router prefers.
var Serializations = []Serialization{JSON, MsgPack, CBOR}

func (s Serialization) String() string {
	switch s {
	case JSON:
		return "json"
	case MsgPack:
		return "msgpack"
	case CBOR:
		return "cbor"
	}
	return fmt.Sprintf("Serialization(%d)", uint8(s))
}

// Subprotocol returns the WebSocket subprotocol name of s.
func (s Serialization) Subprotocol() string { return "wamp.2." + s.String() }

// ParseSerialization maps a config name ("json", "msgpack", "cbor") to a
// Serialization.
func ParseSerialization(name string) (Serialization, bool) {
	for _, s := range Serializations {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// Payload is the Args or Kwargs of a message. Decoders leave it encoded: Raw
// holds the encoded list (Args) or dict (Kwargs) in serializer Ser, borrowed
// from the frame. Only when a peer with another serializer must receive it is
// it decoded, once, into Value ([]any or map[string]any). The router builds
// payloads of its own with Value alone. The zero Payload is absent.
type Payload struct {
	Raw   []byte
	Ser   Serialization
	Value any
}

// IsZero reports whether the payload is absent.
func (p Payload) IsZero() bool { return p.Raw == nil && p.Value == nil }

// Clone copies the raw bytes so that p outlives its frame.
func (p Payload) Clone() Payload {
	if p.Raw != nil {
		p.Raw = append([]byte(nil), p.Raw...)
	}
	return p
}

// List returns a payload holding v as a decoded list.
func List(v ...any) Payload {
	if v == nil {
		v = []any{}
	}
	return Payload{Value: v}
}

// KW returns a payload holding v as a decoded dict.
func KW(v map[string]any) Payload { return Payload{Value: v} }

var msgPool = sync.Pool{New: func() any { return new(Message) }}

// Acquire returns a zeroed Message from a pool. The router builds the
// messages it sends on the hot path (EVENT, INVOCATION, RESULT) in one,
// encodes it at once and gives it back with Release: a Message handed to
// an interface method escapes to the heap, and the pool keeps that from
// costing an allocation per message.
func Acquire() *Message { return msgPool.Get().(*Message) }

// Release zeroes m and returns it to the pool. m must not be used after.
func Release(m *Message) {
	*m = Message{}
	msgPool.Put(m)
}
