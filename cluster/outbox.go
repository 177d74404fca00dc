package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// errStopped counts a publication for a node whose outbox is closed.
var errStopped = errors.New("cluster: outbox closed")

// An outbox carries the publications forwarded to one node. Each NATS
// message costs the sending and the receiving node's NATS clients and
// servers about as much as delivering the event it holds (a parse, a
// subject match, a copy, a wakeup on each of four hops), so those that
// arrive while the previous message is being handed to NATS go together
// in one (kindBatch). A publication on an idle link goes alone, at once:
// batching costs nothing but a handoff to the outbox's goroutine.
//
// One outbox per destination keeps each publisher's events in order (they
// enter it in order, from the publisher's reader). Publications and calls
// take different paths, as WAMP allows: it orders neither against the
// other.
//
// The outbox is bounded: a publisher finding it full waits for the
// goroutine to hand what is there to NATS, as it would wait for NATS's
// own buffer when publishing directly.
type outbox struct {
	n       *Node
	node    uint64
	publish func([]byte) error // to the node's data subject
	max     int                // bytes before publishers wait: at most a NATS message

	mu     sync.Mutex
	space  sync.Cond // signalled when buf is taken
	buf    []byte    // kindBatch and the records waiting
	recs   int       // records in buf
	spare  []byte    // the other buffer, while NATS is not using it
	closed bool

	kick chan struct{} // buf has records; capacity 1
	done chan struct{} // closed by close
}

// outboxMax bounds what waits for one node: large enough to carry a burst
// of small events in one message, small enough for any NATS max_payload
// (1 MiB by default, at least 64 KiB in practice).
const outboxMax = 256 << 10

func newOutbox(n *Node, node uint64) *outbox {
	subj := n.dataSubject(node)
	o := &outbox{n: n, node: node, max: outboxMax, kick: make(chan struct{}, 1), done: make(chan struct{}),
		publish: func(b []byte) error { return n.nc.Publish(subj, b) }} // NATS copies b before it returns
	if mp := int(n.nc.MaxPayload()); mp > 0 && mp < o.max {
		o.max = mp
	}
	o.space.L = &o.mu
	return o
}

// put queues rec, one data message, waiting while the outbox is full. It
// reports false when the outbox was closed (the node is gone or this one
// stops): rec is dropped.
func (o *outbox) put(rec []byte) bool {
	o.mu.Lock()
	// A record larger than the bound goes alone, into an empty outbox.
	for !o.closed && o.recs > 0 && len(o.buf)+binary.MaxVarintLen64+len(rec) > o.max {
		o.space.Wait()
	}
	if o.closed {
		o.mu.Unlock()
		return false
	}
	if o.recs == 0 {
		o.buf = append(o.buf[:0], kindBatch)
	}
	o.buf = binary.AppendUvarint(o.buf, uint64(len(rec)))
	o.buf = append(o.buf, rec...)
	o.recs++
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
	return true
}

// run hands what the outbox holds to NATS, until it is closed; then what
// is left, so that a node that stops sends what was forwarded before its
// goodbye.
func (o *outbox) run() {
	for {
		select {
		case <-o.kick:
			o.flush()
		case <-o.done:
			o.flush()
			return
		}
	}
}

func (o *outbox) flush() {
	o.mu.Lock()
	b, recs := o.buf, o.recs
	o.buf, o.spare, o.recs = o.spare, nil, 0
	o.mu.Unlock()
	o.space.Broadcast()
	if recs == 0 {
		o.keep(b)
		return
	}
	msg := b
	if recs == 1 {
		// One record goes as a plain data message: the receiver reads it
		// without unpacking.
		_, n := binary.Uvarint(b[1:])
		msg = b[1+n:]
	}
	err := o.publish(msg)
	o.n.sentN(kindPub, uint64(recs), err)
	if err == nil {
		o.n.stats.out[kindBatch].Add(1) // NATS messages that carried publications
	}
	if err != nil {
		o.n.log.Debug("publications not forwarded", "node", o.node, "count", recs, "error", err)
	}
	o.keep(b)
}

// keep makes b the spare buffer, unless it grew past the bound (one large
// record): that one goes to the collector.
func (o *outbox) keep(b []byte) {
	if cap(b) > 2*o.max {
		return
	}
	o.mu.Lock()
	o.spare = b[:0]
	o.mu.Unlock()
}

// close stops the outbox: waiting publishers drop their record, the
// goroutine sends what is queued and ends.
func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.mu.Unlock()
	o.space.Broadcast()
	close(o.done)
}

// eachRecord calls fn with each data message that b, a NATS message of
// the data subject, holds: b itself, or the records of a batch.
func eachRecord(b []byte, fn func([]byte)) error {
	if len(b) == 0 || b[0] != kindBatch {
		fn(b)
		return nil
	}
	for b = b[1:]; len(b) > 0; {
		rec, rest, err := readBytes(b)
		if err != nil {
			return fmt.Errorf("cluster: batch: %w", err)
		}
		fn(rec)
		b = rest
	}
	return nil
}
