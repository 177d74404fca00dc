package realm_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// badText is a string that is not UTF-8. The MsgPack and CBOR encoders
// write it as a str / text string as they are given it, as a buggy client
// library would; JSON has no way to carry it.
const badText = "caf\xe9"

// TestInvalidPayloadRefused: a MsgPack or CBOR publisher whose payload holds
// text that is not UTF-8 gets ERROR wamp.error.invalid_argument for an
// acknowledged PUBLISH (and nothing otherwise), no subscriber of any
// serializer gets the event, and the session goes on: its next, valid
// publication reaches everyone. Binary (MsgPack bin, CBOR byte string)
// stays allowed. A CALL with such a payload gets the same ERROR, and a
// YIELD with one ends the call with it. Options that JSON cannot carry get
// the same answer.
func TestInvalidPayloadRefused(t *testing.T) {
	for _, ser := range []wamp.Serialization{wamp.MsgPack, wamp.CBOR} {
		t.Run(ser.String(), func(t *testing.T) {
			r := newRealm(t, realm.Config{Name: "realm1"})
			subs := map[wamp.Serialization]*peer{}
			for _, s := range wamp.Serializations {
				subs[s] = join(t, r, s)
				subs[s].subscribe("com.p")
			}
			pub := join(t, r, ser)

			for _, p := range []wamp.Payload{
				wamp.List("ok", badText),
				wamp.List(map[string]any{"nested": []any{badText}}),
				wamp.List(badText + "ok"),
			} {
				m := pub.request(&wamp.Message{Type: wamp.PUBLISH, Details: wamp.Dict{"acknowledge": true}, URI: "com.p", Args: p})
				if m.Type != wamp.ERROR || m.ErrType != wamp.PUBLISH || m.URI != wamp.ErrInvalidArgument {
					t.Fatalf("PUBLISH %v: got %v %v %q, want ERROR for PUBLISH %s", p.Value, m, m.ErrType, m.URI, wamp.ErrInvalidArgument)
				}
			}
			// Options are checked alike: NaN has no JSON form.
			for _, typ := range []wamp.Type{wamp.PUBLISH, wamp.SUBSCRIBE, wamp.REGISTER, wamp.CALL, wamp.CANCEL} {
				m := pub.request(&wamp.Message{Type: typ, Details: wamp.Dict{"acknowledge": true, "x_nan": math.NaN()}, URI: "com.p"})
				if m.Type != wamp.ERROR || m.ErrType != typ || m.URI != wamp.ErrInvalidArgument {
					t.Fatalf("%v with NaN in its options: got %v %v %q, want ERROR %s", typ, m, m.ErrType, m.URI, wamp.ErrInvalidArgument)
				}
			}
			kw := wamp.KW(map[string]any{"k": badText})
			if err := pub.sendErr(&wamp.Message{Type: wamp.PUBLISH, Request: 100, Details: wamp.Dict{}, URI: "com.p", Kwargs: kw}); err != nil {
				t.Fatal(err)
			}

			// Messages to one session keep their order, so the first EVENT
			// each subscriber gets must be the valid publication.
			bin := []byte{0xff, 0x00, 0xfe}
			m := pub.request(&wamp.Message{Type: wamp.PUBLISH, Details: wamp.Dict{"acknowledge": true}, URI: "com.p", Args: wamp.List("ok", bin)})
			if m.Type != wamp.PUBLISHED {
				t.Fatalf("valid PUBLISH: got %v %q", m, m.URI)
			}
			for s, sub := range subs {
				ev := sub.event()
				if ev.Publication != m.ID {
					t.Fatalf("%v subscriber: first EVENT is of publication %d, want %d (the valid one)", s, ev.Publication, m.ID)
				}
				args := decodeArgs(t, ev)
				if len(args) != 2 || args[0] != "ok" || !bytes.Equal(asBytes(args[1]), bin) {
					t.Fatalf("%v subscriber: EVENT args %#v, want [ok %x]", s, args, bin)
				}
			}

			// RPC: a JSON callee and caller, the other side in ser.
			callee := subs[wamp.JSON]
			if m := callee.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "com.proc"}); m.Type != wamp.REGISTERED {
				t.Fatalf("REGISTER: %v %q", m, m.URI)
			}
			m = pub.request(&wamp.Message{Type: wamp.CALL, Details: wamp.Dict{}, URI: "com.proc", Args: wamp.List(badText)})
			if m.Type != wamp.ERROR || m.ErrType != wamp.CALL || m.URI != wamp.ErrInvalidArgument {
				t.Fatalf("CALL: got %v %q, want ERROR %s", m, m.URI, wamp.ErrInvalidArgument)
			}

			badCallee := pub
			if m := badCallee.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "com.bad"}); m.Type != wamp.REGISTERED {
				t.Fatalf("REGISTER: %v %q", m, m.URI)
			}
			caller := subs[wamp.JSON]
			for _, answer := range []wamp.Type{wamp.YIELD, wamp.ERROR} {
				caller.req++
				call := &wamp.Message{Type: wamp.CALL, Request: caller.req, Details: wamp.Dict{}, URI: "com.bad"}
				if err := caller.sendErr(call); err != nil {
					t.Fatal(err)
				}
				inv := badCallee.recv()
				if inv.Type != wamp.INVOCATION {
					t.Fatalf("got %v, want INVOCATION", inv)
				}
				reply := &wamp.Message{Type: answer, Request: inv.Request, Details: wamp.Dict{}, Args: wamp.List(badText)}
				if answer == wamp.ERROR {
					reply.ErrType, reply.URI = wamp.INVOCATION, "com.app.failed"
				}
				if err := badCallee.sendErr(reply); err != nil {
					t.Fatal(err)
				}
				m := caller.recv()
				if m.Type != wamp.ERROR || m.Request != call.Request || m.URI != wamp.ErrInvalidArgument || !m.Args.IsZero() {
					t.Fatalf("%v with a bad payload: caller got %v %q %v, want ERROR %s without payload", answer, m, m.URI, m.Args, wamp.ErrInvalidArgument)
				}
			}
			// The callee's session is still there and still works.
			caller.req++
			if err := caller.sendErr(&wamp.Message{Type: wamp.CALL, Request: caller.req, Details: wamp.Dict{}, URI: "com.bad"}); err != nil {
				t.Fatal(err)
			}
			inv := badCallee.recv()
			if err := badCallee.sendErr(&wamp.Message{Type: wamp.YIELD, Request: inv.Request, Details: wamp.Dict{}, Args: wamp.List("fine")}); err != nil {
				t.Fatal(err)
			}
			if m := caller.recv(); m.Type != wamp.RESULT || m.Request != caller.req {
				t.Fatalf("valid YIELD: caller got %v %q, want RESULT", m, m.URI)
			}
		})
	}
}

func decodeArgs(t *testing.T, m *wamp.Message) []any {
	t.Helper()
	v, err := codec.For(m.Args.Ser).DecodeValue(m.Args.Raw)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := v.([]any)
	return l
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}
