package nexus_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// The cross-serializer payload: integers at the edges of every encoding
// (2^53 is the largest a JSON double holds exactly, 2^63-1 the largest
// int64, 2^64-1 the largest msgpack/cbor unsigned), floats that must stay
// floats, and binary at the top level and nested.
var binBytes = []byte{0x00, 0x01, 0x02, 0xfe, 0xff}

// crossPayload is what a nexus client of serializer ser sends. Binary from a
// JSON peer must use the specification's convention (a string of NUL and
// base64), which nexus writes for serialize.BinaryData; a plain []byte would
// be a base64 string without the NUL, that is, a string.
func crossPayload(ser serializer) (wamp.List, wamp.Dict) {
	var bin any = binBytes
	if ser.nexus == client.JSON {
		bin = serialize.BinaryData(binBytes)
	}
	args := wamp.List{
		0, 1, -1,
		int64(1 << 53), int64(math.MaxInt64), uint64(math.MaxUint64), int64(math.MinInt64),
		1.5, float64(1), -0.25,
		"ünïcode ✓", "",
		bin,
		true, false, nil,
		wamp.List{bin, int64(1 << 53)},
		wamp.Dict{"big": uint64(math.MaxUint64), "bin": bin},
	}
	kwargs := wamp.Dict{"bin": bin, "max": uint64(math.MaxUint64), "neg": -5, "f": 2.5}
	return args, kwargs
}

// crossWant is the payload as a nexus client of serializer ser decodes it,
// whatever serializer it was sent in: the router must deliver the same
// values, and each serializer's decoder (ugorji codec) maps them to Go types
// its own way:
//
//	json:    integers >= 0 -> uint64, < 0 -> int64; binary -> the NUL+base64
//	         string (nexus does not convert it back)
//	msgpack: integers up to 2^63-1 -> int64, above -> uint64; binary -> []byte
//	cbor:    integers >= 0 -> uint64, < 0 -> int64; binary -> []byte
func crossWant(ser serializer) (wamp.List, wamp.Dict) {
	var bin any = binBytes
	if ser.nexus == client.JSON {
		bin = "\x00" + base64.StdEncoding.EncodeToString(binBytes)
	}
	nonneg := func(n uint64) any {
		if ser.nexus == client.MSGPACK && n <= math.MaxInt64 {
			return int64(n)
		}
		return n
	}
	args := wamp.List{
		nonneg(0), nonneg(1), int64(-1),
		nonneg(1 << 53), nonneg(math.MaxInt64), uint64(math.MaxUint64), int64(math.MinInt64),
		1.5, float64(1), -0.25,
		"ünïcode ✓", "",
		bin,
		true, false, nil,
		[]any{bin, nonneg(1 << 53)},
		map[string]any{"big": uint64(math.MaxUint64), "bin": bin},
	}
	kwargs := wamp.Dict{"bin": bin, "max": uint64(math.MaxUint64), "neg": int64(-5), "f": 2.5}
	return args, kwargs
}

// diffPayload describes how got differs from want, element by element with
// Go types, or returns "".
func diffPayload(gotArgs, wantArgs wamp.List, gotKw, wantKw wamp.Dict) string {
	var out string
	if len(gotArgs) != len(wantArgs) {
		out += fmt.Sprintf("\n  %d args, want %d: %#v", len(gotArgs), len(wantArgs), gotArgs)
	} else {
		for i := range wantArgs {
			if !reflect.DeepEqual(gotArgs[i], wantArgs[i]) {
				out += fmt.Sprintf("\n  arg %d = %T %#v, want %T %#v", i, gotArgs[i], gotArgs[i], wantArgs[i], wantArgs[i])
			}
		}
	}
	for k := range wantKw {
		if !reflect.DeepEqual(gotKw[k], wantKw[k]) {
			out += fmt.Sprintf("\n  kwarg %q = %T %#v, want %T %#v", k, gotKw[k], gotKw[k], wantKw[k], wantKw[k])
		}
	}
	if len(gotKw) != len(wantKw) {
		out += fmt.Sprintf("\n  %d kwargs, want %d: %#v", len(gotKw), len(wantKw), gotKw)
	}
	return out
}

// TestCrossSerializerPubSub: a publisher of each serializer, subscribers of
// every serializer on different transports; each subscriber gets the
// payload as its serializer decodes it, whoever published it.
func TestCrossSerializerPubSub(t *testing.T) {
	r := startRouter(t, nil)
	topic := uniq(t, "topic")
	subKinds := map[string]string{"json": kindWS, "msgpack": kindTCP, "cbor": kindUnix}
	subs := make(map[string]<-chan *wamp.Event)
	for _, ser := range serializers {
		c := connect(t, urlOf(t, r, subKinds[ser.name]), ser)
		subs[ser.name] = eventChan(t, c, topic, nil)
	}
	for _, pser := range serializers {
		t.Run("from_"+pser.name, func(t *testing.T) {
			pub := connect(t, urlOf(t, r, kindWS), pser)
			args, kwargs := crossPayload(pser)
			if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, args, kwargs); err != nil {
				t.Fatalf("publish: %v", err)
			}
			for _, sser := range serializers {
				ev := receive(t, subs[sser.name], sser.name+" EVENT")
				wantArgs, wantKw := crossWant(sser)
				if d := diffPayload(ev.Arguments, wantArgs, ev.ArgumentsKw, wantKw); d != "" {
					t.Errorf("%s -> %s:%s", pser.name, sser.name, d)
				}
			}
		})
	}
}

// TestCrossSerializerRPC: every caller x callee serializer pair. The callee
// checks the INVOCATION payload and returns what it decoded; the caller
// checks the RESULT, which has crossed serializers twice, and an ERROR's
// payload likewise.
func TestCrossSerializerRPC(t *testing.T) {
	r := startRouter(t, nil)
	for _, cser := range serializers {
		for _, eser := range serializers {
			t.Run(cser.name+"_calls_"+eser.name, func(t *testing.T) {
				proc, failing := uniq(t, "echo"), uniq(t, "fail")
				callee := connect(t, urlOf(t, r, kindTCP), eser)
				caller := connect(t, urlOf(t, r, kindWS), cser)
				invs := make(chan *wamp.Invocation, 1)
				echo := func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
					invs <- inv
					return client.InvokeResult{Args: inv.Arguments, Kwargs: inv.ArgumentsKw}
				}
				if err := callee.Register(proc, echo, nil); err != nil {
					t.Fatalf("register: %v", err)
				}
				fail := func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
					return client.InvokeResult{Err: "com.example.error.payload", Args: inv.Arguments, Kwargs: inv.ArgumentsKw}
				}
				if err := callee.Register(failing, fail, nil); err != nil {
					t.Fatalf("register: %v", err)
				}

				args, kwargs := crossPayload(cser)
				res, err := call(t, caller, proc, args, kwargs)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				inv := receive(t, invs, "INVOCATION")
				wantArgs, wantKw := crossWant(eser)
				if d := diffPayload(inv.Arguments, wantArgs, inv.ArgumentsKw, wantKw); d != "" {
					t.Errorf("INVOCATION %s -> %s:%s", cser.name, eser.name, d)
				}
				wantArgs, wantKw = crossWant(cser)
				if d := diffPayload(res.Arguments, wantArgs, res.ArgumentsKw, wantKw); d != "" {
					t.Errorf("RESULT %s -> %s -> %s:%s", cser.name, eser.name, cser.name, d)
				}

				_, err = call(t, caller, failing, args, kwargs)
				rpcErr := wantRPCError(t, err, "com.example.error.payload")
				if d := diffPayload(rpcErr.Err.Arguments, wantArgs, rpcErr.Err.ArgumentsKw, wantKw); d != "" {
					t.Errorf("ERROR %s -> %s -> %s:%s", cser.name, eser.name, cser.name, d)
				}
			})
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
