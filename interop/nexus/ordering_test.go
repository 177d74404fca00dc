package nexus_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// TestPubSubOrdering: events of one publisher reach a subscriber in the
// order published, across topics (the specification's ordering guarantee),
// here with publications that are not acknowledged and a subscriber of
// another serializer on another transport.
func TestPubSubOrdering(t *testing.T) {
	r := startRouter(t, nil)
	t1, t2 := uniq(t, "one"), uniq(t, "two")
	sub := connect(t, urlOf(t, r, kindUnix), serMsgpack)
	pub := connect(t, urlOf(t, r, kindWS), serJSON)
	ch := make(chan int64, 4096)
	handler := func(want string) client.EventHandler {
		return func(ev *wamp.Event) {
			n, _ := wamp.AsInt64(ev.Arguments[0])
			if ev.Arguments[1] != want {
				n = -1
			}
			ch <- n
		}
	}
	if err := sub.Subscribe(t1, handler("one"), nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := sub.Subscribe(t2, handler("two"), nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	const n = 500
	for i := range n {
		topic, name := t1, "one"
		if i%3 == 2 {
			topic, name = t2, "two"
		}
		if err := pub.Publish(topic, nil, wamp.List{i, name}, nil); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range n {
		if got := receive(t, ch, fmt.Sprintf("event %d", i)); got != int64(i) {
			t.Fatalf("event %d arrived as number %d: reordered, lost or on the wrong topic", i, got)
		}
	}
}

// TestRPCOrdering: invocations reach a callee in the order its caller made
// the calls, across procedures. The raw callee reads INVOCATIONs without
// answering, so nothing but the router decides their order.
func TestRPCOrdering(t *testing.T) {
	r := startRouter(t, nil)
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			callee := dialRaw(t, urlOf(t, r, kind), serCBOR)
			callee.join()
			procs := []string{uniq(t, "a"), uniq(t, "b")}
			regs := make(map[wamp.ID]string)
			for _, p := range procs {
				req := callee.nextID()
				callee.send(&wamp.Register{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(p)})
				m, ok := callee.recv().(*wamp.Registered)
				if !ok || m.Request != req {
					t.Fatalf("got %+v, want REGISTERED", m)
				}
				regs[m.Registration] = p
			}
			caller := dialRaw(t, urlOf(t, r, kindWS), serJSON)
			caller.join()
			const n = 200
			for i := range n {
				caller.send(&wamp.Call{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Procedure: wamp.URI(procs[i%2]), Arguments: wamp.List{i}})
			}
			for i := range n {
				m := callee.recv()
				inv, ok := m.(*wamp.Invocation)
				if !ok {
					t.Fatalf("got %v %+v, want INVOCATION %d", m.MessageType(), m, i)
				}
				if k, _ := wamp.AsInt64(inv.Arguments[0]); k != int64(i) || regs[inv.Registration] != procs[i%2] {
					t.Fatalf("invocation %d carries %v for %s: reordered", i, inv.Arguments, regs[inv.Registration])
				}
				callee.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Arguments: wamp.List{i}})
			}
			// Every call gets its own result (in any order).
			seen := make(map[wamp.ID]bool)
			for range n {
				m := caller.recv()
				res, ok := m.(*wamp.Result)
				if !ok {
					t.Fatalf("got %v %+v, want RESULT", m.MessageType(), m)
				}
				if k, _ := wamp.AsInt64(res.Arguments[0]); wamp.ID(k+1) != res.Request || seen[res.Request] {
					t.Fatalf("RESULT %d carries %v", res.Request, res.Arguments)
				}
				seen[res.Request] = true
			}
		})
	}
}

// TestSubscriptionSharing: a session that subscribes twice to a topic gets
// the same subscription id and one event per publication; when one of two
// subscribers of a topic unsubscribes, the other keeps its events.
func TestSubscriptionSharing(t *testing.T) {
	r := startRouter(t, nil)
	topic, marker := uniq(t, "topic"), uniq(t, "marker")
	pub := connect(t, urlOf(t, r, kindWS), serJSON)
	a := dialRaw(t, urlOf(t, r, kindTCP), serJSON)
	a.join()
	b := dialRaw(t, urlOf(t, r, kindUnix), serMsgpack)
	b.join()

	id1 := a.subscribe(topic)
	if id2 := a.subscribe(topic); id2 != id1 {
		t.Fatalf("second SUBSCRIBE to the same topic got id %d, want the existing %d", id2, id1)
	}
	markerID := a.subscribe(marker)
	idB := b.subscribe(topic)

	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"once"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := pub.Publish(marker, wamp.Dict{"acknowledge": true}, wamp.List{"marker"}, nil); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	if ev, ok := a.recv().(*wamp.Event); !ok || ev.Subscription != id1 || !reflect.DeepEqual(ev.Arguments, wamp.List{"once"}) {
		t.Fatalf("got %+v, want the EVENT on subscription %d", ev, id1)
	}
	if ev, ok := a.recv().(*wamp.Event); !ok || ev.Subscription != markerID {
		t.Fatalf("got %+v, want the marker EVENT: the event came twice", ev)
	}
	if ev, ok := b.recv().(*wamp.Event); !ok || ev.Subscription != idB {
		t.Fatalf("b got %+v, want the EVENT on subscription %d", ev, idB)
	}

	req := a.nextID()
	a.send(&wamp.Unsubscribe{Request: req, Subscription: id1})
	if m, ok := a.recv().(*wamp.Unsubscribed); !ok || m.Request != req {
		t.Fatalf("got %+v, want UNSUBSCRIBED", m)
	}
	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"after"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ev, ok := b.recv().(*wamp.Event); !ok || ev.Subscription != idB || !reflect.DeepEqual(ev.Arguments, wamp.List{"after"}) {
		t.Fatalf("b got %+v after a unsubscribed, want the EVENT", ev)
	}
	if err := pub.Publish(marker, wamp.Dict{"acknowledge": true}, wamp.List{"marker"}, nil); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	if ev, ok := a.recv().(*wamp.Event); !ok || ev.Subscription != markerID {
		t.Fatalf("a got %+v after unsubscribing, want only the marker", ev)
	}
}

// TestReRegisterAfterLeave: once the router has answered a callee's GOODBYE
// the session has ended (sessions.md), so its registrations are gone:
// another session may at once register the same procedure. With nexus,
// each round is a callee that registers and closes, then the next one; the
// raw variant has the next callee joined already and sends REGISTER the
// moment the GOODBYE answer arrives.
func TestReRegisterAfterLeave(t *testing.T) {
	r := startRouter(t, nil)
	t.Run("nexus", func(t *testing.T) {
		proc := uniq(t, "proc")
		noop := func(context.Context, *wamp.Invocation) client.InvokeResult { return client.InvokeResult{} }
		for i := range 30 {
			kind, ser := transportKinds[i%3], serializers[(i/3)%3]
			c, err := dial(urlOf(t, r, kind), ser, "realm1")
			if err != nil {
				t.Fatalf("round %d: connect: %v", i, err)
			}
			if err := c.Register(proc, noop, nil); err != nil {
				_ = c.Close()
				t.Fatalf("round %d (%s %s): register right after the previous callee left: %v", i, kind, ser.name, err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("round %d: close: %v", i, err)
			}
		}
	})
	t.Run("raw", func(t *testing.T) {
		proc := uniq(t, "proc")
		register := func(c *rawClient) wamp.Message {
			req := c.nextID()
			c.send(&wamp.Register{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
			return c.recv()
		}
		old := dialRaw(t, urlOf(t, r, kindUnix), serMsgpack)
		old.join()
		if m, ok := register(old).(*wamp.Registered); !ok {
			t.Fatalf("first register: %+v", m)
		}
		for i := range 300 {
			next := dialRaw(t, urlOf(t, r, transportKinds[i%3]), serMsgpack)
			next.join()
			old.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: "wamp.close.close_realm"})
			if m, ok := old.recv().(*wamp.Goodbye); !ok {
				t.Fatalf("round %d: got %+v, want GOODBYE", i, m)
			}
			if m := register(next); m.MessageType() != wamp.REGISTERED {
				t.Fatalf("round %d: REGISTER right after the previous callee's GOODBYE was answered: got %v %+v", i, m.MessageType(), m)
			}
			old.expectClosed()
			old = next
		}
	})
}
