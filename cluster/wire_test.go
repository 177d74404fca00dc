package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// overflowRealm is a data message whose realm length is 2^64-1: l+1
// wraps to 0, which once passed the bounds check and panicked at b[:l].
func overflowRealm() []byte {
	b := []byte{kindPub}
	b = binary.BigEndian.AppendUint64(b, 42)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, ^uint64(0))
	return append(b, 1, 2, 3)
}

func TestDecodeDataRejectsHugeRealmLength(t *testing.T) {
	var h dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	if err := decodeData(overflowRealm(), &h, m); err == nil {
		t.Fatal("decodeData accepted a realm length of 2^64-1")
	}
}

func TestDecodeDataRejectsRealmWithoutSerializer(t *testing.T) {
	b := []byte{kindPub}
	b = binary.BigEndian.AppendUint64(b, 42)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...) // no serializer byte after the realm
	var h dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	if err := decodeData(b, &h, m); err == nil {
		t.Fatal("decodeData accepted a message that ends with the realm")
	}
}

// TestHandlerPanicIsDropped checks that a panic in a NATS handler is
// recovered and counted, not fatal to the node.
func TestHandlerPanicIsDropped(t *testing.T) {
	n := New(config.Cluster{Name: "test", Node: "x"}, nil)
	func() {
		defer n.survive("data")
		panic("boom")
	}()
	if got := n.stats.panics.Load(); got != 1 {
		t.Fatalf("HandlerPanics = %d, want 1", got)
	}
}

// FuzzDecodeData: whatever arrives on a data subject, decoding returns
// an error or a header whose realm lies within the message, never a panic.
func FuzzDecodeData(f *testing.F) {
	f.Add(overflowRealm())
	m := wamp.Message{Type: wamp.PUBLISH, Request: 7, URI: "com.topic", Details: wamp.Dict{"p": uint64(3)}}
	if b, err := encodeData(kindPub, 1, 2, "realm1", &m); err == nil {
		f.Add(b)
	}
	for _, pub := range testPubs() {
		if b, err := appendPub(nil, 1, "realm1", &pub, true); err == nil {
			f.Add(b)
			f.Add(append([]byte{kindBatch, byte(len(b))}, b...))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = eachRecord(b, func(b []byte) {
			var h dataHeader
			m := wamp.Acquire()
			defer wamp.Release(m)
			if err := decodeData(b, &h, m); err == nil && len(h.realm) > len(b) {
				t.Fatalf("realm of %d bytes from a message of %d", len(h.realm), len(b))
			}
			body, err := decodeHeader(b, &h)
			if err != nil || h.kind != kindPub {
				return
			}
			var pub broker.Publication
			if err := readPub(&h, body, m, &pub); err == nil && len(pub.Args.Raw)+len(pub.Kwargs.Raw)+len(pub.Topic) > len(b) {
				t.Fatalf("publication of %d bytes from a message of %d", len(pub.Args.Raw)+len(pub.Kwargs.Raw)+len(pub.Topic), len(b))
			}
		})
	})
}

// testPubs are publications of every shape appendPub writes.
func testPubs() []broker.Publication {
	return []broker.Publication{
		{Topic: "com.a", ID: 1, Publisher: 2},
		{Topic: "com.b", ID: 1 << 52, Publisher: 7, Args: wamp.Payload{Raw: []byte(`[1,"x"]`), Ser: wamp.JSON}},
		{Topic: "com.c", ID: 3, Publisher: 8, Args: wamp.Payload{Raw: []byte{0x91, 0x01}, Ser: wamp.MsgPack},
			Kwargs: wamp.Payload{Raw: []byte{0x81, 0xa1, 'k', 0x02}, Ser: wamp.MsgPack}},
		{Topic: "com.d", ID: 4, Publisher: 9, Args: wamp.List("v", 1.5), Kwargs: wamp.KW(map[string]any{"k": "v"})},
		{Topic: "com.e", ID: 5, Publisher: 10, Args: wamp.Payload{Raw: []byte{0x81, 0x01}, Ser: wamp.CBOR},
			Options:   wamp.Dict{"eligible": []any{uint64(10), uint64(11)}, "exclude_authrole": []any{"guest"}},
			ExcludeMe: true, Disclose: true, AuthID: "alice", AuthRole: "user", Trust: wamp.Trust(3),
			Passthru: &wamp.Passthru{Scheme: "x_custom", Serializer: "native"}},
	}
}

// TestPubRoundTrip checks that a forwarded publication reads back as it
// was written, payloads byte for byte in their serializer, exclude_me
// only when kept (retained events).
func TestPubRoundTrip(t *testing.T) {
	for _, keepX := range []bool{false, true} {
		for _, want := range testPubs() {
			b, err := appendPub([]byte("prefix"), 1, "realm1", &want, keepX)
			if err != nil {
				t.Fatal(err)
			}
			var h dataHeader
			body, err := decodeHeader(b[len("prefix"):], &h)
			if err != nil {
				t.Fatal(err)
			}
			if h.kind != kindPub || h.from != 1 || h.session != want.Publisher || string(h.realm) != "realm1" || byte(h.ser) != serPub {
				t.Fatalf("header %+v", h)
			}
			m := wamp.Acquire()
			var got broker.Publication
			if err := readPub(&h, body, m, &got); err != nil {
				t.Fatalf("%s: %v", want.Topic, err)
			}
			wamp.Release(m)
			checkPub(t, &got, &want, keepX)
		}
	}
}

// TestReadPubFrame checks that a publication written as a PUBLISH frame,
// as retained events stored by earlier releases are, still reads.
func TestReadPubFrame(t *testing.T) {
	want := testPubs()[4]
	m := wamp.Message{Type: wamp.PUBLISH, Request: want.ID, URI: want.Topic, Args: want.Args, Details: pubMeta(&want, true)}
	b, err := encodeData(kindPub, 1, want.Publisher, "realm1", &m)
	if err != nil {
		t.Fatal(err)
	}
	var h dataHeader
	body, err := decodeHeader(b, &h)
	if err != nil {
		t.Fatal(err)
	}
	var got broker.Publication
	if err := readPub(&h, body, wamp.Acquire(), &got); err != nil {
		t.Fatal(err)
	}
	checkPub(t, &got, &want, true)
}

func checkPub(t *testing.T, got, want *broker.Publication, keepX bool) {
	t.Helper()
	if got.Topic != want.Topic || got.ID != want.ID || got.Publisher != want.Publisher {
		t.Fatalf("%s: got topic %q id %d publisher %d", want.Topic, got.Topic, got.ID, got.Publisher)
	}
	for i, p := range [][2]wamp.Payload{{got.Args, want.Args}, {got.Kwargs, want.Kwargs}} {
		g, w := p[0], p[1]
		if w.Raw == nil && w.Value != nil {
			// Held decoded: it travels as JSON.
			v, err := codec.For(g.Ser).DecodeValue(g.Raw)
			if err != nil || g.Ser != wamp.JSON || !reflect.DeepEqual(v, w.Value) {
				t.Fatalf("%s: payload %d reads %v (%v, serializer %d), want %v", want.Topic, i, v, err, g.Ser, w.Value)
			}
			continue
		}
		if !bytes.Equal(g.Raw, w.Raw) || g.Ser != w.Ser {
			t.Fatalf("%s: payload %d is %x in %d, want %x in %d", want.Topic, i, g.Raw, g.Ser, w.Raw, w.Ser)
		}
	}
	if got.Disclose != want.Disclose || got.AuthID != want.AuthID || got.AuthRole != want.AuthRole || got.Trust != want.Trust {
		t.Fatalf("%s: disclosure %v %q %q trust %v", want.Topic, got.Disclose, got.AuthID, got.AuthRole, got.Trust)
	}
	if got.ExcludeMe != (keepX && want.ExcludeMe) {
		t.Fatalf("%s: exclude_me %v with keepX %v", want.Topic, got.ExcludeMe, keepX)
	}
	if (got.Passthru == nil) != (want.Passthru == nil) || got.Passthru != nil && *got.Passthru != *want.Passthru {
		t.Fatalf("%s: passthru %+v, want %+v", want.Topic, got.Passthru, want.Passthru)
	}
	if len(got.Options) != len(want.Options) || len(want.Options) > 0 && fmt.Sprint(got.Options) != fmt.Sprint(want.Options) {
		t.Fatalf("%s: options %v, want %v", want.Topic, got.Options, want.Options)
	}
}
