package transport

import (
	"errors"
	"log/slog"
	"sync"
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

	mu      sync.Mutex
	conns   map[int32]*conn // parked, by descriptor
	running bool            // loop runs; it ends when nothing is parked
}

// epollTick bounds a wait of loop, so that it sees the set empty and
// ends: no goroutine of the package outlives the last parked connection
// by more than this.
const epollTick = 100 // milliseconds

// count is the number of parked connections.
func (p *epollSet) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// usable starts the set on first use.
func (p *epollSet) usable() bool {
	p.once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			slog.Warn("transport: no epoll set for idle connections; each keeps a goroutine", "error", err)
			p.fd = -1
			return
		}
		p.fd = fd
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
	var ready []*conn
	for {
		n, err := unix.EpollWait(p.fd, events, epollTick)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Not expected of a valid set; the connections stay parked
			// until they are closed.
			slog.Error("transport: epoll wait failed", "error", err)
			n = 0
			time.Sleep(epollTick * time.Millisecond)
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
