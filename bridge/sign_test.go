package bridge

import (
	"net/http"
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

// TestNonceCache: a nonce is refused while remembered, forgotten once
// expired, and the cache refuses new nonces rather than grow past its
// bound or forget live ones.
func TestNonceCache(t *testing.T) {
	c := newNonceCache(time.Minute, 3)
	t0 := time.Unix(1_000_000, 0)
	for i, k := range []string{"a", "b", "c"} {
		if p := c.add(k, t0.Add(time.Duration(i)*time.Second)); p != nil {
			t.Fatalf("add %s: %v", k, p)
		}
	}
	if p := c.add("a", t0.Add(10*time.Second)); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("replay of a: %v", p)
	}
	if p := c.add("d", t0.Add(10*time.Second)); p == nil || p.status != http.StatusServiceUnavailable {
		t.Fatalf("add past the bound: %v", p)
	}
	// a expires 2 minutes after it was added; b and c a second or two
	// later.
	later := t0.Add(2*time.Minute + 500*time.Millisecond)
	if p := c.add("a", later); p != nil {
		t.Fatalf("a after it expired: %v", p)
	}
	if p := c.add("b", later); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("b before it expired: %v", p)
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("len %d, want 3 (b, c, a)", n)
	}
	if p := c.add("e", t0.Add(10*time.Minute)); p != nil || c.Len() != 1 {
		t.Fatalf("after everything expired: %v, len %d", p, c.Len())
	}
}
