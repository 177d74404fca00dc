package auth

import (
	"container/list"
	"net"
	"sync"
	"time"
)

// Limiter defaults.
const (
	// DefaultFreeFailures is how many failures an address may have before
	// its attempts are slowed down: enough for a few typos.
	DefaultFreeFailures = 5
	// DefaultBaseDelay is the delay after the first failure past the free
	// ones; each further failure doubles it.
	DefaultBaseDelay = 500 * time.Millisecond
	// DefaultMaxDelay caps the delay below the HELLO timeout, so that a
	// slowed-down client still gets its answer rather than a closed
	// connection.
	DefaultMaxDelay = 5 * time.Second
	// DefaultForgetAfter is how long an address must stay free of failures
	// before they are forgotten. A success does not forget them: with one
	// valid account of its own, an attacker could otherwise clear its count
	// between guesses.
	DefaultForgetAfter = 10 * time.Minute
	// DefaultMaxAddresses bounds the addresses remembered; past it the
	// least recently failed is forgotten, so that a flood of addresses
	// costs bounded memory.
	DefaultMaxAddresses = 10000
)

// LimiterConfig configures a Limiter. Every zero value means the default of
// the same name.
type LimiterConfig struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	ForgetAfter  time.Duration
	MaxAddresses int
	// Now is the clock. Nil means time.Now; tests inject their own.
	Now func() time.Time
}

// Limiter counts authentication failures per remote IP address and says how
// long the next attempt from it must wait. It slows guessing down rather
// than locking anyone out. A nil *Limiter limits nothing. Safe for
// concurrent use.
type Limiter struct {
	cfg LimiterConfig

	mu    sync.Mutex
	addrs map[string]*list.Element // of *failures
	lru   list.List                // front: most recent failure
}

type failures struct {
	addr  string
	count int
	last  time.Time
}

// NewLimiter returns an empty limiter.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.FreeFailures <= 0 {
		cfg.FreeFailures = DefaultFreeFailures
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = DefaultForgetAfter
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, addrs: make(map[string]*list.Element)}
}

// key is the IP of a "host:port" address; "" (not limited) for a Unix
// socket peer, which has none.
func key(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	if addr == "@" {
		return ""
	}
	return addr
}

// Delay returns how long the next attempt from addr must wait: zero up to
// FreeFailures recent failures, then BaseDelay doubling per failure, up to
// MaxDelay.
func (l *Limiter) Delay(addr string) time.Duration {
	k := key(addr)
	if l == nil || k == "" {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.lookupLocked(k)
	if f == nil || f.count <= l.cfg.FreeFailures {
		return 0
	}
	d := l.cfg.BaseDelay
	for i := l.cfg.FreeFailures + 1; i < f.count && d < l.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.cfg.MaxDelay)
}

// Failure counts a failed attempt from addr.
func (l *Limiter) Failure(addr string) {
	k := key(addr)
	if l == nil || k == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.lookupLocked(k)
	if f == nil {
		if l.lru.Len() >= l.cfg.MaxAddresses {
			oldest := l.lru.Back()
			delete(l.addrs, oldest.Value.(*failures).addr)
			l.lru.Remove(oldest)
		}
		f = &failures{addr: k}
		l.addrs[k] = l.lru.PushFront(f)
	} else {
		l.lru.MoveToFront(l.addrs[k])
	}
	f.count++
	f.last = l.cfg.Now()
}

// Len returns how many addresses have failures remembered.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// lookupLocked returns the failures of k, forgetting them once they are
// older than ForgetAfter. l.mu must be held.
func (l *Limiter) lookupLocked(k string) *failures {
	e := l.addrs[k]
	if e == nil {
		return nil
	}
	f := e.Value.(*failures)
	if l.cfg.Now().Sub(f.last) >= l.cfg.ForgetAfter {
		delete(l.addrs, k)
		l.lru.Remove(e)
		return nil
	}
	return f
}
