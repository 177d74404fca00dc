package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash/maphash"
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
// the bridge remembers accepted signatures for as long as their timestamp
// is acceptable, so that a captured request cannot be sent again.

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
	// The cache keys on the MAC, not on the nonce: the signed fields are
	// concatenated without separators (as Crossbar does), so digits moved
	// between seq and nonce make a "new" nonce under the same signature.
	if p := b.nonces.add(name, wantRaw, t, now); p != nil {
		return nil, p
	}
	return k, nil
}

// nonceCache remembers the signatures (MACs) of accepted signed requests
// while their timestamps are acceptable: a request stamped t is accepted
// until t+window, so its MAC is kept until then and no longer. The MAC,
// not the nonce, is what is remembered: the signed string has no
// separators, so seq=12&nonce=345 and seq=1&nonce=2345 sign alike, and a
// cache of nonces would take the second as new. Two different requests
// that sign alike are the same request. Each entry is kept as a 64-bit
// hash of key and MAC (maphash, seeded per process, so that no one can aim
// for collisions), in buckets by expiry time, so that expiring is dropping
// whole buckets rather than a scan. The cache is bounded: when it is full
// of live entries, new signed requests are refused (503) rather than a
// live one forgotten, which would open a replay. Each key may hold at most
// its share of the bound (max / number of keys), so that one busy or
// hostile key cannot lock the others out. At about 24 bytes an entry, the
// default bound of a million is some 24 MiB, and sustains a million signed
// requests per window (3,333 a second with the 5-minute default).
type nonceCache struct {
	window time.Duration
	span   time.Duration // of one bucket
	max    int
	share  int            // per key
	keys   map[string]int // key name to index in perKey
	seed   maphash.Seed

	mu      sync.Mutex
	n       int
	perKey  []int
	buckets []nonceBucket // a ring, by expiry
}

type nonceBucket struct {
	end  int64          // expiry bucket number (expiry / span) this bucket holds; 0 for none
	seen map[uint64]int // hash to the key's index
}

// nonceBuckets is how many buckets a window is cut into: expiry is at most
// one bucket late.
const nonceBuckets = 16

// newNonceCache returns a cache bounded to limit entries, shared fairly
// among keys (the names of the bridge's keys).
func newNonceCache(window time.Duration, limit int, keys []string) *nonceCache {
	span := max(window/nonceBuckets, time.Millisecond)
	c := &nonceCache{window: window, span: span, max: limit, seed: maphash.MakeSeed(),
		keys: make(map[string]int, len(keys)), perKey: make([]int, len(keys)+1),
		// Expiries lie within [now, now+2*window]: 2*nonceBuckets
		// buckets, and two more for the edges.
		buckets: make([]nonceBucket, 2*nonceBuckets+2)}
	for i, k := range keys {
		c.keys[k] = i
	}
	c.share = max(limit/max(len(keys), 1), 1)
	return c
}

// add records the MAC of a request signed with key and stamped ts (within
// the window of now), or refuses it.
func (c *nonceCache) add(key string, mac []byte, ts, now time.Time) *problem {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(key)
	h.WriteByte(0)
	h.Write(mac)
	sum := h.Sum64()
	exp := ts.Add(c.window).UnixNano()/int64(c.span) + 1
	cur := now.UnixNano() / int64(c.span)
	ki, ok := c.keys[key]
	if !ok {
		ki = len(c.perKey) - 1 // keys not named at creation share one slot
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.buckets {
		b := &c.buckets[i]
		if b.end != 0 && b.end <= cur {
			c.drop(b)
		}
		if _, dup := b.seen[sum]; dup {
			return refuse(http.StatusUnauthorized, ErrReplayedNonce, "request already accepted: a signed request (its nonce and signature) is accepted once")
		}
	}
	if c.n >= c.max || c.perKey[ki] >= c.share {
		return refuse(http.StatusServiceUnavailable, ErrUnavailable, "too many signed requests in the timestamp window; try again later")
	}
	b := &c.buckets[exp%int64(len(c.buckets))]
	if b.end != exp {
		// The slot's previous bucket expired long ago: the ring spans
		// more than any live expiry.
		c.drop(b)
		b.end, b.seen = exp, make(map[uint64]int)
	}
	b.seen[sum] = ki
	c.n++
	c.perKey[ki]++
	return nil
}

// drop forgets bucket b. Called with c.mu held.
func (c *nonceCache) drop(b *nonceBucket) {
	for _, ki := range b.seen {
		c.perKey[ki]--
	}
	c.n -= len(b.seen)
	b.end, b.seen = 0, nil
}

// Len returns how many nonces are remembered.
func (c *nonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
