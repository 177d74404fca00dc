package config

import (
	"errors"
	"strings"
	"time"

	"github.com/switchboard/switchboard/transport"
)

// The long-poll endpoint of a websocket transport: WAMP over HTTP
// long-poll (advanced profile), the fallback for browsers and proxies
// where WebSocket fails. On by default, as on a Crossbar.io node with a
// longpoll service, so that AutobahnJS's
// transports: [{type: "websocket", ...}, {type: "longpoll", ...}] works
// without configuration.

// ErrLongPoll reports a bad longpoll setting.
var ErrLongPoll = errors.New("bad longpoll setting")

// Defaults of LongPoll.
const (
	// The transport package's.
	DefaultLongPollPath           = transport.DefaultLongPollPath
	DefaultLongPollRequestTimeout = transport.DefaultPollTimeout
	DefaultLongPollSessionTimeout = transport.DefaultSessionTimeout
)

// LongPoll configures the long-poll endpoint of a websocket transport.
type LongPoll struct {
	// Disabled turns the endpoint off (file: enabled: false).
	Disabled bool
	// Path is the base path: a client opens a transport with POST
	// Path/open. Zero value: DefaultLongPollPath.
	Path string
	// RequestTimeout is how long a receive request is held while no
	// message is queued for the client; it must stay below the client's
	// own timeout (12 s for AutobahnJS) and any proxy's read timeout.
	// Zero value: DefaultLongPollRequestTimeout.
	RequestTimeout time.Duration
	// SessionTimeout is how long a transport may go without a request
	// before it is closed and its session leaves. Zero value:
	// DefaultLongPollSessionTimeout.
	SessionTimeout time.Duration
}

var longPollKeys = []string{"enabled", "path", "request_timeout", "session_timeout"}

func (d *decoder) longPoll(me entry) *LongPoll {
	lp := &LongPoll{}
	es, ok := d.mapping(me.val, me.path)
	if !ok {
		return nil
	}
	for _, e := range es {
		switch e.name {
		case "enabled":
			lp.Disabled = !d.boolean(e.val, e.path)
		case "path":
			lp.Path, _ = d.str(e.val, e.path)
		case "request_timeout":
			lp.RequestTimeout = d.duration(e.val, e.path)
		case "session_timeout":
			lp.SessionTimeout = d.duration(e.val, e.path)
		default:
			d.unknown(e, me.path, longPollKeys)
		}
	}
	return lp
}

// setDefaults fills in the zero values of an enabled endpoint.
func (lp *LongPoll) setDefaults() {
	if lp.Path == "" {
		lp.Path = DefaultLongPollPath
	}
	if lp.RequestTimeout == 0 {
		lp.RequestTimeout = DefaultLongPollRequestTimeout
	}
	if lp.SessionTimeout == 0 {
		lp.SessionTimeout = DefaultLongPollSessionTimeout
	}
}

// LongPollEnabled reports whether t serves long-poll.
func (t *Transport) LongPollEnabled() bool {
	return t.Type == WebSocket && t.LongPoll != nil && !t.LongPoll.Disabled
}

func (v *validator) longPoll(t *Transport, path string) {
	lp := t.LongPoll
	if lp == nil {
		return
	}
	path += ".longpoll"
	if t.Type != WebSocket {
		v.failf(path, ErrNotAllowed, "longpoll is for websocket transports only")
		return
	}
	if lp.Disabled {
		return
	}
	p := lp.Path
	switch {
	case p == "":
	case !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#{} \t\r\n"):
		v.failf(path+".path", ErrBadPath, "bad path %q: want an HTTP path starting with \"/\" such as %s", p, DefaultLongPollPath)
	case p == t.Path || strings.HasPrefix(t.Path, p+"/"):
		v.failf(path+".path", ErrBadPath, "path %q overlaps the WebSocket path %q of this listener", p, t.Path)
	case p == "/healthz" || p == "/readyz" || p == "/status":
		v.failf(path+".path", ErrBadPath, "path %q is reserved for the operations endpoints", p)
	}
	if lp.RequestTimeout < 0 {
		v.failf(path+".request_timeout", ErrBadDuration, "must not be negative")
	}
	if lp.SessionTimeout < 0 {
		v.failf(path+".session_timeout", ErrBadDuration, "must not be negative")
	}
	rt, st := lp.RequestTimeout, lp.SessionTimeout
	if rt == 0 {
		rt = DefaultLongPollRequestTimeout
	}
	if st == 0 {
		st = DefaultLongPollSessionTimeout
	}
	if rt > 0 && st > 0 && rt >= st {
		v.failf(path+".session_timeout", ErrLongPoll, "session_timeout %v must be longer than request_timeout %v: a held receive counts as a request", st, rt)
	}
}
