package bridge

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestSignCrossbar: the signature is the one Crossbar.io's HTTP bridge
// computes (hmac over key, timestamp, seq, nonce, body; URL-safe base64),
// a vector made with Python's hmac and base64 modules.
func TestSignCrossbar(t *testing.T) {
	got := Sign("foo", "bar", "2011-10-14T16:59:51.123Z", "1", "123", []byte(`{"topic":"a"}`))
	if want := "yRrhcpkExMBxSTHfMgm1dR2NSaJFTJXSIa1QmE7zDaI="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// TestNonceCache: a nonce is refused while its timestamp is in the
// window, forgotten after, per key; the cache refuses new nonces rather
// than grow past its bound or forget live ones.
func TestNonceCache(t *testing.T) {
	c := newNonceCache(time.Minute, 3)
	t0 := time.Unix(1_000_000, 0)
	for i, n := range []string{"a", "b", "c"} {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		if p := c.add("k", n, ts, ts); p != nil {
			t.Fatalf("add %s: %v", n, p)
		}
	}
	now := t0.Add(30 * time.Second)
	if p := c.add("k", "a", t0, now); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("replay of a: %v", p)
	}
	if p := c.add("k", "d", now, now); p == nil || p.status != http.StatusServiceUnavailable {
		t.Fatalf("add past the bound: %v", p)
	}
	// a (stamped t0) expires at t0+1m, at most a bucket later; b at
	// t0+1m10s.
	later := t0.Add(time.Minute + 5*time.Second)
	if p := c.add("k", "a", later, later); p != nil {
		t.Fatalf("a after its window: %v", p)
	}
	if p := c.add("k", "b", t0.Add(10*time.Second), later); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("b within its window: %v", p)
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("len %d, want 3 (b, c, a)", n)
	}
	far := t0.Add(10 * time.Minute)
	if p := c.add("other-key", "b", far, far); p != nil || c.Len() != 1 {
		t.Fatalf("after everything expired: %v, len %d", p, c.Len())
	}
}

// TestNonceCacheThroughput: at a steady rate the cache holds one window
// of nonces and keeps accepting (the bound is on nonces in the window,
// not on all ever seen).
func TestNonceCacheThroughput(t *testing.T) {
	c := newNonceCache(time.Second, 1000)
	t0 := time.Unix(1_000_000, 0)
	// 500 a second for 20 seconds: 10,000 nonces through a cache of 1000.
	for i := range 10000 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		if p := c.add("k", strconv.Itoa(i), now, now); p != nil {
			t.Fatalf("nonce %d at %v: %v (len %d)", i, now.Sub(t0), p, c.Len())
		}
	}
	if n := c.Len(); n > 600 {
		t.Fatalf("len %d, want about one window (500) and a bucket", n)
	}
}
