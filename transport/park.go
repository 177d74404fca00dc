package transport

import (
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Parking: an idle connection holds no goroutine.
//
// A goroutine blocked in a socket read keeps its stack, and the read path
// is deep enough that the runtime never shrinks it below 8 KiB: at tens of
// thousands of idle sessions that is most of their memory. A connection
// whose reader opted in (EnablePark) therefore gives its reader goroutine
// up once it has waited at a message boundary for a quiet spell (between
// parkQuiet and twice that): Read returns ErrParked, the reader unwinds
// to the transport, and the socket goes into an epoll set of this package
// (park_linux.go) with EPOLLONESHOT. Input, or Close, resumes the reader
// in a fresh goroutine.
//
// The quiet spell is found by a sweep, not a timer per wait: readers
// count their waits at a boundary, and a sweep every parkQuiet interrupts
// (with a read deadline in the past) those still in the wait it saw last
// time. A busy connection pays two atomic operations per wait for this;
// no system call, no timer.
//
// A parked connection that wakes for a control frame only (a keepalive
// pong) parks again as soon as it would wait, without a second quiet
// spell; a data message ends that.
//
// TLS connections, and anything else that is not a socket of its own,
// never park: their reader is not at a boundary the package can see.

// ErrParked is returned by Read on a connection whose reader enabled
// parking (EnablePark) when it parks: the reader must return from its
// goroutine without touching the connection again. The resume function
// runs, on a new goroutine, when input arrives or the connection closes.
var ErrParked = errors.New("transport: connection parked while idle")

// Parker is a Conn whose reader can give its goroutine up while the peer
// sends nothing.
type Parker interface {
	// EnablePark lets Read return ErrParked from now on; resume is the
	// reader's loop, run on a new goroutine to go on reading. After
	// resume returns without having parked again, the transport ends the
	// connection as it does when serve returns. It reports whether the
	// connection can park at all.
	EnablePark(resume func()) bool
}

var _ Parker = (*conn)(nil)

// Parked is the number of connections of the process parked now.
func Parked() int { return poller.count() }

// parkQuiet is the sweep's period: a reader parks after waiting between
// parkQuiet and twice that for input.
var parkQuiet = time.Second

// A reader that parks leaves its stack (8 KiB, the read path is that
// deep) to the runtime's stack pool, which gives it back to the heap only
// at the next collection, and the heap gives it back to the system only
// when a collection's goal, computed with the stacks of the cycle
// before, lets it: for an idle router that is the periodic collection
// two minutes later and the one after, about four minutes during which a
// burst of sessions that just went idle keeps its peak memory. So once a
// sweep finds that at least parkFreeMin readers parked since the last
// time, it has the runtime collect and return free memory at once
// (debug.FreeOSMemory), at most once per parkFreeEvery: a few
// milliseconds of collection against megabytes.
const (
	parkFreeMin   = 1024 // readers, 8 MiB of stacks
	parkFreeEvery = 10 * time.Second
)

// Boundary wait states, the low two bits of conn.wait; the bits above
// number the waits, so that the sweep interrupts only the very wait it
// saw the sweep before.
const (
	waitNone         uint64 = iota // reading, or not at a boundary
	waitBoundary                   // blocked for the first byte of a message
	waitInterrupting               // the sweep set a past read deadline
	waitStateMask    = 3
)

// parkState is the part of a conn that parking uses.
type parkState struct {
	// resume is the reader's loop (EnablePark); nil: the reader does not
	// park. Set by the reader before parkOn, which other goroutines read.
	resume func()
	parkOn atomic.Bool
	// tail ends the connection (finish, and the caller's release) once
	// the reader's loop returned for good.
	tail func()
	// fd is the socket's descriptor, for the epoll set.
	fd int32
	// wantPark is set by Read as it returns ErrParked; run then parks.
	// Reader-owned.
	wantPark bool
	// idle: the reader parked and has read no data message since, so it
	// parks again as soon as it would wait. Reader-owned.
	idle bool

	// wait is the number of boundary waits begun (<< 2) and the state of
	// the last (waitNone, waitBoundary, waitInterrupting); waits is the
	// reader's copy of that number.
	wait  atomic.Uint64
	waits uint64
	// swept is wait as the previous sweep saw it; sweep-owned.
	swept uint64
	// noPark: the epoll set refused this socket once; it parks no more.
	// Reader-owned.
	noPark bool
}

// EnablePark makes the connection park while idle (see ErrParked).
func (c *conn) EnablePark(resume func()) bool {
	if c.br.raw == nil || c.tail == nil || !poller.usable() {
		return false
	}
	var fd int32 = -1
	if err := c.br.raw.Control(func(s uintptr) { fd = int32(s) }); err != nil || fd < 0 {
		return false
	}
	c.fd = fd
	c.resume = resume
	c.parkOn.Store(true)
	sweeper.add(c)
	return true
}

// run runs f, the reader's loop, on the calling goroutine; when f returns
// it parks the connection if Read asked for that, and otherwise ends it.
// Every goroutine that reads a connection starts here.
func (c *conn) run(f func()) {
	for {
		f()
		if !c.wantPark {
			break
		}
		c.wantPark = false
		if poller.park(c) {
			return
		}
		if !c.closing.Load() {
			// The epoll set refused the socket (its watch limit, say):
			// this connection keeps its goroutine.
			c.noPark = true
		}
		// Closing, or no room in the epoll set: read on here.
		c.idle = false
		f = c.resume
	}
	if c.resume != nil {
		sweeper.remove(c)
	}
	c.tail()
}

// unpark resumes a parked reader so that it sees the close; every path
// that closes the connection calls it before it closes the socket.
func (c *conn) unpark() {
	if c.parkOn.Load() {
		poller.wake(c)
	}
}

// awaitBoundary waits for the first byte of a message when parking is on
// and nothing is buffered. It reports true when the reader should park;
// otherwise input (or an error, kept for the next fill) is buffered.
func (c *conn) awaitBoundary() bool {
	if c.idle {
		// Back from a park for a control frame: park again at once if
		// there is nothing more.
		return c.br.fillIdle(true)
	}
	c.waits++
	n := c.waits << 2
	c.wait.Store(n | waitBoundary)
	timedOut := c.br.fillIdle(false)
	if c.wait.CompareAndSwap(n|waitBoundary, n|waitNone) {
		return false
	}
	// The sweep interrupted the wait: take its deadline away, whether or
	// not input came first.
	c.mu.Lock()
	_ = c.nc.SetReadDeadline(time.Time{})
	c.wait.Store(n | waitNone)
	c.mu.Unlock()
	if timedOut {
		c.idle = true
		return true
	}
	return false
}

// interrupt ends the boundary wait w that the sweep found twice, if it
// still lasts.
func (c *conn) interrupt(w uint64) {
	c.mu.Lock()
	if !c.closing.Load() && c.wait.CompareAndSwap(w, w&^waitStateMask|waitInterrupting) {
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	c.mu.Unlock()
}

// sweeper finds readers that waited a quiet spell at a boundary.
var sweeper = &sweepSet{conns: make(map[*conn]struct{})}

type sweepSet struct {
	mu      sync.Mutex
	conns   map[*conn]struct{}
	running bool      // a sweep is scheduled or under way
	due     []dueWait // reused by each sweep; sweep-owned

	// Sweep-owned: readers interrupted since the memory was last given
	// back, and when that was.
	unfreed int
	freedAt time.Time
}

func (s *sweepSet) add(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	if !s.running {
		s.running = true
		time.AfterFunc(parkQuiet, s.sweep)
	}
	s.mu.Unlock()
}

func (s *sweepSet) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// dueWait is a boundary wait the sweep found twice.
type dueWait struct {
	c *conn
	w uint64
}

// sweep runs every parkQuiet while some connection can park; the next
// sweep is scheduled when this one is done, so two never overlap.
func (s *sweepSet) sweep() {
	s.mu.Lock()
	due := s.due[:0]
	for c := range s.conns {
		w := c.wait.Load()
		if w&waitStateMask == waitBoundary && w == c.swept {
			due = append(due, dueWait{c, w})
		}
		c.swept = w
	}
	s.mu.Unlock()
	// The readers interrupted by the last sweep have parked by now.
	if s.unfreed >= parkFreeMin && time.Since(s.freedAt) >= parkFreeEvery {
		debug.FreeOSMemory()
		s.unfreed, s.freedAt = 0, time.Now()
	}
	s.unfreed += len(due)
	for i, d := range due {
		d.c.interrupt(d.w)
		due[i] = dueWait{}
	}
	s.due = due[:0]
	// running stays set until here, so that add starts no second chain
	// while this one still uses the sweep-owned fields.
	s.mu.Lock()
	again := len(s.conns) > 0
	s.running = again
	s.mu.Unlock()
	if again {
		time.AfterFunc(parkQuiet, s.sweep)
	}
}
