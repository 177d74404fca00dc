package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// The transports: section; its bridge, static, longpoll, compression and
// security settings have files of their own.

var (
	transportKeys = []string{"type", "listen", "path", "serializers", "max_message_size", "tls", "ping_interval", "ping_timeout",
		"allowed_origins", "max_connections_per_address", "auth_methods", "static", "trusted_proxies", "bridge", "longpoll", "compression"}
	tlsKeys = []string{"cert", "key", "client_ca", "client_auth"}
)

// Transport types.
const (
	WebSocket = "websocket"
	RawSocket = "rawsocket"
)

// UnixPrefix marks a RawSocket listen address as a Unix socket path.
const UnixPrefix = "unix:"

// Transport is one listener.
type Transport struct {
	// Type is WebSocket or RawSocket.
	Type string
	// Listen is "host:port", where host is an IP address, "localhost" or
	// empty (all interfaces) and port 0 picks a free port (for tests); or,
	// for RawSocket only, "unix:/path/to.sock". A relative Unix path in a
	// file is taken relative to the file's directory.
	Listen string
	// Path is the HTTP path of a WebSocket endpoint; it must start with
	// "/". Zero value: DefaultPath. RawSocket transports have none.
	Path string
	// Serializers are those offered to clients, in the router's order of
	// preference. Zero value: all of wamp.Serializations. A file may not
	// give an empty list.
	Serializers []wamp.Serialization
	// MaxMessageSize bounds one message in bytes, in both directions. Zero
	// value: Limits.MaxMessageSize, capped at MaxRawSocketMessageSize for
	// RawSocket. Load always fills it in.
	MaxMessageSize int
	// TLS, when set, makes this a wss:// or TLS RawSocket listener.
	TLS *TLS
	// PingInterval is how often the router pings an idle peer; 0 turns
	// pings off. Load sets DefaultPingInterval for a websocket transport
	// whose file entry has no ping_interval; a Config built in Go gets no
	// pings unless it asks, because zero must be able to mean off.
	PingInterval time.Duration
	// PingTimeout is how long to wait for the pong before closing the
	// connection. Zero value: DefaultPingTimeout.
	PingTimeout time.Duration
	// AllowedOrigins lists the web origins whose pages may open a
	// WebSocket (websocket only): "scheme://host[:port]" patterns where
	// "*" stands for any characters of the host or any port, or "*" alone
	// for every origin. A handshake without an Origin header (no browser)
	// is always allowed; one from another origin gets 403. Zero value:
	// DefaultAllowedOrigins, pages served from this machine only.
	AllowedOrigins []string
	// MaxConnectionsPerAddress bounds the open connections from one IP
	// address on this listener; past it a RawSocket client gets handshake
	// error 4 and a WebSocket client HTTP 503. Zero value: no bound.
	MaxConnectionsPerAddress int
	// AuthMethods, when set, restricts the authentication methods sessions
	// of this listener may use (for example only tls on a listener that
	// asks for client certificates). Zero value: every method of the
	// realm.
	AuthMethods []string
	// Static is a directory whose files are served over HTTP at
	// StaticRoot ("/") on this listener, next to the WebSocket endpoint
	// (websocket only). A relative path in a file is taken relative to the
	// file's directory. Zero value: no files are served.
	Static string
	// TrustedProxies are the reverse proxies (addresses or prefixes) whose
	// X-Forwarded-For and X-Real-IP headers name the client, for logs,
	// the meta API and MaxConnectionsPerAddress (websocket only). Those
	// headers from anyone else are ignored. Zero value: none trusted.
	TrustedProxies []netip.Prefix
	// Bridge, when set, serves the HTTP bridge (publish, call, webhooks,
	// HTTP subscribers) on this listener (websocket only). Zero value:
	// none.
	Bridge *Bridge
	// LongPoll configures WAMP over HTTP long-poll on this listener
	// (websocket only). Zero value: SetDefaults enables it at
	// DefaultLongPollPath; LongPoll.Disabled turns it off.
	LongPoll *LongPoll
	// Compression configures permessage-deflate on this listener
	// (websocket only). Zero value (nil): compression on, with the
	// defaults documented on Compression.
	Compression *Compression
}

// DefaultAllowedOrigins are the origins a websocket transport allows when
// its config gives none: pages served from this machine (the transport
// package's list).
var DefaultAllowedOrigins = transport.DefaultAllowedOrigins

// TLS names a certificate and its key, both PEM files. A relative path in
// a file is taken relative to the file's directory, so that a node's
// config and certificates can move together.
type TLS struct {
	Cert string
	Key  string
	// ClientCA is a PEM file of the certificate authorities whose client
	// certificates the listener accepts, for the tls authentication
	// method. Zero value: no client certificates are asked for.
	ClientCA string
	// ClientAuth is ClientAuthOptional (zero value: a client may present a
	// certificate, which is then verified) or ClientAuthRequired (a
	// client without a valid certificate cannot connect). Needs ClientCA.
	ClientAuth string
	// Config is built by Load (and by Validate where it is nil) from the
	// key pair and ClientCA: TLS 1.2 at least, Go's default cipher suites.
	Config *tls.Config
}

// Values of TLS.ClientAuth.
const (
	ClientAuthOptional = "optional"
	ClientAuthRequired = "required"
)

// Network returns the arguments for net.Listen: ("unix", path) for a Unix
// socket, ("tcp", host:port) otherwise.
func (t *Transport) Network() (network, address string) {
	if path, ok := strings.CutPrefix(t.Listen, UnixPrefix); ok {
		return "unix", path
	}
	return "tcp", t.Listen
}

func (d *decoder) transports(me entry) []Transport {
	items, ok := d.list(me.val, me.path)
	if ok && len(items) == 0 {
		d.failf(me.val, me.path, ErrNoTransports, "no transports: give at least one, or drop the key for the defaults")
	}
	ts := make([]Transport, len(items))
	for i, item := range items {
		ts[i] = d.transport(item, fmt.Sprintf("%s[%d]", me.path, i))
	}
	return ts
}

func (d *decoder) transport(n ast.Node, path string) Transport {
	var t Transport
	pingSet := false
	es, _ := d.mapping(n, path)
	for _, e := range es {
		switch e.name {
		case "type":
			t.Type, _ = d.str(e.val, e.path)
		case "listen":
			t.Listen, _ = d.str(e.val, e.path)
			if p, isUnix := strings.CutPrefix(t.Listen, UnixPrefix); isUnix && p != "" {
				t.Listen = UnixPrefix + d.localPath(p)
			}
		case "path":
			t.Path, _ = d.str(e.val, e.path)
		case "serializers":
			t.Serializers = d.serializers(e)
		case "max_message_size":
			t.MaxMessageSize = d.size(e.val, e.path)
		case "tls":
			t.TLS = d.tls(e)
		case "ping_interval":
			pingSet = true
			t.PingInterval = d.duration(e.val, e.path)
		case "ping_timeout":
			t.PingTimeout = d.duration(e.val, e.path)
		case "allowed_origins":
			t.AllowedOrigins = d.strings(e)
		case "max_connections_per_address":
			t.MaxConnectionsPerAddress = d.integer(e.val, e.path)
		case "auth_methods":
			t.AuthMethods = d.strings(e)
		case "static":
			t.Static = d.static(e)
		case "trusted_proxies":
			t.TrustedProxies = d.trustedProxies(e)
		case "bridge":
			t.Bridge = d.bridge(e)
		case "longpoll":
			t.LongPoll = d.longPoll(e)
		case "compression":
			t.Compression = d.compression(e)
		default:
			d.unknown(e, path, transportKeys)
		}
	}
	if !pingSet && t.Type == WebSocket {
		t.PingInterval = DefaultPingInterval
	}
	return t
}

func (d *decoder) serializers(me entry) []wamp.Serialization {
	items, ok := d.list(me.val, me.path)
	if ok && len(items) == 0 {
		d.failf(me.val, me.path, ErrBadSerializer, "no serializers: give at least one of json, msgpack, cbor, or drop the key for all three")
	}
	var ss []wamp.Serialization
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", me.path, i)
		name, ok := d.str(item, path)
		if !ok {
			continue
		}
		s, known := wamp.ParseSerialization(name)
		if !known {
			d.failf(item, path, ErrBadSerializer, "unknown serializer %q: want json, msgpack or cbor", name)
			continue
		}
		ss = append(ss, s)
	}
	return ss
}

func (d *decoder) tls(me entry) *TLS {
	r, ok := d.resolve(me.val, me.path)
	if !ok || r == nil {
		d.mark(me.path, me.val)
		return nil
	}
	t := &TLS{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "cert":
			t.Cert, _ = d.str(e.val, e.path)
			t.Cert = d.localPath(t.Cert)
		case "key":
			t.Key, _ = d.str(e.val, e.path)
			t.Key = d.localPath(t.Key)
		case "client_ca":
			t.ClientCA, _ = d.str(e.val, e.path)
			t.ClientCA = d.localPath(t.ClientCA)
		case "client_auth":
			t.ClientAuth, _ = d.str(e.val, e.path)
		default:
			d.unknown(e, me.path, tlsKeys)
		}
	}
	return t
}

func (v *validator) transports() {
	if len(v.c.Transports) == 0 {
		v.failf("transports", ErrNoTransports, "no transports")
		return
	}
	type bound struct {
		ep   endpoint
		path string
	}
	var seen []bound
	for i := range v.c.Transports {
		t := &v.c.Transports[i]
		path := fmt.Sprintf("transports[%d]", i)
		v.transport(t, path)
		ep, ok := v.listen(t, path+".listen")
		if !ok {
			continue
		}
		for _, s := range seen {
			if !ep.clashes(s.ep) {
				continue
			}
			if ep.text == s.ep.text {
				v.failf(path+".listen", ErrDuplicateListen, "duplicate listen address %q (%s)", ep.text, v.first(s.path))
			} else {
				v.failf(path+".listen", ErrDuplicateListen, "listen address %q overlaps %q (%s)", ep.text, s.ep.text, v.first(s.path))
			}
			break
		}
		seen = append(seen, bound{ep, path + ".listen"})
	}
}

func (v *validator) transport(t *Transport, path string) {
	switch t.Type {
	case WebSocket:
		if t.Path != "" && (!strings.HasPrefix(t.Path, "/") || strings.ContainsAny(t.Path, "?# \t\r\n")) {
			v.failf(path+".path", ErrBadPath, "bad path %q: want an HTTP path starting with \"/\"", t.Path)
		}
	case RawSocket:
		if t.Path != "" {
			v.failf(path+".path", ErrNotAllowed, "path is for websocket transports only")
		}
	case "":
		v.failf(path+".type", ErrMissing, "missing transport type: want websocket or rawsocket")
	default:
		v.failf(path+".type", ErrTransportType, "unknown transport type %q: want websocket or rawsocket", t.Type)
	}

	for j, s := range t.Serializers {
		sp := fmt.Sprintf("%s.serializers[%d]", path, j)
		if !slices.Contains(wamp.Serializations, s) {
			v.failf(sp, ErrBadSerializer, "unknown serializer %v", s)
		} else if k := slices.Index(t.Serializers, s); k < j {
			v.failf(sp, ErrDuplicateSerializer, "duplicate serializer %v (%s)", s, v.first(fmt.Sprintf("%s.serializers[%d]", path, k)))
		}
	}

	v.size(path+".max_message_size", t.MaxMessageSize)
	if t.Type == RawSocket && t.MaxMessageSize > MaxRawSocketMessageSize {
		v.failf(path+".max_message_size", ErrBadSize, "%s is too large for rawsocket, whose frames carry at most 16MiB", formatSize(int64(t.MaxMessageSize)))
	}
	if t.PingInterval < 0 {
		v.failf(path+".ping_interval", ErrBadDuration, "must not be negative (0 turns pings off)")
	}
	if t.PingTimeout < 0 {
		v.failf(path+".ping_timeout", ErrBadDuration, "must not be negative")
	}
	if t.TLS != nil {
		v.tls(t, path+".tls")
	}
	v.transportSecurity(t, path)
	v.web(t, path)
	v.bridge(t, path)
	v.longPoll(t, path)
	v.compression(t, path)
}

func (v *validator) tls(t *Transport, path string) {
	if strings.HasPrefix(t.Listen, UnixPrefix) {
		v.failf(path, ErrNotAllowed, "tls is not for unix sockets")
		return
	}
	ok := true
	for _, f := range []struct{ key, file string }{{"cert", t.TLS.Cert}, {"key", t.TLS.Key}} {
		if f.file == "" {
			v.failf(path+"."+f.key, ErrTLS, "missing %s file", f.key)
			ok = false
		} else if err := regularFile(f.file); err != nil {
			v.failf(path+"."+f.key, ErrTLS, "%s file %q: %v", f.key, f.file, err)
			ok = false
		}
	}
	if !ok {
		return
	}
	pair, err := tls.LoadX509KeyPair(t.TLS.Cert, t.TLS.Key)
	if err != nil {
		v.failf(path, ErrTLS, "cannot load key pair: %v", err)
		return
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if !v.clientCA(t.TLS, path, cfg) {
		return
	}
	if t.TLS.Config == nil {
		t.TLS.Config = cfg
	}
}

// regularFile refuses devices and pipes before tls.LoadX509KeyPair reads
// the whole file: a path such as /dev/zero would never finish.
func regularFile(name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}

// endpoint is a listen address in the form that overlap checks need.
type endpoint struct {
	text string
	unix string // cleaned socket path, or ""
	port int
	// addrs are the addresses bound; none means every interface.
	addrs []netip.Addr
}

var loopbacks = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}

// clashes reports whether two listeners could not both bind. Port 0 never
// clashes, as each gets its own free port.
func (a endpoint) clashes(b endpoint) bool {
	if a.unix != "" || b.unix != "" {
		return a.unix == b.unix
	}
	if a.port != b.port || a.port == 0 {
		return false
	}
	if len(a.addrs) == 0 || len(b.addrs) == 0 {
		return true
	}
	for _, x := range a.addrs {
		if slices.Contains(b.addrs, x) {
			return true
		}
	}
	return false
}

func (v *validator) listen(t *Transport, path string) (endpoint, bool) {
	ep := endpoint{text: t.Listen}
	if t.Listen == "" {
		v.failf(path, ErrMissing, "missing listen address: want host:port")
		return ep, false
	}
	if sock, ok := strings.CutPrefix(t.Listen, UnixPrefix); ok {
		if t.Type == WebSocket {
			v.failf(path, ErrNotAllowed, "unix sockets are for rawsocket transports only")
			return ep, false
		}
		if sock == "" {
			v.failf(path, ErrBadAddress, "bad address %q: missing socket path", t.Listen)
			return ep, false
		}
		ep.unix = filepath.Clean(sock)
		return ep, true
	}
	host, port, err := net.SplitHostPort(t.Listen)
	if err != nil {
		reason := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		v.failf(path, ErrBadAddress, "bad address %q: %s (want host:port)", t.Listen, reason)
		return ep, false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		reason := "port out of range"
		if port == "" || strings.Trim(port, "0123456789") != "" {
			reason = "port must be a number"
		}
		v.failf(path, ErrBadAddress, "bad address %q: %s", t.Listen, reason)
		return ep, false
	}
	ep.port = int(n)
	switch {
	case host == "":
	case host == "localhost":
		ep.addrs = loopbacks
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			v.failf(path, ErrBadAddress, "bad address %q: host must be an IP address, \"localhost\" or empty", t.Listen)
			return ep, false
		}
		if a = a.Unmap(); !a.IsUnspecified() {
			ep.addrs = []netip.Addr{a}
		}
	}
	return ep, true
}
