package cluster

import (
	"context"
	"sync/atomic"
	"time"
)

// writer hands writes to JetStream (retained events, history) to a
// goroutine of its own behind a bounded queue, so that a publisher never
// waits for JetStream. Past the bound, or when a write fails, the write
// is lost: counted, and logged at powers of two. A failed write is tried
// again until its deadline (write).
type writer struct {
	n       *Node
	what    string // for the log: "retained event", "history event"
	queue   chan func(context.Context) error
	dropped atomic.Uint64
}

// writeDeadline bounds the tries of one write: a JetStream election on a
// loaded machine was seen to take over 5s.
const writeDeadline = 30 * time.Second

// writerQueue bounds each writer's queue.
const writerQueue = 4096

func newWriter(n *Node, what string) *writer {
	return &writer{n: n, what: what, queue: make(chan func(context.Context) error, writerQueue)}
}

// push queues w; it never blocks.
func (w *writer) push(fn func(context.Context) error) {
	select {
	case w.queue <- fn:
	default:
		w.lost("the cluster store is behind")
	}
}

func (w *writer) lost(why string) {
	if d := w.dropped.Add(1); d&(d-1) == 0 {
		w.n.log.Warn(w.what+"s not stored in the cluster: "+why, "lost", d)
	}
}

// run writes the queue, once the cluster state is open, until the node
// stops.
func (w *writer) run() {
	defer w.n.wg.Done()
	for {
		select {
		case <-w.n.stop:
			return
		case fn := <-w.queue:
			for w.n.store.kv(bucketRegs) == nil {
				select {
				case <-w.n.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
			if err := w.write(fn); err != nil {
				w.lost(err.Error())
			}
		}
	}
}

// write runs fn until it succeeds or its deadline passes: while
// JetStream elects a new leader (a node died), a write fails at once
// ("no response from stream") for a few seconds, then goes through.
func (w *writer) write(fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(w.n.ctx, writeDeadline)
	defer cancel()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
