package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// RawSocket handshake values of the specification.
const (
	rawMagic = 0x7f

	// Error codes of a handshake reply, sent in the high nibble.
	rawErrSerializer = 1 // serializer unsupported
	rawErrReserved   = 3 // use of reserved bits
	rawErrMaxConns   = 4 // maximum connection count reached
)

// ServeRawSocket accepts WAMP-over-RawSocket connections on ln (TCP, Unix or
// TLS from Listen) until ln is closed, and then returns nil. Each connection
// gets a goroutine that does the handshake within cfg.HandshakeTimeout and
// then runs serve; when serve returns the connection is closed (unless its
// reader parked it: see doc.go), and serve must not use it afterwards. ServeRawSocket does not wait for those
// goroutines, as http.Server.Serve does not wait for handlers.
func ServeRawSocket(ln net.Listener, cfg Config, serve func(Conn)) error {
	cfg = cfg.withDefaults()
	limit := newAddrLimiter(cfg.MaxConnsPerAddr)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Running out of file descriptors passes; spinning on it would
			// not help it pass.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				cfg.Logger.Warn("transport: rawsocket accept", "error", err, "retry", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("transport: rawsocket accept: %w", err)
		}
		backoff = 0
		go serveRawSocket(nc, cfg, limit, serve)
	}
}

func serveRawSocket(nc net.Conn, cfg Config, limit *addrLimiter, serve func(Conn)) {
	release, ok := limit.acquire(nc.RemoteAddr().String())
	if !ok {
		release()
		cfg.Logger.Info("transport: rawsocket over the connection limit", "remote", nc.RemoteAddr().String(), "limit", cfg.MaxConnsPerAddr)
		refuseRawSocket(nc, cfg, rawErrMaxConns)
		return
	}
	c, err := rawHandshake(nc, cfg)
	if err != nil {
		release()
		cfg.Logger.Info("transport: rawsocket handshake failed", "remote", nc.RemoteAddr().String(), "error", err)
		_ = nc.Close()
		return
	}
	c.tail = func() {
		c.finish()
		release()
	}
	c.run(func() { serve(c) })
}

// rawHandshake answers the client's 4-octet request. On error the caller
// closes nc.
func rawHandshake(nc net.Conn, cfg Config) (*conn, error) {
	_ = nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	var req [4]byte
	// Read unbuffered, so that nothing past the request is consumed before
	// the conn's own reader exists.
	if _, err := io.ReadFull(nc, req[:]); err != nil {
		return nil, fmt.Errorf("%w: rawsocket: reading request: %w", ErrHandshake, err)
	}
	if req[0] != rawMagic {
		// Not RawSocket at all: the specification says to fail the
		// connection without a reply.
		return nil, fmt.Errorf("%w: rawsocket: first octet %#02x is not the magic 0x7f", ErrHandshake, req[0])
	}
	ser := wamp.Serialization(req[1] & 0x0f)
	var code byte
	var why string
	switch {
	case req[2] != 0 || req[3] != 0:
		code, why = rawErrReserved, fmt.Sprintf("reserved octets %#02x %#02x", req[2], req[3])
	case !slices.Contains(cfg.Serializations, ser):
		code, why = rawErrSerializer, fmt.Sprintf("serializer %d unsupported", ser)
	}
	if code != 0 {
		_, _ = nc.Write([]byte{rawMagic, code << 4, 0, 0})
		return nil, fmt.Errorf("%w: rawsocket: %s", ErrHandshake, why)
	}
	exp := rawExponent(cfg.MaxMessageSize)
	if _, err := nc.Write([]byte{rawMagic, exp<<4 | byte(ser), 0, 0}); err != nil {
		return nil, fmt.Errorf("%w: rawsocket: writing reply: %w", ErrHandshake, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return newConn(nc, false, ser, 1<<(9+int(exp)), 1<<(9+int(req[1]>>4)), cfg, nil), nil
}

// refuseRawSocket reads the client's handshake request and answers it with
// the error code, then closes nc.
func refuseRawSocket(nc net.Conn, cfg Config, code byte) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	var req [4]byte
	if _, err := io.ReadFull(nc, req[:]); err != nil || req[0] != rawMagic {
		return
	}
	_, _ = nc.Write([]byte{rawMagic, code << 4, 0, 0})
}

// rawExponent returns the largest n in 0..15 with 2^(9+n) <= max.
func rawExponent(max int) byte {
	var n byte
	for n < 15 && 1<<(9+int(n)+1) <= max {
		n++
	}
	return n
}
