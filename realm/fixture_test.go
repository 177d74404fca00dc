package realm_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// testConn is a session.Conn whose peer is the test: Read returns the
// frames sent on in, and WriteBatch counts the frames the router writes
// and, when out is set, hands a copy of each to the test. With out nil it
// discards them, for benchmarks that measure the router and not a network.
type testConn struct {
	ser     wamp.Serialization
	in      chan []byte
	out     chan []byte
	closed  chan struct{}
	once    sync.Once
	written *atomic.Int64 // nil: not counted
}

func newTestConn(ser wamp.Serialization, record bool) *testConn {
	c := &testConn{ser: ser, in: make(chan []byte, 64), closed: make(chan struct{})}
	if record {
		c.out = make(chan []byte, 4096)
	}
	return c
}

func (c *testConn) Serialization() wamp.Serialization { return c.ser }
func (c *testConn) MaxWrite() int                     { return 0 }
func (c *testConn) RemoteAddr() net.Addr              { return &net.TCPAddr{} }
func (c *testConn) Transport() string                 { return "test" }

func (c *testConn) Read() ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.closed:
		return nil, io.EOF
	}
}

func (c *testConn) WriteBatch(frames [][]byte) error {
	if c.written != nil {
		c.written.Add(int64(len(frames)))
	}
	if c.out == nil {
		return nil
	}
	for _, f := range frames {
		select {
		case c.out <- append([]byte(nil), f...):
		case <-c.closed:
			return net.ErrClosed
		}
	}
	return nil
}

func (c *testConn) Close(transport.CloseCode, string) error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// joiner admits every session into r, with a fresh id.
type joiner struct {
	r        *realm.Realm
	sessions chan *session.Session
}

func (j joiner) Join(s *session.Session, _ wamp.URI, _ wamp.Dict) (session.Handler, wamp.Dict, error) {
	d, err := j.r.Attach(s, wamp.GlobalID())
	j.sessions <- s
	return j.r, d, err
}

// helloFrame is a HELLO with every client role, for realm1.
func helloFrame(tb testing.TB, ser wamp.Serialization) []byte {
	tb.Helper()
	return encode(tb, ser, &wamp.Message{Type: wamp.HELLO, URI: "realm1", Details: wamp.Dict{"roles": map[string]any{
		"subscriber": map[string]any{}, "publisher": map[string]any{}, "caller": map[string]any{}, "callee": map[string]any{},
	}}})
}

func encode(tb testing.TB, ser wamp.Serialization, m *wamp.Message) []byte {
	tb.Helper()
	b, err := codec.For(ser).Encode(nil, m)
	if err != nil {
		tb.Fatalf("encode %v: %v", m, err)
	}
	return b
}

// serve runs a session on c joined to r and returns it once joined, with a
// channel closed when the session is over. At cleanup it closes c and
// waits for that.
func serve(tb testing.TB, r *realm.Realm, cfg session.Config, c *testConn) (*session.Session, <-chan struct{}) {
	tb.Helper()
	j := joiner{r: r, sessions: make(chan *session.Session, 1)}
	c.in <- helloFrame(tb, c.ser)
	done := make(chan struct{})
	go func() {
		defer close(done)
		session.Serve(c, cfg, j)
	}()
	tb.Cleanup(func() {
		_ = c.Close(transport.CloseNormal, "")
		<-done
	})
	select {
	case s := <-j.sessions:
		return s, done
	case <-time.After(bound):
		tb.Fatalf("no join within %v", bound)
		return nil, nil
	}
}

// bound is the limit for anything that should happen promptly: a deadline
// for a failure report, never a measurement.
const bound = 10 * time.Second
