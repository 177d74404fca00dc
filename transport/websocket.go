package transport

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

// WebSocketHandler returns the http.Handler for the WebSocket endpoint. It
// answers a request that is not a WebSocket upgrade with 426, and one that
// offers none of cfg.Serializations as subprotocol with 400 naming those it
// speaks. Otherwise it upgrades, with permessage-deflate when the client
// offers it and cfg.Compression allows it (deflate.go), and calls serve in
// the handler's goroutine. When serve returns the connection is closed
// (unless its reader parked it: see doc.go); serve must not use it
// afterwards.
//
// Compression does not cost a compression per subscriber: the endpoint's
// connections share the compressed form of each shared EVENT frame
// (frameCache, SharedWriter).
func WebSocketHandler(cfg Config, serve func(Conn)) http.Handler {
	cfg = cfg.withDefaults()
	names := make([]string, len(cfg.Serializations))
	for i, s := range cfg.Serializations {
		names[i] = s.Subprotocol()
	}
	h := &wsHandler{cfg: cfg, serve: serve, offer: strings.Join(names, ", "),
		origins: compileOrigins(cfg.AllowedOrigins), limit: newAddrLimiter(cfg.MaxConnsPerAddr)}
	if !cfg.Compression.Disabled {
		h.frames = &frameCache{}
	}
	return h
}

type wsHandler struct {
	cfg     Config
	serve   func(Conn)
	offer   string // our subprotocols, for the 400 answer
	origins originPolicy
	limit   *addrLimiter
	// frames holds the compressed shared frames of the endpoint's
	// connections, both upgrade paths; nil with compression off.
	frames *frameCache
	// deflateAnswers are the fast path's Sec-WebSocket-Extensions answers.
	deflateAnswers deflateResponses
}

// negotiateDeflate returns what a handshake with these
// Sec-WebSocket-Extensions lines negotiates.
func (h *wsHandler) negotiateDeflate(lines [][]byte) deflateParams {
	return negotiateDeflate(&h.cfg.Compression, lines)
}

// setDeflate gives c the state that p negotiated.
func (h *wsHandler) setDeflate(c *conn, p deflateParams) {
	if p.on {
		c.deflate = newDeflateState(p, &h.cfg.Compression, h.frames)
	}
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Checked before ws.HTTPUpgrader hijacks the connection, so that these
	// answers are ordinary HTTP responses.
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "transport: this endpoint speaks WAMP over WebSocket only", http.StatusUpgradeRequired)
		return
	}
	if origin := r.Header.Values("Origin"); !h.origins.allows(origin) {
		h.cfg.Logger.Info("transport: websocket from a refused origin", "remote", r.RemoteAddr, "origin", strings.Join(origin, ", "))
		http.Error(w, "transport: origin not allowed", http.StatusForbidden)
		return
	}
	release, ok := h.limit.acquire(r.RemoteAddr)
	// The slot is the connection's until the session ends, which is after
	// this handler returns once the upgrade succeeded (see below).
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()
	if !ok {
		h.cfg.Logger.Info("transport: websocket over the connection limit", "remote", r.RemoteAddr, "limit", h.cfg.MaxConnsPerAddr)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "transport: too many connections from your address", http.StatusServiceUnavailable)
		return
	}
	ser, ok := h.negotiate(r.Header)
	if !ok {
		h.cfg.Logger.Info("transport: websocket without an acceptable subprotocol",
			"remote", r.RemoteAddr, "offered", strings.Join(r.Header.Values("Sec-WebSocket-Protocol"), ", "))
		http.Error(w, "transport: no acceptable WebSocket subprotocol; this router speaks "+h.offer, http.StatusBadRequest)
		return
	}
	sub := ser.Subprotocol()
	up := ws.HTTPUpgrader{
		Timeout:  h.cfg.HandshakeTimeout,
		Protocol: func(p string) bool { return p == sub },
	}
	var zp deflateParams
	if lines := r.Header.Values("Sec-WebSocket-Extensions"); len(lines) > 0 {
		b := make([][]byte, len(lines))
		for i, l := range lines {
			b[i] = []byte(l)
		}
		if zp = h.negotiateDeflate(b); zp.on {
			up.Header = http.Header{"Sec-Websocket-Extensions": {zp.response()}}
		}
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		// The upgrader has answered the client already.
		h.cfg.Logger.Info("transport: websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		if nc != nil {
			_ = nc.Close()
		}
		return
	}
	var pending []byte
	if n := rw.Reader.Buffered(); n > 0 {
		// A client may send its first frames right behind the request.
		p, _ := rw.Reader.Peek(n)
		pending = bytes.Clone(p)
	}
	c := newConn(unwrapReplay(nc), true, ser, h.cfg.MaxMessageSize, 0, h.cfg, pending)
	c.remote = forwardedAddr(r, nc)
	h.setDeflate(c, zp)
	// The session runs on a goroutine of its own and the handler returns:
	// net/http's goroutine has grown a large stack serving the request,
	// and its connection state (request, buffers) stays reachable for as
	// long as the handler runs. At thousands of idle sessions that would
	// be most of their memory.
	handedOff = true
	c.tail = func() {
		c.finish()
		release()
	}
	go c.run(func() { h.serve(c) })
}

// negotiate picks the first of our serializations that the client offers.
func (h *wsHandler) negotiate(hdr http.Header) (wamp.Serialization, bool) {
	offered := hdr.Values("Sec-WebSocket-Protocol")
	for _, s := range h.cfg.Serializations {
		for _, line := range offered {
			if hasToken(line, s.Subprotocol(), false) {
				return s, true
			}
		}
	}
	return 0, false
}

func headerHasToken(hdr http.Header, key, token string) bool {
	for _, line := range hdr.Values(key) {
		if hasToken(line, token, true) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list holds token. Upgrade
// tokens compare case-insensitively; subprotocol names are case-sensitive
// (RFC 6455 4.1).
func hasToken(list, token string, fold bool) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == token || fold && strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}
