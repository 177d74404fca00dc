package transport

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// TestTextNotUTF8: a text message that is not UTF-8 fails the connection
// with close 1007 (RFC 6455 8.1, 7.4.1), whole, split across fragments
// (at the fragment that breaks it, before the message ends), or cut at
// its end; valid text, a rune split across fragments included, and binary
// messages of any bytes pass.
func TestTextNotUTF8(t *testing.T) {
	type frame struct {
		op  ws.OpCode
		fin bool
		p   string
	}
	bad := []struct {
		name   string
		frames []frame
	}{
		{"whole", []frame{{ws.OpText, true, "[1,\"\xc3\x28\"]"}}},
		{"overlong", []frame{{ws.OpText, true, "\xc0\xaf"}}},
		{"surrogate", []frame{{ws.OpText, true, "\xed\xa0\x80"}}},
		{"above U+10FFFF", []frame{{ws.OpText, true, "\xf4\x90\x80\x80"}}},
		{"in a first fragment", []frame{{ws.OpText, false, "ab\xffcd"}}}, // fails before the end
		{"across fragments", []frame{{ws.OpText, false, "a\xe2\x82"}, {ws.OpContinuation, true, "\x28"}}},
		{"cut at the end", []frame{{ws.OpText, false, "ok"}, {ws.OpContinuation, true, "\xe2\x82"}}},
	}
	for _, st := range starters {
		for _, tc := range bad {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				serve, peers := recorder()
				c := dialWS(t, st.start(t, Config{}, serve), "wamp.2.json")
				for _, f := range tc.frames {
					c.send(t, f.op, f.fin, []byte(f.p))
				}
				expectClose(t, c, ws.StatusInvalidFramePayloadData)
				p := recv(t, peers)
				if err := recv(t, p.err); !errors.Is(err, ErrProtocol) {
					t.Fatalf("Read: %v, want ErrProtocol", err)
				}
				select {
				case m := <-p.msgs:
					t.Fatalf("a message %q was read", m)
				default:
				}
			})
		}
		t.Run(st.name+"/valid", func(t *testing.T) {
			serve, peers := recorder()
			c := dialWS(t, st.start(t, Config{}, serve), "wamp.2.json")
			c.send(t, ws.OpText, false, []byte("[1,\"\xe2"))
			c.send(t, ws.OpContinuation, false, []byte("\x82"))
			c.send(t, ws.OpContinuation, true, []byte("\xac\"]"))
			c.send(t, ws.OpBinary, true, []byte{0xff, 0xfe})
			p := recv(t, peers)
			if m := recv(t, p.msgs); string(m) != "[1,\"€\"]" {
				t.Fatalf("text %q", m)
			}
			if m := recv(t, p.msgs); string(m) != "\xff\xfe" {
				t.Fatalf("binary %q", m)
			}
		})
	}
}

// FuzzUTF8Prefix: validUTF8Prefix agrees with utf8.Valid on every split
// of the input into two fragments.
func FuzzUTF8Prefix(f *testing.F) {
	for _, s := range []string{"", "a", "€", "\xe2\x82", "\xc3\x28", "\xf4\x90\x80\x80", "ab€cd", "\xed\xa0\x80"} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			return
		}
		n, ok := validUTF8Prefix(b[:cut])
		got := ok && utf8.Valid(b[n:])
		if want := utf8.Valid(b); got != want {
			t.Fatalf("%q cut at %d: prefix %d %v, whole %v; utf8.Valid %v", b, cut, n, ok, got, want)
		}
	})
}
