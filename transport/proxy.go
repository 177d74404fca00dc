package transport

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustProxies wraps h so that a request whose TCP peer is one of the
// trusted reverse proxies carries the client's address in RemoteAddr, as
// the proxy reports it in X-Forwarded-For or else X-Real-IP. Everything
// behind h (the WebSocket handler's per-address limit and its sessions'
// RemoteAddr, which logs and the meta API show; the HTTP bridge) then sees
// the client rather than the proxy. From any other peer those headers are
// ignored: anyone can send them, so believing them would let a client
// pose as another address and slip past per-address limits.
//
// The client address has port 0: proxies do not pass the client's port on.
// With no trusted proxies h is returned as is.
func TrustProxies(trusted []netip.Prefix, h http.Handler) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	p := proxies(trusted)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client, ok := p.client(r); ok {
			r = r.WithContext(r.Context()) // a shallow copy, so as not to change the caller's request
			r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		}
		h.ServeHTTP(w, r)
	})
}

type proxies []netip.Prefix

func (p proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// client returns the client address a trusted proxy reports for r; ok is
// false when r's peer is no trusted proxy or the proxy reports nothing
// usable.
//
// X-Forwarded-For is read from the right, each proxy having appended the
// address it received the request from: the first address that is not a
// trusted proxy is the client, since what lies left of it was written by
// that untrusted client itself. If every address is a trusted proxy, the
// leftmost is the client (a client inside the proxies' own network).
func (p proxies) client(r *http.Request) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !p.trusts(peer.Addr()) {
		return netip.Addr{}, false
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		var leftmost netip.Addr
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseHop(hops[i])
			if !ok {
				// A hop we cannot read: what lies left of it is no
				// more trustworthy than it.
				break
			}
			if !p.trusts(a) {
				return a, true
			}
			leftmost = a
		}
		if leftmost.IsValid() {
			return leftmost, true
		}
	}
	if a, ok := parseHop(r.Header.Get("X-Real-IP")); ok {
		return a, true
	}
	return netip.Addr{}, false
}

// parseHop reads one address of X-Forwarded-For or X-Real-IP: an IP
// address, which some proxies write with a port ("1.2.3.4:5678",
// "[2001:db8::1]:80").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// forwardedAddr is the address of r's client when TrustProxies has
// replaced the proxy's, or nil when r came straight from nc's peer.
func forwardedAddr(r *http.Request, nc net.Conn) net.Addr {
	if r.RemoteAddr == nc.RemoteAddr().String() {
		return nil
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}
