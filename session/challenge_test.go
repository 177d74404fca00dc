package session

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// challengeJoiner admits a session that answers a ticket CHALLENGE with
// "good", as the router's authentication does through Challenge.
type challengeJoiner struct {
	handler
	err    chan error // what Challenge returned
	ctxErr chan error // HandshakeContext's state once Challenge returned
}

func (j *challengeJoiner) Join(s *Session, realm wamp.URI, details wamp.Dict) (Handler, wamp.Dict, error) {
	sig, extra, err := s.Challenge("ticket", wamp.Dict{"k": "v"})
	j.err <- err
	j.ctxErr <- s.HandshakeContext().Err()
	if err != nil {
		return nil, nil, err
	}
	if sig != "good" || extra["x"] != "y" {
		return nil, nil, wamp.NewError(wamp.ErrAuthenticationFailed, "bad ticket")
	}
	if s.TLSConnectionState() != nil {
		return nil, nil, errors.New("a pipe has no TLS")
	}
	return j.handler.Join(s, realm, details)
}

func startChallenge(t *testing.T, cfg Config) (*pipeConn, *challengeJoiner, chan struct{}) {
	t.Helper()
	c := newPipe()
	j := &challengeJoiner{handler: handler{left: make(chan struct{})}, err: make(chan error, 1), ctxErr: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		Serve(c, cfg, j)
		close(done)
	}()
	c.in <- []byte(hello)
	m := c.next(t)
	if m.Type != wamp.CHALLENGE || m.Text != "ticket" || m.Details["k"] != "v" {
		t.Fatalf("got %v %q %v, want CHALLENGE ticket with the extra", m, m.Text, m.Details)
	}
	return c, j, done
}

func TestChallenge(t *testing.T) {
	c, j, done := startChallenge(t, Config{})
	c.in <- []byte(`[5,"good",{"x":"y"}]`)
	if m := c.next(t); m.Type != wamp.WELCOME {
		t.Fatalf("got %v, want WELCOME", m)
	}
	if err := <-j.err; err != nil {
		t.Fatal(err)
	}
	c.in <- []byte(`[6,{},"wamp.close.close_realm"]`)
	if m := c.next(t); m.Type != wamp.GOODBYE {
		t.Fatalf("got %v, want GOODBYE", m)
	}
	wait(t, done, "Serve returning")
}

func TestChallengeRefused(t *testing.T) {
	c, _, done := startChallenge(t, Config{})
	c.in <- []byte(`[5,"bad",{"x":"y"}]`)
	if m := c.next(t); m.Type != wamp.ABORT || m.URI != wamp.ErrAuthenticationFailed || wamp.String(m.Details, "message") != "bad ticket" {
		t.Fatalf("got %v %v, want ABORT authentication_failed", m, m.Details)
	}
	wait(t, done, "Serve returning")
}

func TestChallengeAnsweredWrong(t *testing.T) {
	c, j, done := startChallenge(t, Config{})
	c.in <- []byte(`[32,1,{},"public.news"]`)
	if m := c.next(t); m.Type != wamp.ABORT || m.URI != wamp.ErrProtocolViolation {
		t.Fatalf("got %v, want ABORT protocol_violation", m)
	}
	if err := <-j.err; !errors.Is(err, wamp.NewError(wamp.ErrProtocolViolation, "")) {
		t.Errorf("Challenge error %v, want a protocol violation", err)
	}
	wait(t, done, "Serve returning")
}

// A peer that aborts or leaves during the challenge ends the session; the
// router sends no ABORT of its own.
func TestChallengePeerGone(t *testing.T) {
	for name, act := range map[string]func(*pipeConn){
		"abort": func(c *pipeConn) { c.in <- []byte(`[3,{},"wamp.close.goodbye_and_out"]`) },
		"close": func(c *pipeConn) { _ = c.Close(1000, "") },
	} {
		t.Run(name, func(t *testing.T) {
			c, j, done := startChallenge(t, Config{})
			act(c)
			if err := <-j.err; !errors.Is(err, ErrClosed) {
				t.Errorf("Challenge error %v, want ErrClosed", err)
			}
			wait(t, done, "Serve returning")
			select {
			case b := <-c.batches:
				t.Errorf("session wrote %q after the peer left", b)
			default:
			}
		})
	}
}

// The HELLO timeout covers the whole handshake: a client that never
// answers the CHALLENGE is cut off, and the handshake's context ends.
func TestChallengeTimeout(t *testing.T) {
	c, j, done := startChallenge(t, Config{HelloTimeout: 50 * time.Millisecond})
	if err := <-j.err; !errors.Is(err, ErrClosed) {
		t.Errorf("Challenge error %v, want ErrClosed", err)
	}
	if err := <-j.ctxErr; err == nil {
		t.Error("HandshakeContext still live after the HELLO timeout")
	}
	wait(t, done, "Serve returning")
	wait(t, c.closed, "the connection closing")
}
