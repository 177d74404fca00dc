package transport

import (
	"math/bits"
	"sync"
)

// buffer is a pooled byte slice with the iovec list that points into it.
// The pools hold pointers so that putting one back does not allocate.
type buffer struct {
	b   []byte
	iov [][]byte
}

// Pooled buffers come in power-of-two classes from 512 B to 1 MiB. Between
// messages a connection holds at most a 512 B read buffer, so that 100k
// mostly idle connections do not pin the largest batch or message each of
// them ever saw (nats-server does the same with nbPool); small classes keep
// a burst of connects from leaving 4 KiB per session in the pools.
const (
	minPoolShift = 9
	maxPoolShift = 20
	maxPooled    = 1 << maxPoolShift
)

var pools [maxPoolShift - minPoolShift + 1]sync.Pool

// poolClass returns the pool index of the smallest class holding n bytes,
// or -1 when n is beyond the largest.
func poolClass(n int) int {
	if n <= 1<<minPoolShift {
		return 0
	}
	i := bits.Len(uint(n-1)) - minPoolShift
	if i >= len(pools) {
		return -1
	}
	return i
}

// getBuffer returns an empty buffer with room for n bytes.
func getBuffer(n int) *buffer {
	i := poolClass(n)
	if i < 0 {
		return &buffer{b: make([]byte, 0, n)}
	}
	if v := pools[i].Get(); v != nil {
		return v.(*buffer)
	}
	return &buffer{b: make([]byte, 0, 1<<(minPoolShift+i))}
}

// putBuffer recycles buf; buffers of no class are left to the collector.
func putBuffer(buf *buffer) {
	c := cap(buf.b)
	i := poolClass(c)
	if i < 0 || c != 1<<(minPoolShift+i) {
		return
	}
	buf.b = buf.b[:0]
	clear(buf.iov[:cap(buf.iov)]) // drop references to callers' frames
	buf.iov = buf.iov[:0]
	pools[i].Put(buf)
}
