package session

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pipeConn is an in-memory Conn: the test feeds frames to in and reads
// what the writer wrote from batches. gate, when non-nil, holds each
// WriteBatch until the test lets it through, to play a slow peer.
type pipeConn struct {
	in      chan []byte
	batches chan [][]byte
	gate    chan struct{}
	// writeErr, when set, is what WriteBatch returns once the gate lets
	// a batch through (a write that failed on the network).
	writeErr error
	// readErr, when it carries an error (failRead), is what Read returns
	// (the transport failed the connection).
	readErr chan error

	mu        sync.Mutex
	closed    chan struct{}
	closeOnce sync.Once
	code      transport.CloseCode
	reason    string
}

func newPipe() *pipeConn {
	return &pipeConn{in: make(chan []byte, 16), batches: make(chan [][]byte, 1024), closed: make(chan struct{}), readErr: make(chan error, 1)}
}

func (c *pipeConn) Serialization() wamp.Serialization { return wamp.JSON }
func (c *pipeConn) MaxWrite() int                     { return 0 }
func (c *pipeConn) RemoteAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *pipeConn) Transport() string                 { return "pipe" }

func (c *pipeConn) Read() ([]byte, error) {
	select {
	case f := <-c.in:
		return f, nil
	case err := <-c.readErr:
		return nil, err
	case <-c.closed:
		return nil, io.EOF
	}
}

// failRead makes the reader's next Read fail with err.
func (c *pipeConn) failRead(err error) { c.readErr <- err }

func (c *pipeConn) WriteBatch(frames [][]byte) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-c.closed:
			return net.ErrClosed
		}
	}
	c.mu.Lock()
	werr := c.writeErr
	c.mu.Unlock()
	if werr != nil {
		return werr
	}
	cp := make([][]byte, len(frames))
	for i, f := range frames {
		cp[i] = append([]byte(nil), f...)
	}
	select {
	case c.batches <- cp:
		return nil
	case <-c.closed:
		return net.ErrClosed
	}
}

func (c *pipeConn) Close(code transport.CloseCode, reason string) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.code, c.reason = code, reason
		c.mu.Unlock()
		close(c.closed)
	})
	return nil
}

// next returns the next message the session wrote, decoded.
func (c *pipeConn) next(t *testing.T) *wamp.Message {
	t.Helper()
	for {
		select {
		case b := <-c.batches:
			if len(b) == 0 {
				continue
			}
			var m wamp.Message
			if err := codec.For(wamp.JSON).Decode(b[0], &m); err != nil {
				t.Fatalf("session wrote an undecodable frame %q: %v", b[0], err)
			}
			// Put the rest back in front by re-queueing is not possible on
			// a channel; tests read batches of one message.
			if len(b) > 1 {
				t.Fatalf("expected one message per batch here, got %d", len(b))
			}
			return m.Clone()
		case <-time.After(10 * time.Second):
			t.Fatal("no message from the session within 10s")
		}
	}
}

// handler records what the session dispatches.
type handler struct {
	mu   sync.Mutex
	msgs []wamp.Type
	err  error
	left chan struct{}
}

func (h *handler) Join(s *Session, realm wamp.URI, details wamp.Dict) (Handler, wamp.Dict, error) {
	if realm != "realm1" {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchRealm, "no such realm")
	}
	s.SetIdentity(Identity{ID: 42, Realm: realm, AuthRole: "anonymous"})
	return h, wamp.Dict{"roles": map[string]any{"broker": map[string]any{}}}, nil
}

func (h *handler) Handle(s *Session, m *wamp.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m.Type)
	return h.err
}

func (h *handler) Leave(s *Session) { close(h.left) }

const hello = `[1,"realm1",{"roles":{"subscriber":{}}}]`

// start serves a session on a pipe and returns when WELCOME was written.
func start(t *testing.T, cfg Config) (*pipeConn, *handler, chan struct{}) {
	t.Helper()
	c := newPipe()
	h := &handler{left: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		Serve(c, cfg, h)
		close(done)
	}()
	c.in <- []byte(hello)
	if m := c.next(t); m.Type != wamp.WELCOME || m.ID != 42 {
		t.Fatalf("got %v, want WELCOME for session 42", m)
	}
	return c, h, done
}

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen within 10s", what)
	}
}

func TestGoodbyeFromClient(t *testing.T) {
	c, h, done := start(t, Config{})
	c.in <- []byte(`[6,{},"wamp.close.close_realm"]`)
	if m := c.next(t); m.Type != wamp.GOODBYE || m.URI != wamp.ErrGoodbyeAndOut {
		t.Fatalf("got %v, want GOODBYE goodbye_and_out", m)
	}
	wait(t, h.left, "Leave")
	wait(t, done, "Serve returning")
}

func TestRouterGoodbye(t *testing.T) {
	c, s, done := startCapture(t, Config{}, nil)
	s.Goodbye(wamp.ErrSystemShutdown, "bye")
	if m := c.next(t); m.Type != wamp.GOODBYE || m.URI != wamp.ErrSystemShutdown {
		t.Fatalf("got %v, want GOODBYE system_shutdown", m)
	}
	c.in <- []byte(`[6,{},"wamp.close.goodbye_and_out"]`)
	wait(t, done, "Serve returning after the peer's GOODBYE")
	select {
	case b := <-c.batches:
		t.Errorf("session wrote %q after the peer answered GOODBYE", b)
	default:
	}
}

func TestProtocolViolations(t *testing.T) {
	cases := []struct {
		name, frame string
		reason      wamp.URI
	}{
		{"not json", `{{{`, wamp.ErrProtocolViolation},
		{"unknown type", `[99,1]`, wamp.ErrProtocolViolation},
		{"wrong field type", `[32,"x",{},"t"]`, wamp.ErrProtocolViolation},
		{"second hello", hello, wamp.ErrProtocolViolation},
		{"router message", `[36,1,2,{}]`, wamp.ErrProtocolViolation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, h, done := start(t, Config{})
			c.in <- []byte(tc.frame)
			m := c.next(t)
			if m.Type != wamp.ABORT || m.URI != tc.reason {
				t.Fatalf("got %v, want ABORT %s", m, tc.reason)
			}
			wait(t, h.left, "Leave")
			wait(t, done, "Serve returning")
		})
	}
}

func TestHandlerErrorAborts(t *testing.T) {
	c, h, done := start(t, Config{})
	h.mu.Lock()
	h.err = wamp.NewError(wamp.ErrProtocolViolation, "YIELD for unknown request")
	h.mu.Unlock()
	c.in <- []byte(`[70,5,{}]`)
	if m := c.next(t); m.Type != wamp.ABORT || m.URI != wamp.ErrProtocolViolation || wamp.String(m.Details, "message") == "" {
		t.Fatalf("got %v, want ABORT protocol_violation with a message", m)
	}
	wait(t, done, "Serve returning")
}

func TestBeforeHello(t *testing.T) {
	for _, frame := range []string{`[32,1,{},"com.x"]`, `[1,"realm1",{}]`, `[1,"nope",{"roles":{"caller":{}}}]`} {
		c := newPipe()
		h := &handler{left: make(chan struct{})}
		done := make(chan struct{})
		go func() { Serve(c, Config{}, h); close(done) }()
		c.in <- []byte(frame)
		m := c.next(t)
		want := wamp.ErrProtocolViolation
		if frame[1] == '1' && frame[4] == 'n' {
			want = wamp.ErrNoSuchRealm
		}
		if m.Type != wamp.ABORT || m.URI != want {
			t.Errorf("%s: got %v, want ABORT %s", frame, m, want)
		}
		wait(t, done, "Serve returning")
	}
}

// capture returns the session a test can call Send/SendEvent on.
type capture struct {
	handler
	s chan *Session
}

func (h *capture) Join(s *Session, realm wamp.URI, d wamp.Dict) (Handler, wamp.Dict, error) {
	hh, w, err := h.handler.Join(s, realm, d)
	h.s <- s
	return hh, w, err
}

func startCapture(t *testing.T, cfg Config, gate chan struct{}) (*pipeConn, *Session, chan struct{}) {
	t.Helper()
	c := newPipe()
	c.gate = gate
	h := &capture{handler: handler{left: make(chan struct{})}, s: make(chan *Session, 1)}
	done := make(chan struct{})
	go func() { Serve(c, cfg, h); close(done) }()
	c.in <- []byte(hello)
	s := <-h.s
	if gate != nil {
		gate <- struct{}{} // let WELCOME out, then hold the writer again
	}
	if m := c.next(t); m.Type != wamp.WELCOME {
		t.Fatalf("got %v, want WELCOME", m)
	}
	return c, s, done
}

func event(n int) []byte { return []byte(fmt.Sprintf(`[36,1,%d,{}]`, n+1)) }

func TestSlowConsumerDropPolicy(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{QueueMessages: 4, DisconnectAfter: time.Hour}, gate)
	writerHolding(t, s)
	for i := 0; i < 10; i++ {
		s.SendEvent(event(i))
	}
	if got := s.Dropped(); got != 6 {
		t.Errorf("Dropped = %d, want 6 (4 fit the queue)", got)
	}
	// Replies may use twice the bound, so an RPC result still goes out.
	if err := s.Send(&wamp.Message{Type: wamp.RESULT, Request: 1}); err != nil {
		t.Errorf("Send RESULT on a queue full of events: %v", err)
	}
	close(gate)
	var types []wamp.Type
	for len(types) < 6 {
		select {
		case b := <-c.batches:
			for _, f := range b {
				var m wamp.Message
				if err := codec.For(wamp.JSON).Decode(f, &m); err != nil {
					t.Fatal(err)
				}
				types = append(types, m.Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want 5 EVENTs and RESULT", types)
		}
	}
	want := []wamp.Type{wamp.EVENT, wamp.EVENT, wamp.EVENT, wamp.EVENT, wamp.EVENT, wamp.RESULT}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("written %v, want %v", types, want)
	}
	c.Close(transport.CloseNormal, "")
	wait(t, done, "Serve returning")
}

func TestSlowConsumerDisconnectPolicy(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{QueueMessages: 2, Policy: PolicyDisconnect}, gate)
	writerHolding(t, s)
	for i := 0; i < 3; i++ {
		s.SendEvent(event(i))
	}
	wait(t, c.closed, "slow consumer close")
	c.mu.Lock()
	code, reason := c.code, c.reason
	c.mu.Unlock()
	if code != transport.ClosePolicy || reason != "slow consumer" {
		t.Errorf("closed with %d %q, want 1008 slow consumer", code, reason)
	}
	if err := s.Send(&wamp.Message{Type: wamp.RESULT, Request: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close: %v, want ErrClosed", err)
	}
	wait(t, done, "Serve returning")
}

func TestStuckQueueClosesUnderDropPolicy(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{QueueMessages: 1, DisconnectAfter: time.Nanosecond}, gate)
	writerHolding(t, s)
	s.SendEvent(event(0))
	s.SendEvent(event(1)) // full: starts the clock
	// Keep publishing until the queue has been full longer than
	// DisconnectAfter; a nanosecond passes between two calls.
	for i := 0; i < 1000 && s.Dropped() < 1000; i++ {
		select {
		case <-c.closed:
			i = 1000
		default:
			s.SendEvent(event(2))
		}
	}
	wait(t, c.closed, "stuck consumer close")
	wait(t, done, "Serve returning")
}

func TestReplyOverflowCloses(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{QueueMessages: 2}, gate)
	writerHolding(t, s)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = s.Send(&wamp.Message{Type: wamp.RESULT, Request: wamp.ID(i + 1)})
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Errorf("Send beyond twice the bound: %v, want ErrSlowConsumer", err)
	}
	wait(t, c.closed, "close")
	wait(t, done, "Serve returning")
}

func TestWriterBatches(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{}, gate)
	writerHolding(t, s)
	for i := 1; i < 50; i++ {
		s.SendEvent(event(i))
	}
	gate <- struct{}{}
	if b := <-c.batches; len(b) != 1 {
		t.Fatalf("first batch has %d frames, want 1", len(b))
	}
	gate <- struct{}{}
	if b := <-c.batches; len(b) != 49 {
		t.Errorf("49 queued events went out in a batch of %d, want one batch", len(b))
	}
	close(gate)
	c.Close(transport.CloseNormal, "")
	wait(t, done, "Serve returning")
}

// writerHolding queues one EVENT and waits until the writer has taken it
// out of the queue: with a closed gate the writer then waits there, and
// whatever the test queues next stays queued.
func writerHolding(t *testing.T, s *Session) {
	t.Helper()
	s.SendEvent(event(1000))
	testutil.Eventually(t, 10*time.Second, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.q) == 0 }, "writer taking the first event")
}

func TestAnnouncedFeatures(t *testing.T) {
	fs := announcedFeatures(wamp.Dict{"roles": wamp.Dict{
		"caller":     wamp.Dict{"features": wamp.Dict{"progressive_call_results": true, "call_canceling": false}},
		"callee":     wamp.Dict{"features": wamp.Dict{"call_cancelling": true, "made_up": true}},
		"subscriber": wamp.Dict{},
		"publisher":  "not a dict",
	}})
	for _, c := range []struct {
		role, feature string
		want          bool
	}{
		{"caller", "progressive_call_results", true},
		{"caller", "call_canceling", false},
		{"callee", "call_cancelling", true},
		{"callee", "progressive_call_results", false},
		{"callee", "made_up", false},
		{"subscriber", "pattern_based_subscription", false},
		{"broker", "anything", false},
	} {
		if got := fs.has(c.role, c.feature); got != c.want {
			t.Errorf("%s.%s: %v, want %v", c.role, c.feature, got, c.want)
		}
	}
}

// TestInvocationsInIDOrder: INVOCATIONs reach the peer in request id
// order even when ids are drawn in one order and sent in another (two
// callers racing to one callee; the cluster's relay), since a client may
// drop an id below one it has seen. An id whose INVOCATION does not
// encode lets the next ones go.
func TestInvocationsInIDOrder(t *testing.T) {
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{}, gate)
	writerHolding(t, s)
	ids := make([]wamp.ID, 5)
	for i := range ids {
		ids[i] = s.NextRequestID()
	}
	inv := func(id wamp.ID) *wamp.Message {
		return &wamp.Message{Type: wamp.INVOCATION, Request: id, ID: 7, Details: wamp.Dict{}}
	}
	// Drawn 1..5, sent 3, 5, 2, then 1 and 4, with 4 failing to encode.
	for _, i := range []int{2, 4, 1} {
		if err := s.Send(inv(ids[i])); err != nil {
			t.Fatal(err)
		}
	}
	bad := inv(ids[3])
	bad.Args = wamp.List(func() {}) // no serializer takes a func
	if err := s.Send(bad); err == nil {
		t.Fatal("an INVOCATION that cannot be encoded was sent")
	}
	if err := s.Send(inv(ids[0])); err != nil {
		t.Fatal(err)
	}
	// A continuation of the first (progressive invocation) reuses its id.
	if err := s.Send(inv(ids[0])); err != nil {
		t.Fatal(err)
	}
	gate <- struct{}{} // the held EVENT
	if m := c.next(t); m.Type != wamp.EVENT {
		t.Fatalf("got %v, want the EVENT queued first", m.Type)
	}
	close(gate)
	var got []wamp.ID
	for len(got) < 5 {
		for _, f := range <-c.batches {
			var m wamp.Message
			if err := codec.For(wamp.JSON).Decode(f, &m); err != nil {
				t.Fatalf("undecodable frame %q: %v", f, err)
			}
			got = append(got, m.Request)
		}
	}
	want := []wamp.ID{ids[0], ids[1], ids[2], ids[4], ids[0]}
	if !slices.Equal(got, want) {
		t.Fatalf("INVOCATIONs written with ids %v, want %v", got, want)
	}
	c.Close(transport.CloseNormal, "")
	wait(t, done, "Serve returning")
}
