package session

import (
	"slices"
	"testing"

	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// sharedPipe is a pipeConn that is a transport.SharedWriter and records
// the flags of each batch.
type sharedPipe struct {
	*pipeConn
	flags chan []bool
}

var _ transport.SharedWriter = (*sharedPipe)(nil)

func (c *sharedPipe) SharesFrames() bool { return true }

func (c *sharedPipe) WriteBatchShared(frames [][]byte, shared []bool) error {
	if len(shared) != len(frames) {
		panic("one flag per frame")
	}
	c.flags <- slices.Clone(shared)
	return c.pipeConn.WriteBatch(frames)
}

// The writer marks exactly the EVENTs queued by SendEvent as shared: those
// are the broker's immutable frames; everything Send encodes is private
// and its pooled buffer is rewritten after the write.
func TestWriterMarksSharedFrames(t *testing.T) {
	gate := make(chan struct{})
	c := &sharedPipe{pipeConn: newPipe(), flags: make(chan []bool, 16)}
	c.gate = gate
	h := &capture{handler: handler{left: make(chan struct{})}, s: make(chan *Session, 1)}
	done := make(chan struct{})
	go func() { Serve(c, Config{}, h); close(done) }()
	c.in <- []byte(hello)
	s := <-h.s
	gate <- struct{}{} // WELCOME
	if m := c.next(t); m.Type != wamp.WELCOME {
		t.Fatalf("got %v, want WELCOME", m)
	}
	if f := <-c.flags; !slices.Equal(f, []bool{false}) {
		t.Fatalf("WELCOME flagged %v", f)
	}
	writerHolding(t, s) // one event, taken by the writer, held at the gate
	if err := s.Send(&wamp.Message{Type: wamp.RESULT, Request: 1}); err != nil {
		t.Fatal(err)
	}
	s.SendEvent(event(1))
	if err := s.Send(&wamp.Message{Type: wamp.RESULT, Request: 2}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	for _, want := range [][]bool{{true}, {false, true, false}} {
		if f := <-c.flags; !slices.Equal(f, want) {
			t.Fatalf("batch flagged %v, want %v", f, want)
		}
	}
	for range 2 {
		<-c.batches
	}
	c.in <- []byte(`[6,{},"wamp.close.close_realm"]`)
	wait(t, done, "Serve returning")
}
