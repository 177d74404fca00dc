package hookq

import (
	"slices"
	"testing"
)

// TestRunInOrderReentrant checks that calls run in the order they were
// pushed, including those pushed by a hook while the queue drains, which
// the draining call runs after the others rather than recursing.
func TestRunInOrderReentrant(t *testing.T) {
	var q Queue
	var got []int
	push := func(c int, also func()) {
		q.Push(func() {
			got = append(got, c)
			if also != nil {
				also()
			}
		})
	}
	push(1, func() {
		push(10, nil)
		q.Run() // already draining: returns at once
		got = append(got, -1)
	})
	push(2, nil)
	q.Run()
	if want := []int{1, -1, 2, 10}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

// TestRunAfterPanic checks that a panicking hook does not leave the queue
// marked as draining: later calls still run.
func TestRunAfterPanic(t *testing.T) {
	var q Queue
	q.Push(func() { panic("hook") })
	func() {
		defer func() { _ = recover() }()
		q.Run()
	}()
	ran := false
	q.Push(func() { ran = true })
	q.Run()
	if !ran {
		t.Fatal("a call queued after a panicking hook did not run")
	}
}
