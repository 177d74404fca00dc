package stub

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start runs a stub on WebSocket and RawSocket and returns their URLs.
func start(t *testing.T) (*Server, []string) {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	ws, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.ServeWebSocket(ws) }()
	go func() { _ = s.ServeRawSocket(raw) }()
	return s, []string{"ws://" + ws.Addr().String() + "/ws", "tcp://" + raw.Addr().String()}
}

func dial(t *testing.T, url string, ser wamp.Serialization) *client.Conn {
	t.Helper()
	c, err := client.Dial(url, client.Options{Serialization: ser})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Join("realm1"); err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 {
		t.Fatal("WELCOME without a session id")
	}
	return c
}

func recv(t *testing.T, c *client.Conn, want wamp.Type) *wamp.Message {
	t.Helper()
	m := new(wamp.Message)
	if err := c.Recv(m); err != nil {
		t.Fatalf("waiting for %v: %v", want, err)
	}
	if m.Type != want {
		t.Fatalf("got %v, want %v", m, want)
	}
	return m.Clone()
}

// TestPubSub: events reach subscribers of other serializers with the
// payload converted, the publisher only when it asks, and acknowledgements
// come back.
func TestPubSub(t *testing.T) {
	_, urls := start(t)
	for _, url := range urls {
		pub := dial(t, url, wamp.JSON)
		sub := dial(t, url, wamp.CBOR)
		subID, err := sub.Subscribe("t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.Subscribe("t"); err != nil {
			t.Fatal(err)
		}
		args := wamp.Payload{Raw: []byte(`[1,"x"]`), Ser: wamp.JSON}
		if err := pub.Send(&wamp.Message{Type: wamp.PUBLISH, Request: 7, URI: "t", Args: args,
			Details: wamp.Dict{"acknowledge": true}}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, pub, wamp.PUBLISHED); m.Request != 7 || m.ID == 0 {
			t.Errorf("PUBLISHED %+v: want request 7 and a publication id", m)
		}
		ev := recv(t, sub, wamp.EVENT)
		if ev.ID != subID {
			t.Errorf("EVENT for subscription %d, want %d", ev.ID, subID)
		}
		if got := string(ev.Args.Raw); got != "\x82\x01\x61x" {
			t.Errorf("EVENT args % x, want the CBOR of [1, \"x\"]", ev.Args.Raw)
		}
		// exclude_me false: the publisher, subscribed too, gets its event.
		if err := pub.Send(&wamp.Message{Type: wamp.PUBLISH, Request: 8, URI: "t",
			Details: wamp.Dict{"exclude_me": false}}); err != nil {
			t.Fatal(err)
		}
		recv(t, pub, wamp.EVENT)
		if err := sub.Send(&wamp.Message{Type: wamp.UNSUBSCRIBE, Request: 9, ID: subID}); err != nil {
			t.Fatal(err)
		}
		recv(t, sub, wamp.EVENT) // the second publication
		if m := recv(t, sub, wamp.UNSUBSCRIBED); m.Request != 9 {
			t.Errorf("UNSUBSCRIBED for request %d, want 9", m.Request)
		}
		if err := sub.Send(&wamp.Message{Type: wamp.UNSUBSCRIBE, Request: 10, ID: subID}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, sub, wamp.ERROR); m.URI != wamp.ErrNoSuchSubscription {
			t.Errorf("second UNSUBSCRIBE: %v, want %s", m.URI, wamp.ErrNoSuchSubscription)
		}
	}
}

// TestRPC: calls reach the callee and results and errors come back, with
// payloads passed through; a second registration and an unknown procedure
// are errors.
func TestRPC(t *testing.T) {
	_, urls := start(t)
	for i, url := range urls {
		proc := fmt.Sprintf("p%d", i)
		callee := dial(t, url, wamp.MsgPack)
		caller := dial(t, url, wamp.MsgPack)
		regID, err := callee.Register(proc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := caller.Register(proc, nil); !errors.Is(err, client.ErrAborted) {
			t.Errorf("second REGISTER of p: %v, want an ERROR", err)
		}
		args := wamp.Payload{Raw: []byte{0x91, 0x05}, Ser: wamp.MsgPack}
		if err := caller.Send(&wamp.Message{Type: wamp.CALL, Request: 3, URI: wamp.URI(proc), Args: args}); err != nil {
			t.Fatal(err)
		}
		inv := recv(t, callee, wamp.INVOCATION)
		if inv.ID != regID || string(inv.Args.Raw) != string(args.Raw) {
			t.Errorf("INVOCATION %+v: want registration %d and args % x", inv, regID, args.Raw)
		}
		if err := callee.Send(&wamp.Message{Type: wamp.YIELD, Request: inv.Request, Args: inv.Args}); err != nil {
			t.Fatal(err)
		}
		if res := recv(t, caller, wamp.RESULT); res.Request != 3 || string(res.Args.Raw) != string(args.Raw) {
			t.Errorf("RESULT %+v: want request 3 and args % x", res, args.Raw)
		}

		if err := caller.Send(&wamp.Message{Type: wamp.CALL, Request: 4, URI: wamp.URI(proc)}); err != nil {
			t.Fatal(err)
		}
		inv = recv(t, callee, wamp.INVOCATION)
		if err := callee.Send(&wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: inv.Request, URI: "app.err"}); err != nil {
			t.Fatal(err)
		}
		if e := recv(t, caller, wamp.ERROR); e.Request != 4 || e.ErrType != wamp.CALL || e.URI != "app.err" {
			t.Errorf("ERROR %+v: want CALL error app.err for request 4", e)
		}

		if err := caller.Send(&wamp.Message{Type: wamp.CALL, Request: 5, URI: "nosuch"}); err != nil {
			t.Fatal(err)
		}
		if e := recv(t, caller, wamp.ERROR); e.URI != wamp.ErrNoSuchProcedure {
			t.Errorf("CALL of an unknown procedure: %v, want %s", e.URI, wamp.ErrNoSuchProcedure)
		}
		if err := callee.Send(&wamp.Message{Type: wamp.UNREGISTER, Request: 6, ID: regID}); err != nil {
			t.Fatal(err)
		}
		recv(t, callee, wamp.UNREGISTERED)
		if _, err := caller.Register(proc, nil); err != nil {
			t.Errorf("REGISTER of p after UNREGISTER: %v", err)
		}
	}
}

// TestGoodbyeAndClose: GOODBYE is answered, and Close ends the sessions
// still open.
func TestGoodbyeAndClose(t *testing.T) {
	s, urls := start(t)
	c := dial(t, urls[0], wamp.JSON)
	if err := c.Leave(); err != nil {
		t.Errorf("Leave: %v", err)
	}
	open := dial(t, urls[1], wamp.JSON)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	var m wamp.Message
	if err := open.Recv(&m); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after the stub closed: %v, want EOF", err)
	}
	// The stub waits for the peer to close its end too.
	_ = open.Close()
	<-closed
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeWebSocket(ln); !errors.Is(err, ErrClosed) {
		t.Errorf("ServeWebSocket after Close: %v, want ErrClosed", err)
	}
}

// TestSharedRegistration: callees that register a procedure with an
// invocation policy share it and take calls in turn; a callee without one
// is refused.
func TestSharedRegistration(t *testing.T) {
	_, urls := start(t)
	opts := wamp.Dict{"invoke": "roundrobin"}
	a, b := dial(t, urls[0], wamp.JSON), dial(t, urls[1], wamp.JSON)
	caller := dial(t, urls[0], wamp.JSON)
	ida, err := a.Register("shared", opts)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := b.Register("shared", opts)
	if err != nil || idb != ida {
		t.Fatalf("second shared REGISTER: id %d, %v; want the same id %d", idb, err, ida)
	}
	if _, err := caller.Register("shared", nil); !errors.Is(err, client.ErrAborted) {
		t.Errorf("REGISTER without invoke of a shared procedure: %v, want an ERROR", err)
	}
	for i := range 4 {
		if err := caller.Send(&wamp.Message{Type: wamp.CALL, Request: wamp.ID(i + 1), URI: "shared"}); err != nil {
			t.Fatal(err)
		}
		callee := []*client.Conn{a, b}[i%2]
		inv := recv(t, callee, wamp.INVOCATION)
		if err := callee.Send(&wamp.Message{Type: wamp.YIELD, Request: inv.Request}); err != nil {
			t.Fatal(err)
		}
		if res := recv(t, caller, wamp.RESULT); res.Request != wamp.ID(i+1) {
			t.Errorf("RESULT for request %d, want %d", res.Request, i+1)
		}
	}
}
