package session

import (
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// FuzzHello feeds arbitrary first messages (HELLO with any details: roles,
// features, authmethods, authextra) to a session: whatever they hold, the
// session answers WELCOME or ABORT with a WAMP error URI, never panics,
// and Serve returns once the connection closes.
func FuzzHello(f *testing.F) {
	for _, s := range []string{
		hello,
		`[1,"realm1",{"roles":{"subscriber":{"features":{"pattern_based_subscription":true}},"caller":{"features":{"call_canceling":true,"progressive_call_results":1}}}}]`,
		`[1,"realm1",{"roles":{"publisher":{}},"authmethods":["ticket","wampcra"],"authid":"joe","authextra":{"pubkey":"00","channel_binding":null}}]`,
		`[1,"realm1",{"roles":{"callee":{"features":null}},"authmethods":"ticket"}]`,
		`[1,"realm1",{"roles":{"callee":[]}}]`,
		`[1,"realm1",{"roles":{}}]`,
		`[1,"realm1",{}]`,
		`[1,"no such realm",{"roles":{"caller":{}}}]`,
		`[1,"realm2",{"roles":{"caller":{}}}]`,
		`[1,"realm1",{"roles":{"caller":{}}},"extra"]`,
		`[64,"realm1",{"roles":{"caller":{}}}]`,
		`[1,"realm1",{"roles":{"caller":{"features":{"x":{"y":{"z":[1,2,{"a":null}]}}}}}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := newPipe()
		h := &handler{left: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			Serve(c, Config{}, h)
			close(done)
		}()
		c.in <- frame
		m := c.next(t)
		switch m.Type {
		case wamp.WELCOME:
			_ = c.Close(0, "")
		case wamp.ABORT:
			if !wamp.ValidURI(m.URI, true, false) {
				t.Fatalf("ABORT with URI %q for %q", m.URI, frame)
			}
		default:
			t.Fatalf("first answer %v to %q, want WELCOME or ABORT", m.Type, frame)
		}
		wait(t, done, "Serve returning")
	})
}
