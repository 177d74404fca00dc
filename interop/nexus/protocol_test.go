package nexus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchboard/switchboard/router"
)

// witness is a set of well-behaved nexus sessions on every transport that
// proves, after each misbehaving peer, that the router still serves the
// others: a call round trip and a pub/sub round trip.
type witness struct {
	caller *client.Client
	pub    *client.Client
	events <-chan *wamp.Event
	proc   string
	topic  string
	n      int
}

func newWitness(t *testing.T, r *router.Router) *witness {
	t.Helper()
	w := &witness{proc: uniq(t, "witness.echo"), topic: uniq(t, "witness.topic")}
	callee := connect(t, urlOf(t, r, kindTCP), serMsgpack)
	err := callee.Register(w.proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil)
	if err != nil {
		t.Fatalf("witness register: %v", err)
	}
	w.caller = connect(t, urlOf(t, r, kindWS), serJSON)
	w.pub = connect(t, urlOf(t, r, kindWS), serCBOR)
	sub := connect(t, urlOf(t, r, kindUnix), serJSON)
	w.events = eventChan(t, sub, w.topic, nil)
	return w
}

// check makes one call and one publication and expects both through.
func (w *witness) check(t *testing.T) {
	t.Helper()
	w.n++
	tag := fmt.Sprintf("check-%d", w.n)
	res, err := call(t, w.caller, w.proc, wamp.List{tag}, nil)
	if err != nil {
		t.Fatalf("witness call: %v", err)
	}
	if !reflect.DeepEqual(res.Arguments, wamp.List{tag}) {
		t.Fatalf("witness call returned %v, want [%s]", res.Arguments, tag)
	}
	if err := w.pub.Publish(w.topic, wamp.Dict{"acknowledge": true}, wamp.List{tag}, nil); err != nil {
		t.Fatalf("witness publish: %v", err)
	}
	if ev := receive(t, w.events, "witness EVENT"); !reflect.DeepEqual(ev.Arguments, wamp.List{tag}) {
		t.Fatalf("witness event %v, want [%s]", ev.Arguments, tag)
	}
}

const (
	protocolViolation = "wamp.error.protocol_violation"
	validHello        = `[1,"realm1",{"roles":{"caller":{},"callee":{},"publisher":{},"subscriber":{}}}]`
)

// violation is one malformed input: frames sent, after HELLO/WELCOME when
// join is set, and the ABORT reason that must answer them.
type violation struct {
	name   string
	join   bool
	frames [][]byte
	reason wamp.URI
}

func frames(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

var jsonViolations = []violation{
	{"subscribe before hello", false, frames(`[32,1,{},"com.example.t"]`), protocolViolation},
	{"publish before hello", false, frames(`[16,1,{},"com.example.t"]`), protocolViolation},
	{"not json before hello", false, frames(`{not json`), protocolViolation},
	{"empty array before hello", false, frames(`[]`), protocolViolation},
	{"hello without roles", false, frames(`[1,"realm1",{}]`), protocolViolation},
	{"hello with empty roles", false, frames(`[1,"realm1",{"roles":{}}]`), protocolViolation},
	{"hello with roles not a dict", false, frames(`[1,"realm1",{"roles":["caller"]}]`), protocolViolation},
	{"hello without details", false, frames(`[1,"realm1"]`), protocolViolation},
	{"hello with realm not a string", false, frames(`[1,7,{"roles":{"caller":{}}}]`), protocolViolation},
	{"hello to unknown realm", false, frames(`[1,"com.example.nowhere",{"roles":{"caller":{}}}]`), "wamp.error.no_such_realm"},
	{"hello with invalid realm uri", false, frames(`[1,"bad realm",{"roles":{"caller":{}}}]`), "wamp.error.invalid_uri"},
	{"not json", true, frames(`[16,1,{`), protocolViolation},
	{"not an array", true, frames(`{"type":16}`), protocolViolation},
	{"a string", true, frames(`"hello"`), protocolViolation},
	{"empty array", true, frames(`[]`), protocolViolation},
	{"unknown message type", true, frames(`[99,1]`), protocolViolation},
	{"message type zero", true, frames(`[0]`), protocolViolation},
	{"message type not an integer", true, frames(`["16",1,{},"com.example.t"]`), protocolViolation},
	{"subscribe with string request id", true, frames(`[32,"x",{},"topic"]`), protocolViolation},
	{"publish with list options", true, frames(`[16,1,[],"t"]`), protocolViolation},
	{"subscribe with integer topic", true, frames(`[32,1,{},42]`), protocolViolation},
	{"subscribe without topic", true, frames(`[32,1,{}]`), protocolViolation},
	{"request id above 2^53", true, frames(`[32,9007199254740993,{},"com.example.t"]`), protocolViolation},
	{"negative request id", true, frames(`[32,-1,{},"com.example.t"]`), protocolViolation},
	{"publish args not a list", true, frames(`[16,1,{},"com.example.t",{"a":1}]`), protocolViolation},
	{"publish kwargs not a dict", true, frames(`[16,1,{},"com.example.t",[],[1]]`), protocolViolation},
	{"second hello", true, frames(validHello), protocolViolation},
	{"yield for unknown request", true, frames(`[70,12345,{}]`), protocolViolation},
	{"error for unknown invocation", true, frames(`[8,68,12345,{},"com.example.error.x"]`), protocolViolation},
	{"event from a client", true, frames(`[36,1,2,{}]`), protocolViolation},
	{"result from a client", true, frames(`[50,1,{}]`), protocolViolation},
	{"welcome from a client", true, frames(`[2,1,{}]`), protocolViolation},
	{"invocation from a client", true, frames(`[68,1,1,{}]`), protocolViolation},
	{"good message then a bad one", true, frames(`[32,1,{},"com.example.t"]`, `[99]`), protocolViolation},
}

// TestProtocolViolations sends each malformed input over WebSocket and
// RawSocket (TCP and Unix) with JSON: the router answers with ABORT of the
// exact reason and closes the connection, and the witness sessions on the
// same router keep working.
func TestProtocolViolations(t *testing.T) {
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := startRouter(t, nil)
			w := newWitness(t, r)
			url := urlOf(t, r, kind)
			for _, v := range jsonViolations {
				t.Run(v.name, func(t *testing.T) {
					runViolation(t, url, serJSON, v)
					w.check(t)
				})
			}
		})
	}
}

func runViolation(t *testing.T, url string, ser serializer, v violation) {
	c := dialRaw(t, url, ser)
	if v.join {
		c.join()
	}
	for i, f := range v.frames {
		c.writeFrame(f)
		if i < len(v.frames)-1 {
			// A valid message before the bad one gets its normal answer.
			if m := c.recv(); m.MessageType() == wamp.ABORT {
				t.Fatalf("ABORT %+v after the valid frame %q", m, f)
			}
		}
	}
	c.expectAbort(v.reason)
}

// TestCodecViolations sends malformed MessagePack and CBOR frames over
// RawSocket: the decoders must reject them with a protocol violation, not
// crash or hang.
func TestCodecViolations(t *testing.T) {
	r := startRouter(t, nil)
	w := newWitness(t, r)
	url := urlOf(t, r, kindTCP)
	bin := func(b ...byte) [][]byte { return [][]byte{b} }
	for _, tc := range []struct {
		ser serializer
		v   violation
	}{
		{serMsgpack, violation{"never-used byte 0xc1", true, bin(0xc1), protocolViolation}},
		{serMsgpack, violation{"a map", true, bin(0x81, 0xa1, 'a', 0x01), protocolViolation}},
		{serMsgpack, violation{"unknown type [99,1]", true, bin(0x92, 0x63, 0x01), protocolViolation}},
		{serMsgpack, violation{"truncated array", true, bin(0x94, 0x20, 0x01), protocolViolation}},
		{serMsgpack, violation{"string request id", true, bin(0x94, 0x20, 0xa1, 'x', 0x80, 0xa1, 't'), protocolViolation}},
		{serMsgpack, violation{"garbage before hello", false, bin(0xc1), protocolViolation}},
		{serCBOR, violation{"lone break 0xff", true, bin(0xff), protocolViolation}},
		{serCBOR, violation{"a map", true, bin(0xa1, 0x61, 'a', 0x01), protocolViolation}},
		{serCBOR, violation{"unknown type [99,1]", true, bin(0x82, 0x18, 0x63, 0x01), protocolViolation}},
		{serCBOR, violation{"truncated array", true, bin(0x84, 0x18, 0x20, 0x01), protocolViolation}},
		{serCBOR, violation{"string request id", true, bin(0x84, 0x18, 0x20, 0x61, 'x', 0xa0, 0x61, 't'), protocolViolation}},
		{serCBOR, violation{"garbage before hello", false, bin(0xff), protocolViolation}},
	} {
		t.Run(tc.ser.name+"/"+tc.v.name, func(t *testing.T) {
			runViolation(t, url, tc.ser, tc.v)
			w.check(t)
		})
	}
}

// TestSessionRules covers the protocol exchanges that are not violations,
// frame by frame, over every transport.
func TestSessionRules(t *testing.T) {
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := startRouter(t, nil)
			w := newWitness(t, r)
			url := urlOf(t, r, kind)

			t.Run("client goodbye", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				c.writeFrame([]byte(`[6,{},"wamp.close.close_realm"]`))
				m := c.recv()
				if g, ok := m.(*wamp.Goodbye); !ok || g.Reason != "wamp.close.goodbye_and_out" {
					t.Fatalf("got %v %+v, want GOODBYE wamp.close.goodbye_and_out", m.MessageType(), m)
				}
				c.expectClosed()
				w.check(t)
			})

			t.Run("client abort", func(t *testing.T) {
				// A peer's ABORT ends the session without an answer.
				c := dialRaw(t, url, serJSON)
				c.join()
				c.writeFrame([]byte(`[3,{},"com.example.bye"]`))
				c.expectClosed()
				w.check(t)
			})

			t.Run("subscribe to invalid uri", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				c.writeFrame([]byte(`[32,7,{},"com.example..bad"]`))
				m := c.recv()
				if e, ok := m.(*wamp.Error); !ok || e.Type != wamp.SUBSCRIBE || e.Request != 7 || e.Error != "wamp.error.invalid_uri" {
					t.Fatalf("got %v %+v, want ERROR SUBSCRIBE 7 wamp.error.invalid_uri", m.MessageType(), m)
				}
				// The session stays open.
				c.req = 7
				c.subscribe(uniq(t, "fine"))
				w.check(t)
			})

			t.Run("callee disconnects with a pending call", func(t *testing.T) {
				proc := uniq(t, "proc")
				c := dialRaw(t, url, serJSON)
				c.join()
				req := c.nextID()
				c.send(&wamp.Register{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
				if m, ok := c.recv().(*wamp.Registered); !ok || m.Request != req {
					t.Fatalf("got %+v, want REGISTERED", m)
				}
				caller := connect(t, urlOf(t, r, kindWS), serMsgpack)
				errc := make(chan error, 1)
				go func() {
					_, err := caller.Call(context.Background(), proc, nil, wamp.List{"x"}, nil, nil)
					errc <- err
				}()
				if m, ok := c.recv().(*wamp.Invocation); !ok {
					t.Fatalf("got %+v, want INVOCATION", m)
				}
				// Gone without GOODBYE, as a crashed process goes.
				_ = c.nc.Close()
				wantRPCError(t, receive(t, errc, "reply to the pending CALL"), "wamp.error.canceled")
				w.check(t)
			})

			t.Run("late yield after the caller left", func(t *testing.T) {
				// The caller leaves before the callee answers; the late
				// YIELD is no violation and the callee keeps its session.
				proc := uniq(t, "proc")
				c := dialRaw(t, url, serJSON)
				c.join()
				req := c.nextID()
				c.send(&wamp.Register{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
				if m, ok := c.recv().(*wamp.Registered); !ok || m.Request != req {
					t.Fatalf("got %+v, want REGISTERED", m)
				}
				caller := dialRaw(t, url, serMsgpack)
				caller.join()
				caller.send(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
				inv, ok := c.recv().(*wamp.Invocation)
				if !ok {
					t.Fatalf("got %+v, want INVOCATION", inv)
				}
				caller.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: "wamp.close.close_realm"})
				if m, ok := caller.recv().(*wamp.Goodbye); !ok {
					t.Fatalf("got %+v, want GOODBYE", m)
				}
				caller.expectClosed()
				c.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Arguments: wamp.List{"late"}})
				// Still open: a SUBSCRIBE gets its SUBSCRIBED.
				c.subscribe(uniq(t, "after"))
				w.check(t)
			})
		})
	}
}

// TestMaxMessageSize configures a 4096-byte limit: a bigger message closes
// the sender's connection (WebSocket close 1009; RawSocket announces the
// limit in its handshake and simply closes), a message within the limit is
// served, and other sessions carry on. In the other direction the router
// never sends a RawSocket peer more than the peer announced.
func TestMaxMessageSize(t *testing.T) {
	const limit = 4096
	cfg := testConfig(t)
	for i := range cfg.Transports {
		cfg.Transports[i].MaxMessageSize = limit
	}
	r := startRouter(t, cfg)
	w := newWitness(t, r)
	publish := func(req int, size int) []byte {
		// [16,req,{"acknowledge":true},"com.example.big",["xxx..."]] padded to size.
		head := fmt.Sprintf(`[16,%d,{"acknowledge":true},"com.example.big",["`, req)
		tail := `"]]`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			url := urlOf(t, r, kind)
			if kind != kindWS {
				t.Run("handshake announces the limit", func(t *testing.T) {
					nc := rawDialNet(t, url)
					reply := handshake(t, nc, [4]byte{0x7f, 0xf1, 0, 0})
					// 2^(9+3) = 4096.
					if want := [4]byte{0x7f, 0x31, 0, 0}; reply != want {
						t.Fatalf("handshake reply % x, want % x", reply, want)
					}
				})
			}
			t.Run("within the limit", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				c.writeFrame(publish(1, limit))
				if m, ok := c.recv().(*wamp.Published); !ok || m.Request != 1 {
					t.Fatalf("got %+v, want PUBLISHED 1", m)
				}
				w.check(t)
			})
			t.Run("over the limit", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				c.writeFrame(publish(1, limit+1))
				err := c.expectClosed()
				if kind == kindWS {
					var ce wsutil.ClosedError
					if !errors.As(err, &ce) || ce.Code != ws.StatusMessageTooBig {
						t.Fatalf("WebSocket closed with %v, want close code 1009", err)
					}
				}
				w.check(t)
			})
		})
	}

	t.Run("router respects the peer's rawsocket limit", func(t *testing.T) {
		topic := uniq(t, "topic")
		nc := rawDialNet(t, urlOf(t, r, kindTCP))
		// Length exponent 0: the client takes at most 512 bytes.
		if reply := handshake(t, nc, [4]byte{0x7f, 0x01, 0, 0}); reply[0] != 0x7f || reply[1]&0x0f != 1 {
			t.Fatalf("handshake reply % x", reply)
		}
		c := &rawClient{t: t, nc: nc, rd: nc, ser: serJSON}
		c.join()
		subID := c.subscribe(topic)
		pub := connect(t, urlOf(t, r, kindWS), serJSON)
		if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{strings.Repeat("y", 600)}, nil); err != nil {
			t.Fatalf("publish big: %v", err)
		}
		if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"small"}, nil); err != nil {
			t.Fatalf("publish small: %v", err)
		}
		// readFrame has no limit of its own, so a frame over 512 bytes
		// would show up here instead of the small event.
		b, err := c.readFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(b) > 512 {
			t.Fatalf("router sent a %d-byte message to a peer that takes 512", len(b))
		}
		m, err := c.ser.codec.Deserialize(b)
		if ev, ok := m.(*wamp.Event); err != nil || !ok || ev.Subscription != subID || !reflect.DeepEqual(ev.Arguments, wamp.List{"small"}) {
			t.Fatalf("got %+v (%v), want the small EVENT", m, err)
		}
		w.check(t)
	})
}

// rawDialNet opens a plain connection to a tcp:// or unix:// URL.
func rawDialNet(t *testing.T, url string) net.Conn {
	t.Helper()
	network, addr := "tcp", strings.TrimPrefix(url, "tcp://")
	if strings.HasPrefix(url, "unix://") {
		network, addr = "unix", strings.TrimPrefix(url, "unix://")
	}
	nc, err := net.DialTimeout(network, addr, bound)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// handshake sends a RawSocket handshake request and returns the reply.
func handshake(t *testing.T, nc net.Conn, req [4]byte) [4]byte {
	t.Helper()
	c := &rawClient{t: t, nc: nc, rd: nc}
	reply, err := c.rawHandshake(req)
	if err != nil {
		t.Fatalf("handshake % x: %v", req, err)
	}
	return reply
}

// TestRawSocketHandshakeErrors: a refused RawSocket handshake gets the error
// reply of the specification, and then the connection ends.
func TestRawSocketHandshakeErrors(t *testing.T) {
	cfg := testConfig(t)
	// A second TCP RawSocket listener that offers JSON only.
	tc := cfg.Transports[1]
	tc.Listen = "127.0.0.1:0"
	tc.Serializers = tc.Serializers[:1]
	cfg.Transports = append(cfg.Transports, tc)
	r := startRouter(t, cfg)
	w := newWitness(t, r)
	var jsonOnly string
	for _, l := range r.Listeners()[1:] {
		if strings.HasPrefix(l.URL, "tcp://") && l.URL != urlOf(t, r, kindTCP) {
			jsonOnly = l.URL
		}
	}
	if jsonOnly == "" {
		t.Fatalf("no JSON-only listener in %+v", r.Listeners())
	}
	for _, tc := range []struct {
		name  string
		url   string
		req   [4]byte
		reply []byte // nil: no reply, just the end of the connection
	}{
		{"serializer 0 (illegal)", urlOf(t, r, kindTCP), [4]byte{0x7f, 0xf0, 0, 0}, []byte{0x7f, 0x10, 0, 0}},
		{"serializer 4 (ubjson)", urlOf(t, r, kindTCP), [4]byte{0x7f, 0xf4, 0, 0}, []byte{0x7f, 0x10, 0, 0}},
		{"serializer 15", urlOf(t, r, kindUnix), [4]byte{0x7f, 0xff, 0, 0}, []byte{0x7f, 0x10, 0, 0}},
		{"serializer not offered here", jsonOnly, [4]byte{0x7f, 0xf2, 0, 0}, []byte{0x7f, 0x10, 0, 0}},
		{"reserved octets set", urlOf(t, r, kindTCP), [4]byte{0x7f, 0xf1, 0, 1}, []byte{0x7f, 0x30, 0, 0}},
		{"not rawsocket at all", urlOf(t, r, kindTCP), [4]byte{'G', 'E', 'T', ' '}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawDialNet(t, tc.url)
			c := &rawClient{t: t, nc: nc, rd: nc, ser: serJSON}
			reply, err := c.rawHandshake(tc.req)
			if tc.reply == nil {
				if err == nil || !isConnEnd(err) {
					t.Fatalf("got reply % x (%v), want the connection closed without one", reply, err)
				}
			} else {
				if err != nil {
					t.Fatalf("reading the reply: %v", err)
				}
				if !reflect.DeepEqual(reply[:], tc.reply) {
					t.Fatalf("reply % x, want % x", reply, tc.reply)
				}
				c.expectClosed()
			}
			w.check(t)
		})
	}
	t.Run("json-only listener serves json", func(t *testing.T) {
		c := dialRaw(t, jsonOnly, serJSON)
		c.join()
	})
}

// TestWebSocketSubprotocol: an upgrade that offers no WAMP subprotocol the
// router speaks is refused with 400 rather than upgraded.
func TestWebSocketSubprotocol(t *testing.T) {
	r := startRouter(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	nc, _, _, err := ws.Dialer{Protocols: []string{"wamp.2.ubjson"}}.Dial(ctx, urlOf(t, r, kindWS))
	if err == nil {
		_ = nc.Close()
		t.Fatalf("upgraded without a common subprotocol")
	}
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 400 {
		t.Fatalf("dial: %v, want HTTP 400", err)
	}
}
