package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Signed requests, as Crossbar.io's HTTP Publisher and Caller take them:
// the query parameters key, timestamp (UTC, ISO 8601 such as
// 2011-10-14T16:59:51.123Z), seq and nonce (integers) and signature, the
// URL-safe base64 of HMAC-SHA256 under the key's secret over
// key | timestamp | seq | nonce | body, each as sent. On top of Crossbar,
// the bridge remembers nonces for as long as their timestamp is acceptable,
// so that a captured request cannot be sent again.

// Sign returns the signature of a request: what a client puts in the
// signature query parameter. Tests and Go clients use it.
func Sign(key, secret, timestamp, seq, nonce string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(key))
	h.Write([]byte(timestamp))
	h.Write([]byte(seq))
	h.Write([]byte(nonce))
	h.Write(body)
	return base64.URLEncoding.EncodeToString(h.Sum(nil))
}

// SignQuery returns the query string of a signed request for body, with a
// fresh nonce and the time now.
func SignQuery(key, secret string, seq uint64, nonce uint64, now time.Time, body []byte) string {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	s, n := strconv.FormatUint(seq, 10), strconv.FormatUint(nonce, 10)
	q := url.Values{}
	q.Set("key", key)
	q.Set("timestamp", ts)
	q.Set("seq", s)
	q.Set("nonce", n)
	q.Set("signature", Sign(key, secret, ts, s, n, body))
	return q.Encode()
}

// Key is a signing key and the identity its requests act as.
type Key struct {
	// Key is the public name of the key (the key query parameter); it is
	// also the authid of the key's session.
	Key string
	// Secret is the shared secret the signature is made with.
	Secret string
	// Role is the authrole of the key's session: its permissions apply to
	// every request signed with the key.
	Role string
}

// verify checks the signature of a request whose query is q. It returns
// the key the request was signed with.
func (b *Bridge) verify(q url.Values, body []byte) (*signer, *problem) {
	name := q.Get("key")
	k := b.keys[name]
	if k == nil {
		return nil, refuse(http.StatusUnauthorized, ErrUnknownKey, "unknown key "+strconv.Quote(name))
	}
	ts, seq, nonce, sig := q.Get("timestamp"), q.Get("seq"), q.Get("nonce"), q.Get("signature")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, ErrBadTimestamp, "bad timestamp "+strconv.Quote(ts)+": want UTC ISO 8601 such as 2011-10-14T16:59:51.123Z")
	}
	if _, err := strconv.ParseInt(seq, 10, 64); err != nil {
		return nil, refuse(http.StatusBadRequest, ErrBadSeq, "bad seq "+strconv.Quote(seq)+": want an integer")
	}
	if _, err := strconv.ParseUint(nonce, 10, 64); err != nil {
		return nil, refuse(http.StatusBadRequest, ErrBadNonce, "bad nonce "+strconv.Quote(nonce)+": want a non-negative integer")
	}
	given, err := base64.URLEncoding.DecodeString(sig)
	if err != nil {
		given, err = base64.RawURLEncoding.DecodeString(sig)
	}
	want := Sign(name, k.key.Secret, ts, seq, nonce, body)
	wantRaw, _ := base64.URLEncoding.DecodeString(want)
	if err != nil || !hmac.Equal(given, wantRaw) {
		return nil, refuse(http.StatusUnauthorized, ErrBadSignature, "the signature does not match the request")
	}
	// The signature is checked first, so that only holders of a key can
	// fill the nonce cache or learn about the clock.
	now := b.now()
	if d := now.Sub(t); d > b.window || d < -b.window {
		return nil, refuse(http.StatusUnauthorized, ErrStaleTimestamp, "timestamp "+ts+" is more than "+b.window.String()+" away from the router's clock")
	}
	if p := b.nonces.add(name+"\x00"+nonce, now); p != nil {
		return nil, p
	}
	return k, nil
}

// nonceCache remembers the nonces of accepted signed requests while their
// timestamps are acceptable. Entries expire in insertion order, so a FIFO
// queue finds the expired ones without a scan; the cache is bounded, and
// when it is full of live nonces new signed requests are refused (503)
// rather than a live nonce forgotten, which would open a replay.
type nonceCache struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	seen  map[string]struct{}
	queue []nonceEntry
	head  int
}

type nonceEntry struct {
	key     string
	expires time.Time
}

func newNonceCache(window time.Duration, max int) *nonceCache {
	// A request stamped t is accepted until t+window, and t may be up to
	// window ahead of its arrival: 2*window after arrival covers it.
	return &nonceCache{ttl: 2 * window, max: max, seen: make(map[string]struct{})}
}

func (c *nonceCache) add(key string, now time.Time) *problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head < len(c.queue) && !now.Before(c.queue[c.head].expires) {
		delete(c.seen, c.queue[c.head].key)
		c.queue[c.head] = nonceEntry{}
		c.head++
	}
	if c.head > len(c.queue)/2 {
		c.queue = append(c.queue[:0], c.queue[c.head:]...)
		c.head = 0
	}
	if _, dup := c.seen[key]; dup {
		return refuse(http.StatusUnauthorized, ErrReplayedNonce, "nonce already used: a signed request is accepted once")
	}
	if len(c.seen) >= c.max {
		return refuse(http.StatusServiceUnavailable, ErrUnavailable, "too many signed requests in the timestamp window; try again later")
	}
	c.seen[key] = struct{}{}
	c.queue = append(c.queue, nonceEntry{key: key, expires: now.Add(c.ttl)})
	return nil
}

// Len returns how many nonces are remembered.
func (c *nonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
