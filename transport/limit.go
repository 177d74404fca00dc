package transport

import (
	"net"
	"sync"
)

// addrLimiter bounds the open connections per remote IP address on one
// listener, so that one client cannot take all of a router's connections
// (and goroutines, and pending authentications). A nil *addrLimiter limits
// nothing. Unix socket peers have no address and are not limited.
type addrLimiter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newAddrLimiter(max int) *addrLimiter {
	if max <= 0 {
		return nil
	}
	return &addrLimiter{max: max, n: make(map[string]int)}
}

// acquire counts a connection from addr ("ip:port"), unless addr has max
// already. ok is false then; release must be called once the connection
// ends, whatever ok.
func (l *addrLimiter) acquire(addr string) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[host] >= l.max {
		return func() {}, false
	}
	l.n[host]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			if l.n[host]--; l.n[host] <= 0 {
				delete(l.n, host)
			}
			l.mu.Unlock()
		})
	}, true
}

// count returns the connections counted for ip.
func (l *addrLimiter) count(ip string) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[ip]
}
