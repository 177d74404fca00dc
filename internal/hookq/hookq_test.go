package hookq

import (
	"slices"
	"testing"
)

// TestRunInOrderReentrant checks that calls run in the order they were
// pushed, including those pushed by a hook while the queue drains, which
// the draining call runs after the others rather than recursing.
func TestRunInOrderReentrant(t *testing.T) {
	var q Queue[int]
	var got []int
	var fn func(int)
	fn = func(c int) {
		got = append(got, c)
		if c == 1 {
			q.Push(10)
			q.Run(fn) // already draining: returns at once
			got = append(got, -1)
		}
	}
	q.Push(1)
	q.Push(2)
	q.Run(fn)
	if want := []int{1, -1, 2, 10}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

// TestRunAfterPanic checks that a panicking hook does not leave the queue
// marked as draining: later calls still run.
func TestRunAfterPanic(t *testing.T) {
	var q Queue[int]
	q.Push(1)
	func() {
		defer func() { _ = recover() }()
		q.Run(func(int) { panic("hook") })
	}()
	q.Push(2)
	var got []int
	q.Run(func(c int) { got = append(got, c) })
	if !slices.Equal(got, []int{2}) {
		t.Fatalf("after a panic ran %v, want [2]", got)
	}
}
