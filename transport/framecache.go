package transport

import (
	"bytes"
	"sync"
	"sync/atomic"
	"unsafe"
)

// frameCache shares the compressed payloads of shared frames (the EVENTs
// the broker encodes once per serializer and hands to every subscriber)
// between the connections of one endpoint, so that a publication costs one
// compression per (subscription, serializer, window size), not one per
// subscriber. Only connections without server context takeover use it:
// their messages are each deflated on their own, so the same bytes are
// valid on all of them.
//
// A frame is known by its identity, the address of its first byte and its
// length, rather than by a hash of its content, which would cost about as
// much as compressing it. That is sound because shared frames are
// immutable (the broker's contract, see WriteBatchShared), and because an
// entry's key is a real pointer into the frame: while the entry lives the
// collector cannot free the frame's memory, so no other frame can appear
// at the same address. A session's private frames come from a pool and
// are rewritten after each write, so they never enter the cache.
//
// Bounded: each shard keeps at most cacheSlots entries and cacheShardBytes
// of frames and payloads, first in, first out. An evicted frame that is
// still queued somewhere is compressed again, which costs CPU, never
// correctness. Frames over maxSharedFrame are sent uncompressed rather than
// compressed per subscriber.
type frameCache struct {
	shards [cacheShards]cacheShard
	// compressions counts frames compressed for the cache.
	compressions atomic.Int64
}

const (
	cacheShards = 8
	// cacheSlots entries per shard: a publication's frames are asked for
	// by its subscribers' writers within moments of each other, so a few
	// hundred recent publications are all that is ever looked up.
	cacheSlots      = 64
	cacheShardBytes = 2 << 20
	// maxSharedFrame is the largest shared frame compressed; an entry
	// counts twice its frame's length (frame and payload), so one always
	// fits a shard.
	maxSharedFrame = cacheShardBytes / 2
)

type cacheShard struct {
	mu    sync.Mutex
	m     map[frameKey]*sharedFrame
	ring  [cacheSlots]frameKey // insertion order, oldest at head
	head  int
	n     int
	bytes int
}

// frameKey is a frame's identity. p keeps the frame's memory alive for as
// long as the key is in the cache.
type frameKey struct {
	p    *byte
	n    int
	bits uint8
}

func (k frameKey) shard() int {
	h := uint64(uintptr(unsafe.Pointer(k.p))) ^ uint64(k.n)<<20 ^ uint64(k.bits)
	h *= 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of h
	return int(h >> 61)
}

// sharedFrame is one cache entry. done is released once z is set; until
// then other connections that want the same frame wait for it rather than
// compress it too.
type sharedFrame struct {
	done sync.WaitGroup
	z    []byte // the payload to send with RSV1; nil: send the frame as is
	size int
}

// compressed returns the permessage-deflate payload of the shared frame f
// for a window of 2^bits bytes, compressing f if it is not cached; nil
// when compression would not make it shorter.
func (fc *frameCache) compressed(f []byte, bits uint8) []byte {
	if len(f) > maxSharedFrame || len(f) == 0 {
		return nil
	}
	k := frameKey{p: unsafe.SliceData(f), n: len(f), bits: bits}
	s := &fc.shards[k.shard()]
	s.mu.Lock()
	if e := s.m[k]; e != nil {
		s.mu.Unlock()
		e.done.Wait()
		return e.z
	}
	e := &sharedFrame{size: 2 * len(f)}
	e.done.Add(1)
	s.insertLocked(k, e)
	s.mu.Unlock()

	fc.compressions.Add(1)
	scratch := getBuffer(len(f) + len(deflateTail))
	z := getCompressor(bits)
	if out, ok := z.deflate(scratch.b[:0], f, true); ok {
		e.z = bytes.Clone(out)
	}
	compressors[bits-8].Put(z)
	putBuffer(scratch)
	e.done.Done()
	return e.z
}

// insertLocked adds e, evicting the oldest entries to make room. s.mu
// must be held.
func (s *cacheShard) insertLocked(k frameKey, e *sharedFrame) {
	if s.m == nil {
		s.m = make(map[frameKey]*sharedFrame, cacheSlots)
	}
	for s.n == cacheSlots || s.n > 0 && s.bytes+e.size > cacheShardBytes {
		old := s.ring[s.head]
		s.bytes -= s.m[old].size
		delete(s.m, old)
		s.ring[s.head] = frameKey{}
		s.head = (s.head + 1) % cacheSlots
		s.n--
	}
	s.ring[(s.head+s.n)%cacheSlots] = k
	s.n++
	s.m[k] = e
	s.bytes += e.size
}
