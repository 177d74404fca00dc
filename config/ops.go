package config

import (
	"fmt"
	"strings"
)

// DefaultMetricsPath is where Prometheus scrapes when metrics.path is not
// set.
const DefaultMetricsPath = "/metrics"

// Metrics configures the operations endpoints: /metrics (Prometheus) and
// /status (JSON) on the HTTP listener, or on their own address.
// /healthz and /readyz are served on every websocket listener whatever
// this says, for load balancers and orchestrators.
type Metrics struct {
	// Disabled turns counting and /metrics off. Zero value: on. YAML:
	// enabled: false.
	Disabled bool
	// Listen, when set, is a "host:port" of its own for /metrics,
	// /status, /healthz and /readyz, and /metrics and /status are then
	// served only there, so that they need not be exposed where clients
	// connect. Zero value: they are served on every websocket listener.
	Listen string
	// Path of the Prometheus endpoint. Zero value: DefaultMetricsPath.
	Path string
}

// MetricsPath returns the path of /metrics with its default.
func (m *Metrics) MetricsPath() string {
	if m.Path == "" {
		return DefaultMetricsPath
	}
	return m.Path
}

var metricsKeys = []string{"enabled", "listen", "path"}

func (d *decoder) metrics(me entry, m *Metrics) {
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "enabled":
			m.Disabled = !d.boolean(e.val, e.path)
		case "listen":
			m.Listen, _ = d.str(e.val, e.path)
		case "path":
			m.Path, _ = d.str(e.val, e.path)
		default:
			d.unknown(e, me.path, metricsKeys)
		}
	}
}

// opsPaths are the fixed paths of the operations endpoints next to
// metrics.path.
var opsPaths = []string{"/healthz", "/readyz", "/status"}

func (v *validator) metrics() {
	m := &v.c.Metrics
	if p := m.Path; p != "" && (!strings.HasPrefix(p, "/") || p == "/" || strings.ContainsAny(p, "?# \t\r\n")) {
		v.failf("metrics.path", ErrBadPath, "bad path %q: want an HTTP path starting with \"/\" (default %s)", p, DefaultMetricsPath)
	}
	path := m.MetricsPath()
	for i := range v.c.Transports {
		t := &v.c.Transports[i]
		if t.Type != WebSocket {
			continue
		}
		if t.Path == path && m.Listen == "" && !m.Disabled {
			v.failf("metrics.path", ErrBadPath, "metrics path %q is the WebSocket path of transports[%d]", path, i)
		}
		for _, p := range opsPaths {
			if t.Path == p {
				v.failf(fmt.Sprintf("transports[%d].path", i), ErrBadPath, "path %q is reserved for the operations endpoints", p)
			}
		}
	}
	for _, p := range opsPaths {
		if path == p {
			v.failf("metrics.path", ErrBadPath, "path %q is reserved for the operations endpoints", p)
		}
	}
	if m.Listen == "" {
		return
	}
	if strings.HasPrefix(m.Listen, UnixPrefix) {
		v.failf("metrics.listen", ErrNotAllowed, "metrics.listen takes host:port, not a unix socket")
		return
	}
	ep, ok := v.listen(&Transport{Type: WebSocket, Listen: m.Listen}, "metrics.listen")
	if !ok {
		return
	}
	for i := range v.c.Transports {
		t := &v.c.Transports[i]
		if strings.HasPrefix(t.Listen, UnixPrefix) {
			continue
		}
		o, ok := v.quietListen(t)
		if ok && ep.clashes(o) {
			v.failf("metrics.listen", ErrDuplicateListen, "listen address %q clashes with transports[%d] (%q)", m.Listen, i, t.Listen)
		}
	}
}

// quietListen parses a transport's address without reporting errors, which
// transports() has reported already.
func (v *validator) quietListen(t *Transport) (endpoint, bool) {
	saved := v.errs
	ep, ok := v.listen(t, "")
	v.errs = saved
	return ep, ok
}
