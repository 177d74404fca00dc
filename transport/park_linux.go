package transport

import (
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller is the process's epoll set of parked connections. The runtime's
// own poller has the same sockets in its set, edge-triggered; a second
// set is independent of it. EPOLLONESHOT: a socket reports once, and is
// then taken out.
var poller = &epollSet{conns: make(map[int32]*conn)}

type epollSet struct {
	once sync.Once
	fd   int // -1 when epoll is unavailable
	// file is fd, in the runtime's poller: loop waits for the set's
	// events there, not in a blocking epoll_wait. A goroutine blocked in
	// a system call keeps its P until sysmon takes it back, up to 10 ms
	// later on a quiet runtime: with the router on one CPU that stalled
	// every session 10 ms in 100 (pubsub p999 2 -> 17 ms).
	file *os.File
	rc   syscall.RawConn

	mu      sync.Mutex
	conns   map[int32]*conn // parked, by descriptor
	running bool            // loop runs; it ends when nothing is parked
}

// epollTick bounds a wait of loop, so that it sees the set empty and
// ends: no goroutine of the package outlives the last parked connection
// by more than this.
const epollTick = 100 * time.Millisecond

// count is the number of parked connections.
func (p *epollSet) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// usable starts the set on first use.
func (p *epollSet) usable() bool {
	p.once.Do(func() {
		p.fd = -1
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err == nil {
			err = unix.SetNonblock(fd, true)
		}
		var f *os.File
		if err == nil {
			// Non-blocking, so that os puts it in the runtime's poller.
			f = os.NewFile(uintptr(fd), "transport-idle-epoll")
			err = f.SetReadDeadline(time.Time{}) // fails unless it is there
		}
		if err == nil {
			p.rc, err = f.SyscallConn()
		}
		if err != nil {
			slog.Warn("transport: no epoll set for idle connections; each keeps a goroutine", "error", err)
			if f != nil {
				_ = f.Close()
			} else if fd >= 0 {
				_ = unix.Close(fd)
			}
			return
		}
		p.fd, p.file = fd, f
	})
	return p.fd >= 0
}

// park puts c's socket in the set. It fails when c is closing: the
// reader must read on to see the close.
func (p *epollSet) park(c *conn) bool {
	p.mu.Lock()
	if c.closing.Load() {
		p.mu.Unlock()
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: c.fd}
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		p.mu.Unlock()
		slog.Warn("transport: cannot park an idle connection; it keeps its goroutine", "remote", c.RemoteAddr().String(), "error", err)
		return false
	}
	defer p.mu.Unlock()
	p.conns[c.fd] = c
	if !p.running {
		p.running = true
		go p.loop()
	}
	return true
}

// wake resumes c's reader if it is parked.
func (p *epollSet) wake(c *conn) {
	p.mu.Lock()
	parked := p.conns[c.fd] == c
	if parked {
		p.remove(c)
	}
	p.mu.Unlock()
	if parked {
		go c.run(c.resume)
	}
}

// remove takes c's socket out of the set; p.mu must be held. The one
// shot is spent or not; either way the socket leaves the set before its
// descriptor can be closed and reused.
func (p *epollSet) remove(c *conn) {
	delete(p.conns, c.fd)
	_ = unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, int(c.fd), nil)
}

// loop resumes the readers of sockets that turned readable. An event of
// a socket since closed, whose descriptor a new parked connection reuses,
// resumes that one for nothing: it parks again at once (conn.idle).
func (p *epollSet) loop() {
	events := make([]unix.EpollEvent, 256)
	var n int
	var werr error
	// collect takes the events that wait, without blocking; false makes
	// the runtime's poller wait until the set has some.
	collect := func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), events, 0)
		return n > 0 || werr != nil && !errors.Is(werr, unix.EINTR)
	}
	var ready []*conn
	for {
		_ = p.file.SetReadDeadline(time.Now().Add(epollTick))
		n, werr = 0, nil
		err := p.rc.Read(collect)
		if err == nil && n <= 0 {
			err = werr
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// Not expected of a valid set; the connections stay parked
			// until they are closed.
			slog.Error("transport: epoll wait failed", "error", err)
			time.Sleep(epollTick)
		}
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if c := p.conns[ev.Fd]; c != nil {
				p.remove(c)
				ready = append(ready, c)
			}
		}
		done := len(p.conns) == 0
		if done {
			p.running = false
		}
		p.mu.Unlock()
		for i, c := range ready {
			go c.run(c.resume)
			ready[i] = nil
		}
		ready = ready[:0]
		if done {
			return
		}
	}
}
