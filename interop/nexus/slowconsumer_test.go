package nexus_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
)

// smallRecvBuf shrinks a dialed socket's receive buffer before it connects,
// so that a peer that never reads fills the path from the router quickly.
func smallRecvBuf(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = setRecvBuf(fd, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}

// TestSlowConsumer: with small outbound queues and the disconnect policy, a
// subscriber that never reads is disconnected, while the publisher's
// acknowledged publications all return and a subscriber that reads gets
// every event in order. The publisher keeps publishing until the slow
// session is gone (or a generous cap is reached, which fails the test).
//
// The publisher stays at most window events ahead of what the reading
// subscriber has received, so that subscriber's queue never holds more
// than window < Queue.Messages events, however the goroutines are
// scheduled: without that, a loaded machine can leave its writer unrun for
// long enough to queue 16 events, and the disconnect policy would rightly
// drop it too.
func TestSlowConsumer(t *testing.T) {
	for _, kind := range []string{kindWS, kindTCP} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Limits.Queue = config.Queue{
				Messages:        16,
				Bytes:           4 << 20,
				SlowConsumer:    config.SlowConsumerDisconnect,
				DisconnectAfter: time.Second,
			}
			r := startRouter(t, cfg)
			realm := r.Realm("realm1")
			topic := uniq(t, "firehose")

			slow, err := tryDialRaw(t, urlOf(t, r, kind), serJSON, smallRecvBuf)
			if err != nil {
				t.Fatalf("slow subscriber: %v", err)
			}
			slow.join()
			slow.subscribe(topic)

			pub := connect(t, urlOf(t, r, kindTCP), serMsgpack)
			fast := connect(t, urlOf(t, r, kindWS), serCBOR)
			events := eventChan(t, fast, topic, nil)
			if n := realm.Stats().Sessions; n != 3 {
				t.Fatalf("%d sessions, want 3", n)
			}

			const (
				window    = 4
				maxEvents = 2000
				size      = 32 << 10
			)
			pad := strings.Repeat("z", size)
			published, received := 0, 0
			// take receives the fast subscriber's next event and checks
			// that none was lost or reordered.
			take := func() {
				t.Helper()
				ev := receive(t, events, fmt.Sprintf("event %d of %d", received, published))
				if n, ok := wamp.AsInt64(ev.Arguments[0]); !ok || n != int64(received) {
					t.Fatalf("fast subscriber got event %v at position %d: lost or reordered", ev.Arguments[0], received)
				}
				received++
			}
			publish := func() {
				t.Helper()
				done := make(chan error, 1)
				go func() {
					done <- pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{published, pad}, nil)
				}()
				if err := receive(t, done, fmt.Sprintf("PUBLISHED for event %d", published)); err != nil {
					t.Fatalf("publish %d: %v", published, err)
				}
				published++
				for published-received > window {
					take()
				}
			}
			for realm.Stats().Sessions == 3 {
				if published == maxEvents {
					t.Fatalf("slow subscriber still connected after %d events of %d bytes", maxEvents, size)
				}
				publish()
			}
			// The slow session went; the other two remain.
			testutil.CheckFor(t, bound, func() error {
				if n := realm.Stats().Sessions; n != 2 {
					return fmt.Errorf("%d sessions, want 2", n)
				}
				return nil
			})
			if fast.Connected() == false {
				t.Fatalf("the reading subscriber was disconnected")
			}
			// A few more, to show the publisher and the reading subscriber
			// are unaffected by the disconnect.
			for range 10 {
				publish()
			}
			for received < published {
				take()
			}
			// What the slow subscriber finally reads: some events in order,
			// fewer than were published, then the end of the connection.
			got := 0
			for {
				b, err := slow.readFrame()
				if err != nil {
					if !isConnEnd(err) && !isWSClose(err) {
						t.Fatalf("slow subscriber after %d events: %v, want the connection closed", got, err)
					}
					break
				}
				m, err := slow.ser.codec.Deserialize(b)
				if err != nil {
					t.Fatalf("slow subscriber frame %d: %v", got, err)
				}
				ev, ok := m.(*wamp.Event)
				if !ok {
					// An ABORT or GOODBYE naming the reason is fine too.
					continue
				}
				if n, ok := wamp.AsInt64(ev.Arguments[0]); !ok || n != int64(got) {
					t.Fatalf("slow subscriber got event %v at position %d", ev.Arguments[0], got)
				}
				got++
			}
			if got >= published {
				t.Fatalf("slow subscriber got all %d events: it was never slow", got)
			}
			t.Logf("published %d events of %d bytes; the slow subscriber got %d before it was disconnected", published, size, got)
		})
	}
}
