package bridge

import (
	"net/http"
	"net/url"
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
	c := newNonceCache(time.Minute, 3, nil)
	t0 := time.Unix(1_000_000, 0)
	for i, n := range []string{"a", "b", "c"} {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		if p := c.add("k", []byte(n), ts, ts); p != nil {
			t.Fatalf("add %s: %v", n, p)
		}
	}
	now := t0.Add(30 * time.Second)
	if p := c.add("k", []byte("a"), t0, now); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("replay of a: %v", p)
	}
	if p := c.add("k", []byte("d"), now, now); p == nil || p.status != http.StatusServiceUnavailable {
		t.Fatalf("add past the bound: %v", p)
	}
	// a (stamped t0) expires at t0+1m, at most a bucket later; b at
	// t0+1m10s.
	later := t0.Add(time.Minute + 5*time.Second)
	if p := c.add("k", []byte("a"), later, later); p != nil {
		t.Fatalf("a after its window: %v", p)
	}
	if p := c.add("k", []byte("b"), t0.Add(10*time.Second), later); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("b within its window: %v", p)
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("len %d, want 3 (b, c, a)", n)
	}
	far := t0.Add(10 * time.Minute)
	if p := c.add("other-key", []byte("b"), far, far); p != nil || c.Len() != 1 {
		t.Fatalf("after everything expired: %v, len %d", p, c.Len())
	}
}

// TestNonceCacheThroughput: at a steady rate the cache holds one window
// of nonces and keeps accepting (the bound is on nonces in the window,
// not on all ever seen).
func TestNonceCacheThroughput(t *testing.T) {
	c := newNonceCache(time.Second, 1000, nil)
	t0 := time.Unix(1_000_000, 0)
	// 500 a second for 20 seconds: 10,000 nonces through a cache of 1000.
	for i := range 10000 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		if p := c.add("k", []byte(strconv.Itoa(i)), now, now); p != nil {
			t.Fatalf("nonce %d at %v: %v (len %d)", i, now.Sub(t0), p, c.Len())
		}
	}
	if n := c.Len(); n > 600 {
		t.Fatalf("len %d, want about one window (500) and a bucket", n)
	}
}

// TestNonceCacheFairShare: one key at its share of the bound does not
// lock out another key.
func TestNonceCacheFairShare(t *testing.T) {
	c := newNonceCache(time.Minute, 4, []string{"busy", "quiet"})
	now := time.Unix(1_000_000, 0)
	for i := range 2 {
		if p := c.add("busy", []byte{byte(i)}, now, now); p != nil {
			t.Fatalf("busy %d: %v", i, p)
		}
	}
	if p := c.add("busy", []byte{9}, now, now); p == nil || p.status != http.StatusServiceUnavailable {
		t.Fatalf("busy past its share: %v", p)
	}
	if p := c.add("quiet", []byte{1}, now, now); p != nil {
		t.Fatalf("quiet key refused while busy is at its share: %v", p)
	}
	// Expiry gives the busy key its share back.
	later := now.Add(3 * time.Minute)
	if p := c.add("busy", []byte{9}, later, later); p != nil {
		t.Fatalf("busy after expiry: %v", p)
	}
}

// TestShiftedSeqNonceReplay: the signed string has no separators, so a
// captured request with digits moved from seq to nonce carries the same
// signature; it must be refused as a replay, not taken as a new nonce.
func TestShiftedSeqNonceReplay(t *testing.T) {
	b := &Bridge{keys: map[string]*signer{"k": {key: Key{Key: "k", Secret: "s"}}},
		window: time.Minute, nonces: newNonceCache(time.Minute, 100, []string{"k"})}
	now := time.Now()
	b.now = func() time.Time { return now }
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	body := []byte(`{"topic":"a"}`)
	sig := Sign("k", "s", ts, "12", "345", body)
	q := url.Values{"key": {"k"}, "timestamp": {ts}, "seq": {"12"}, "nonce": {"345"}, "signature": {sig}}
	if _, p := b.verify(q, body); p != nil {
		t.Fatalf("captured request: %v", p)
	}
	q.Set("seq", "1")
	q.Set("nonce", "2345")
	if _, p := b.verify(q, body); p == nil || p.uri != ErrReplayedNonce {
		t.Fatalf("shifted seq/nonce with the same signature: %v, want %s", p, ErrReplayedNonce)
	}
}
