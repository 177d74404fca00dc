package testutil

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer guarded by a mutex, for collecting output that
// something else writes while the test reads it: a logger whose handler
// runs on the code under test's goroutines, or a child process whose
// stdout and stderr are copied by separate goroutines. A plain
// bytes.Buffer there is a data race.
//
// The zero value is an empty buffer ready to use. A Buffer must not be
// copied after first use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer; it is safe to call from several
// goroutines at once, and alongside String.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns a copy of everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
