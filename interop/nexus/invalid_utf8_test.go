package nexus_test

import (
	"testing"

	"github.com/gammazero/nexus/v3/wamp"
)

// TestInvalidUTF8Payload: a MsgPack or CBOR publisher over RawSocket whose
// payload holds a string that is not UTF-8 (as a buggy client library
// writes it) gets ERROR wamp.error.invalid_argument for its acknowledged
// PUBLISH, and neither a JSON nor a MsgPack subscriber gets the event: no
// publication reaches some subscribers and not others. The publisher's
// session goes on, and its next, valid publication reaches both.
func TestInvalidUTF8Payload(t *testing.T) {
	r := startRouter(t, nil)
	for _, pser := range []serializer{serMsgpack, serCBOR} {
		t.Run(pser.name, func(t *testing.T) {
			topic := uniq(t, "topic")
			subs := map[string]<-chan *wamp.Event{
				"json":    eventChan(t, connect(t, urlOf(t, r, kindWS), serJSON), topic, nil),
				"msgpack": eventChan(t, connect(t, urlOf(t, r, kindTCP), serMsgpack), topic, nil),
			}
			pub := dialRaw(t, urlOf(t, r, kindTCP), pser)
			pub.join()

			bad := pub.nextID()
			pub.send(&wamp.Publish{Request: bad, Options: wamp.Dict{"acknowledge": true}, Topic: wamp.URI(topic),
				Arguments: wamp.List{"ok", "caf\xe9"}})
			m := pub.recv()
			if e, ok := m.(*wamp.Error); !ok || e.Request != bad || e.Type != wamp.PUBLISH || e.Error != "wamp.error.invalid_argument" {
				t.Fatalf("PUBLISH with a string that is not UTF-8: got %v %+v, want ERROR wamp.error.invalid_argument", m.MessageType(), m)
			}

			good := pub.nextID()
			pub.send(&wamp.Publish{Request: good, Options: wamp.Dict{"acknowledge": true}, Topic: wamp.URI(topic),
				Arguments: wamp.List{"valid", []byte{0xff, 0xfe}}})
			m = pub.recv()
			if p, ok := m.(*wamp.Published); !ok || p.Request != good {
				t.Fatalf("valid PUBLISH: got %v %+v, want PUBLISHED", m.MessageType(), m)
			}
			// A session's messages keep their order: the first EVENT must
			// be of the valid publication.
			for name, ch := range subs {
				ev := receive(t, ch, name+" EVENT")
				if ev.Publication != m.(*wamp.Published).Publication || len(ev.Arguments) != 2 || ev.Arguments[0] != "valid" {
					t.Fatalf("%s subscriber: first EVENT %+v, want the valid publication %d", name, ev, m.(*wamp.Published).Publication)
				}
			}
		})
	}
}
