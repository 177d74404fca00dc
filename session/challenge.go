package session

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/switchboard/switchboard/wamp"
)

// Challenge sends CHALLENGE with method and extra, and returns the peer's
// AUTHENTICATE: its signature and extra. It implements auth.Challenger for
// the Joiner, and only Join may call it: it reads from the connection on
// the reader goroutine, within the handshake's HELLO timeout. When the peer
// is gone, aborts or times out, the error wraps ErrClosed, and the session
// ends without an ABORT of its own; another message than AUTHENTICATE is a
// protocol violation (*wamp.Error).
func (s *Session) Challenge(method string, extra wamp.Dict) (signature string, authExtra wamp.Dict, err error) {
	if extra == nil {
		extra = wamp.Dict{}
	}
	if err := s.Send(&wamp.Message{Type: wamp.CHALLENGE, Text: method, Details: extra}); err != nil {
		return "", nil, fmt.Errorf("%w: CHALLENGE: %w", ErrClosed, err)
	}
	frame, err := s.conn.Read()
	if err != nil {
		s.logReadError(err)
		return "", nil, fmt.Errorf("%w: waiting for AUTHENTICATE: %w", ErrClosed, err)
	}
	var m wamp.Message
	if err := s.codec.Decode(frame, &m); err != nil {
		return "", nil, wamp.NewError(wamp.ErrProtocolViolation, "bad AUTHENTICATE: "+err.Error())
	}
	s.countIn(&m, frame)
	switch m.Type {
	case wamp.AUTHENTICATE:
		return m.Text, m.Details, nil
	case wamp.ABORT:
		s.log.Info("peer aborted the authentication", "reason", m.URI)
		return "", nil, fmt.Errorf("%w: the peer aborted: %s", ErrClosed, m.URI)
	}
	return "", nil, wamp.NewError(wamp.ErrProtocolViolation, fmt.Sprintf("%v in answer to CHALLENGE", m.Type))
}

// HandshakeContext is done when the handshake's HELLO timeout has passed
// or the handshake is over: what a Joiner's authentication may take.
func (s *Session) HandshakeContext() context.Context {
	if s.hctx == nil {
		return context.Background()
	}
	return s.hctx
}

// TLSConnectionState returns the TLS state of the connection, or nil when
// it is not TLS. Conns that can be TLS report it with a method
// TLSConnectionState() (tls.ConnectionState, bool), as transport's do.
func (s *Session) TLSConnectionState() *tls.ConnectionState {
	c, ok := s.conn.(interface {
		TLSConnectionState() (tls.ConnectionState, bool)
	})
	if !ok {
		return nil
	}
	cs, ok := c.TLSConnectionState()
	if !ok {
		return nil
	}
	return &cs
}
