package cluster

import (
	"encoding/binary"
	"testing"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/wamp"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		var h dataHeader
		m := wamp.Acquire()
		defer wamp.Release(m)
		if err := decodeData(b, &h, m); err == nil && len(h.realm) > len(b) {
			t.Fatalf("realm of %d bytes from a message of %d", len(h.realm), len(b))
		}
	})
}
