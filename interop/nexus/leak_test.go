package nexus_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestSessionsLeaveNoGoroutines opens 50 nexus sessions over all transports
// and serializers, has them subscribe and receive an event, closes them,
// and adds peers that vanish without GOODBYE (joined, and before HELLO).
// Afterwards the router must be back at its baseline of goroutines, while
// it still runs.
func TestSessionsLeaveNoGoroutines(t *testing.T) {
	r := startRouter(t, nil)
	realm := r.Realm("realm1")
	topic := uniq(t, "topic")
	sessions := func(want int) func() error {
		return func() error {
			if n := realm.Stats().Sessions; n != want {
				return fmt.Errorf("%d sessions, want %d", n, want)
			}
			return nil
		}
	}

	// One session first, so that goroutines started once per process
	// (by the runtime or a library) belong to the baseline.
	for _, kind := range transportKinds {
		c, err := dial(urlOf(t, r, kind), serJSON, "realm1")
		if err != nil {
			t.Fatalf("warm-up: %v", err)
		}
		_ = c.Close()
	}
	testutil.CheckFor(t, bound, sessions(0))
	baseline := runtime.NumGoroutine()
	ignore := goleak.IgnoreCurrent()

	const n = 50
	clients := make([]*client.Client, 0, n)
	ids := make(map[wamp.ID]bool, n)
	evs := make([]<-chan *wamp.Event, 0, n)
	for i := range n {
		kind, ser := transportKinds[i%3], serializers[(i/3)%3]
		c, err := dial(urlOf(t, r, kind), ser, "realm1")
		if err != nil {
			t.Fatalf("session %d (%s %s): %v", i, kind, ser.name, err)
		}
		clients = append(clients, c)
		t.Cleanup(func() { _ = c.Close() })
		if ids[c.ID()] {
			t.Fatalf("session id %d given twice", c.ID())
		}
		ids[c.ID()] = true
		evs = append(evs, eventChan(t, c, topic, nil))
	}
	testutil.CheckFor(t, bound, sessions(n))
	if err := clients[0].Publish(topic, wamp.Dict{"acknowledge": true, "exclude_me": false}, wamp.List{"hi"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for i, ch := range evs {
		receive(t, ch, fmt.Sprintf("event at session %d", i))
	}
	for i, c := range clients {
		if err := c.Close(); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
	}

	// Peers that vanish: joined ones and ones that never sent HELLO.
	for i := range 6 {
		c := dialRaw(t, urlOf(t, r, transportKinds[i%3]), serializers[i%3])
		if i < 3 {
			c.join()
		}
		_ = c.nc.Close()
	}

	testutil.CheckFor(t, bound, sessions(0))
	testutil.CheckFor(t, bound, func() error {
		if g := runtime.NumGoroutine(); g > baseline {
			return fmt.Errorf("%d goroutines, baseline %d", g, baseline)
		}
		return nil
	})
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after the sessions closed: %v", err)
	}
}
