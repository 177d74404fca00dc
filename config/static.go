package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// The web-facing settings of a websocket transport: a directory of static
// files served next to the WebSocket endpoint (static), and the reverse
// proxies whose X-Forwarded-For / X-Real-IP headers name the client
// (trusted_proxies).

// Errors of the web-facing transport settings, for errors.Is.
var (
	ErrStatic = errors.New("bad static directory")
	ErrProxy  = errors.New("bad trusted proxy")
)

// StaticRoot is the URL path at which a transport's Static directory is
// served. The WebSocket endpoint and the HTTP bridge, having paths of
// their own, take precedence over files of the same name.
const StaticRoot = "/"

// static reads the static directory, relative to the file's directory.
func (d *decoder) static(me entry) string {
	s, _ := d.str(me.val, me.path)
	return d.localPath(s)
}

// trustedProxies reads a list of IP addresses and CIDR prefixes.
func (d *decoder) trustedProxies(me entry) []netip.Prefix {
	items, ok := d.list(me.val, me.path)
	if !ok {
		return nil
	}
	out := make([]netip.Prefix, 0, len(items))
	bad := false
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", me.path, i)
		s, ok := d.str(item, path)
		if !ok {
			bad = true
			continue
		}
		p, err := ParseProxy(s)
		if err != nil {
			d.failf(item, path, ErrProxy, "%v", err)
			bad = true
			continue
		}
		out = append(out, p)
	}
	if bad {
		// Reported already; an empty list would add "no proxies".
		return nil
	}
	return out
}

// ParseProxy parses one trusted_proxies entry: an IP address
// ("10.0.0.5", "::1") or a CIDR prefix ("10.0.0.0/8", "fd00::/8").
func ParseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad prefix %q: want an IP address or CIDR prefix such as 10.0.0.0/8", s)
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("bad prefix %q: host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad address %q: want an IP address or CIDR prefix such as 10.0.0.0/8", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// web checks static and trusted_proxies.
func (v *validator) web(t *Transport, path string) {
	if t.Static != "" {
		switch {
		case t.Type != WebSocket:
			v.failf(path+".static", ErrNotAllowed, "static is for websocket transports only")
		case t.Path == StaticRoot:
			v.failf(path+".static", ErrStatic, "the WebSocket endpoint is at %q, where the static files would be: give it a path of its own, such as /ws", StaticRoot)
		default:
			if fi, err := os.Stat(t.Static); err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				v.failf(path+".static", ErrStatic, "directory %q: %v", t.Static, err)
			} else if !fi.IsDir() {
				v.failf(path+".static", ErrStatic, "%q is not a directory", t.Static)
			}
		}
	}
	if t.TrustedProxies != nil {
		switch {
		case t.Type != WebSocket:
			v.failf(path+".trusted_proxies", ErrNotAllowed, "trusted_proxies is for websocket transports only")
		case len(t.TrustedProxies) == 0:
			v.failf(path+".trusted_proxies", ErrProxy, "no proxies: drop the key to trust none")
		}
		for i, p := range t.TrustedProxies {
			if !p.IsValid() {
				v.failf(fmt.Sprintf("%s.trusted_proxies[%d]", path, i), ErrProxy, "invalid prefix")
			}
		}
	}
}
