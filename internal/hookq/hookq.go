// Package hookq runs a component's hook calls in the order of the changes
// that raised them, with none of the component's locks held.
//
// The broker and the dealer follow one rule for their hooks (the meta
// events, the cluster's notifications): a change queues its calls while
// the component's lock is held, so the queue's order is the order of the
// changes, and the caller drains the queue once the lock is released, so a
// hook may call back into the component or into any other, and cannot take
// part in a deadlock. Whoever finds no one draining drains; a hook whose
// call causes more changes only queues them.
package hookq

import "sync"

// Queue holds hook calls. The zero value is ready to use.
type Queue struct {
	mu       sync.Mutex // a leaf: taken under the component's lock by Push
	q        []func()
	draining bool
}

// Push queues a call. The component's lock must be held, so that calls
// queue in the order of the changes.
func (q *Queue) Push(call func()) {
	q.mu.Lock()
	q.q = append(q.q, call)
	q.mu.Unlock()
}

// Run makes every queued call, in order, unless another goroutine is
// draining the queue already (it will make these too). The component's
// lock must not be held.
func (q *Queue) Run() {
	q.mu.Lock()
	if q.draining || len(q.q) == 0 {
		q.mu.Unlock()
		return
	}
	q.draining = true
	defer func() {
		// Reset even if a hook panics, so that later changes are still
		// reported.
		q.mu.Lock()
		q.draining = false
		q.mu.Unlock()
	}()
	for len(q.q) > 0 {
		calls := q.q
		q.q = nil
		q.mu.Unlock()
		for _, call := range calls {
			call()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
}
