package transport

import (
	"testing"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

// FuzzDeflateRead reads frames on a connection that negotiated
// permessage-deflate, with or without client context takeover: whatever
// the compressed input (bombs, corrupt streams, RSV1 where it is not
// allowed, fragments split anywhere), Read returns messages within the
// limit or fails the connection, and never panics.
func FuzzDeflateRead(f *testing.F) {
	f.Add(zFrame(f, ws.OpText, true, []byte(`[1,"realm1",{}]`)), uint16(3), false)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, takeover bool) {
		mc := splitInput(nil, data, split)
		cfg := Config{MaxMessageSize: fuzzMax, Compression: Compression{ClientContextTakeover: takeover, ClientMaxWindowBits: 10}}.withDefaults()
		c := newConn(mc, true, wamp.JSON, fuzzMax, 0, cfg, nil)
		p := negotiateDeflate(&cfg.Compression, [][]byte{[]byte("permessage-deflate; client_max_window_bits")})
		if !p.on {
			t.Fatal("deflate not negotiated")
		}
		c.deflate = newDeflateState(p, &cfg.Compression, nil)
		drainFuzz(t, c, len(data))
	})
}

// zFrame returns a masked client frame whose payload is p deflated.
func zFrame(tb testing.TB, op ws.OpCode, fin bool, p []byte) []byte {
	f := ws.NewFrame(op, fin, deflateStd(tb, p))
	f.Header.Rsv = ws.Rsv(true, false, false)
	return mustCompile(ws.MaskFrame(f))
}
