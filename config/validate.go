package config

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/wamp"
)

// Validate checks c and returns nil, an *Error, or Errors listing every
// problem found, in file order. It never logs or exits.
//
// Zero values pass where SetDefaults would replace them. Validate also
// loads each TLS key pair, the only way to know it is usable, and keeps
// it in TLS.Config where that is nil.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.log()
	v.transports()
	v.realms()
	v.limits()
	v.metrics()
	v.cluster()
	v.console()
	// Report in the order of the file, which is how the operator reads it;
	// errors without a line (a Config built in Go) keep the order found.
	slices.SortStableFunc(v.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(sortLine(a), sortLine(b)), cmp.Compare(a.Col, b.Col))
	})
	return v.errs.err()
}

func sortLine(e *Error) int {
	if e.Line == 0 {
		return math.MaxInt
	}
	return e.Line
}

type validator struct {
	c    *Config
	errs Errors
}

// at places path in the file: where its value stands, or failing that
// (a key the file left out) where its nearest enclosing value does.
func (v *validator) at(path string) position {
	for {
		if p, ok := v.c.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return v.c.pos[""]
		}
		path = path[:i]
	}
}

func (v *validator) failf(path string, sentinel error, format string, args ...any) {
	if len(v.errs) >= maxErrors {
		return
	}
	p := v.at(path)
	v.errs = append(v.errs, &Error{File: v.c.File, Line: p.line, Col: p.col, Key: path,
		Err: &detail{fmt.Sprintf(format, args...), sentinel}})
}

// first describes where an earlier, clashing value stands.
func (v *validator) first(path string) string {
	if p := v.at(path); p.line > 0 {
		return fmt.Sprintf("first at line %d", p.line)
	}
	return "first at " + path
}

func (v *validator) log() {
	switch v.c.Log.Format {
	case "", FormatText, FormatJSON:
	default:
		v.failf("log.format", ErrBadLogFormat, "unknown log format %q: want text or json", v.c.Log.Format)
	}
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

func (v *validator) realms() {
	if len(v.c.Realms) == 0 {
		v.failf("realms", ErrNoRealms, "no realms")
		return
	}
	first := make(map[wamp.URI]string, len(v.c.Realms))
	names := make(map[wamp.URI]bool, len(v.c.Realms))
	for _, r := range v.c.Realms {
		names[r.Name] = true
	}
	for i := range v.c.Realms {
		v.authRealm(i, &v.c.Realms[i], names)
	}
	for i, r := range v.c.Realms {
		path := fmt.Sprintf("realms[%d].name", i)
		switch {
		case r.Name == "":
			v.failf(path, ErrMissing, "missing realm name")
		case !wamp.ValidURI(r.Name, false, false):
			v.failf(path, ErrBadRealm, "bad realm name %q: want a URI such as \"realm1\" or \"com.example.app\"", r.Name)
		case first[r.Name] != "":
			v.failf(path, ErrDuplicateRealm, "duplicate realm %q (%s)", r.Name, v.first(first[r.Name]))
		default:
			first[r.Name] = path
		}
		base := fmt.Sprintf("realms[%d]", i)
		for _, kv := range [...][2]string{{"disclose_publisher", r.DisclosePublisher}, {"disclose_caller", r.DiscloseCaller}} {
			switch kv[1] {
			case "", DiscloseClient, DiscloseAlways, DiscloseNever:
			default:
				v.failf(base+"."+kv[0], ErrBadDisclose, "bad %s %q: want client, always or never", kv[0], kv[1])
			}
		}
		if r.RetainedTopics < 0 {
			v.failf(base+".retained_topics", ErrBadNumber, "retained_topics must not be negative")
		}
		if r.RetainedBytes != 0 {
			v.size(base+".retained_bytes", r.RetainedBytes)
		}
		seen := map[History]string{}
		for j, h := range r.History {
			hp := fmt.Sprintf("%s.history[%d]", base, j)
			match := h.Match
			if match == "" {
				match = wamp.MatchExact
			}
			switch {
			case match != wamp.MatchExact && match != wamp.MatchPrefix && match != wamp.MatchWildcard:
				v.failf(hp+".match", ErrBadHistory, "bad match %q: want exact, prefix or wildcard", h.Match)
			case h.Topic == "" && match != wamp.MatchPrefix,
				h.Topic != "" && !wamp.ValidURI(h.Topic, r.StrictURIs, match != wamp.MatchExact):
				v.failf(hp+".topic", ErrBadHistory, "bad topic %q for match %s", h.Topic, match)
			case h.Limit <= 0:
				v.failf(hp+".limit", ErrBadHistory, "limit must be a positive number of events")
			case seen[History{Topic: h.Topic, Match: match}] != "":
				v.failf(hp, ErrBadHistory, "%s %q is listed twice (%s)", match, h.Topic, v.first(seen[History{Topic: h.Topic, Match: match}]))
			default:
				seen[History{Topic: h.Topic, Match: match}] = hp
			}
		}
	}
}

func (v *validator) limits() {
	l := &v.c.Limits
	v.size("limits.max_message_size", l.MaxMessageSize)
	if l.Queue.Messages < 0 {
		v.failf("limits.outbound_queue.messages", ErrBadNumber, "must not be negative")
	}
	v.size("limits.outbound_queue.bytes", l.Queue.Bytes)
	switch l.Queue.SlowConsumer {
	case "", SlowConsumerDrop, SlowConsumerDisconnect:
	default:
		v.failf("limits.outbound_queue.slow_consumer", ErrBadPolicy, "unknown slow-consumer policy %q: want drop or disconnect", l.Queue.SlowConsumer)
	}
	if l.Queue.DisconnectAfter < 0 {
		v.failf("limits.outbound_queue.disconnect_after", ErrBadDuration, "must not be negative")
	}
}

func (v *validator) size(path string, n int) {
	switch {
	case n < 0:
		v.failf(path, ErrBadSize, "must not be negative")
	case n > MaxSize:
		v.failf(path, ErrBadSize, "%s is too large (at most %s)", formatSize(int64(n)), formatSize(MaxSize))
	}
}
