package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/auth"
)

// Login defaults.
const (
	// CookieName is the console's login cookie.
	CookieName = "switchboard_console"
	// DefaultLoginTTL is how long a login from the form lasts: a working
	// day, so that a console left open on a wall screen asks again each
	// morning rather than never.
	DefaultLoginTTL = 12 * time.Hour
	// maxLogins bounds the logins remembered; past it the oldest goes.
	maxLogins = 1024
	// basicCacheTTL is how long a verified HTTP Basic credential is taken
	// without verifying it again. A script polling the data endpoint once
	// a second would otherwise run argon2id (64 MiB, tens of
	// milliseconds) each time.
	basicCacheTTL = time.Minute
)

// User is one login of the console.
type User struct {
	Name   string
	Secret auth.Secret
}

// logins holds the form logins and the recently verified Basic
// credentials.
type logins struct {
	mu     sync.Mutex
	users  map[string]auth.Secret
	byTok  map[string]login // form logins by cookie token
	basics map[[32]byte]login
}

type login struct {
	user    string
	expires time.Time
}

func (l *logins) setUsers(us []User) {
	m := make(map[string]auth.Secret, len(us))
	for _, u := range us {
		m[u.Name] = u.Secret
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = m
	// A changed password must not keep working from the cache; form
	// logins of users still listed stay (a reload is no logout).
	l.basics = make(map[[32]byte]login)
	for tok, lg := range l.byTok {
		if _, ok := m[lg.user]; !ok {
			delete(l.byTok, tok)
		}
	}
}

func (l *logins) secret(name string) (auth.Secret, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.users[name]
	return s, ok
}

// newLogin remembers a form login and returns its cookie token.
func (l *logins) newLogin(user string, now time.Time, ttl time.Duration) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byTok) >= maxLogins {
		oldest := ""
		for t, lg := range l.byTok {
			if !lg.expires.After(now) {
				delete(l.byTok, t)
			} else if oldest == "" || lg.expires.Before(l.byTok[oldest].expires) {
				oldest = t
			}
		}
		if len(l.byTok) >= maxLogins {
			delete(l.byTok, oldest)
		}
	}
	l.byTok[tok] = login{user, now.Add(ttl)}
	return tok
}

// cookieUser returns the user of a cookie token, "" if none or expired.
func (l *logins) cookieUser(tok string, now time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg, ok := l.byTok[tok]
	if !ok {
		return ""
	}
	if _, listed := l.users[lg.user]; !listed || !lg.expires.After(now) {
		delete(l.byTok, tok)
		return ""
	}
	return lg.user
}

func (l *logins) logout(tok string) {
	l.mu.Lock()
	delete(l.byTok, tok)
	l.mu.Unlock()
}

func (l *logins) cachedBasic(key [32]byte, now time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg, ok := l.basics[key]
	if !ok || !lg.expires.After(now) {
		delete(l.basics, key)
		return ""
	}
	return lg.user
}

func (l *logins) cacheBasic(key [32]byte, user string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.basics) >= maxLogins {
		clear(l.basics)
	}
	l.basics[key] = login{user, now.Add(basicCacheTTL)}
}

// verify checks a name and password, slowed down as WAMP authentication
// is for an address with recent failures (the router's auth.Limiter).
// It returns false on a wrong pair and when ctx ends during the delay.
func (h *Handler) verify(ctx context.Context, remote, name, password string) bool {
	if d := h.cfg.Limiter.Delay(remote); d > 0 {
		h.log.Info("console: slowing down an address with recent login failures", "remote", remote, "delay", d)
		if err := h.sleep(ctx, d); err != nil {
			return false
		}
	}
	// An unknown name counts as a failure as a wrong password does, so
	// that guessing names is slowed down too.
	if s, ok := h.logins.secret(name); !ok || !s.Verify(password) {
		h.cfg.Limiter.Failure(remote)
		h.log.Info("console: login refused", "user", name, "remote", remote)
		return false
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// authenticate returns the user of the request's login cookie or HTTP
// Basic credentials; "" for none. basicFailed is set when Basic
// credentials were given and were wrong.
func (h *Handler) authenticate(req *http.Request) (user string, basicFailed bool) {
	now := h.now()
	if c, err := req.Cookie(CookieName); err == nil && c.Value != "" {
		if u := h.logins.cookieUser(c.Value, now); u != "" {
			return u, false
		}
	}
	name, password, ok := req.BasicAuth()
	if !ok {
		return "", false
	}
	key := sha256.Sum256([]byte(name + "\x00" + password))
	if u := h.logins.cachedBasic(key, now); u != "" {
		return u, false
	}
	if !h.verify(req.Context(), req.RemoteAddr, name, password) {
		return "", true
	}
	h.logins.cacheBasic(key, name, now)
	return name, false
}

// sameOrigin reports whether a request that changes something comes from
// the console's own pages: a browser sends Origin on every POST, and a
// page of another site has another one. A request without Origin (curl, a
// script) passes here; the actions need the CSRF header too, which no
// form and no cross-site fetch without CORS can set.
func sameOrigin(req *http.Request) bool {
	o := req.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	host := req.Host
	if fh := req.Header.Get("X-Forwarded-Host"); fh != "" {
		// Behind a reverse proxy the page's origin is the proxy's.
		host, _, _ = strings.Cut(fh, ",")
		if strings.EqualFold(u.Host, strings.TrimSpace(host)) {
			return true
		}
		host = req.Host
	}
	return strings.EqualFold(u.Host, host)
}
