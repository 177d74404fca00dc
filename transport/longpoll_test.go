package transport

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

// lpServer is a long-poll endpoint and the client side of its requests.
type lpServer struct {
	lp   *LongPoll
	base string // URL of the endpoint's base path, "http://host:port/lp"
	ws   string // ws:// URL of the WebSocket endpoint it belongs to
	rt   func(*http.Request) (*http.Response, error)
}

// startLP serves a WebSocket endpoint at /ws and its long-poll endpoint at
// /lp/ on an httptest server, mounted as the router mounts them.
func startLP(t *testing.T, cfg Config, lpc LongPollConfig, serve func(Conn)) *lpServer {
	t.Helper()
	w := NewWebSocket(cfg, "/ws", serve)
	lpc.Path = "/lp"
	lp := w.LongPoll(lpc, serve)
	mux := http.NewServeMux()
	mux.Handle("/ws", w)
	mux.Handle("/lp/", lp)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// Runs first: held receives are answered and sessions end, so the
	// server has no request to wait for.
	t.Cleanup(func() { closeLP(lp) })
	cli := srv.Client()
	cli.Timeout = wait
	return &lpServer{lp: lp, base: srv.URL + "/lp", ws: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", rt: cli.Do}
}

// lpInProcess calls the long-poll handler directly, for tests in a
// synctest bubble, where the handler's timers run on the bubble's clock.
func lpInProcess(t *testing.T, cfg Config, lpc LongPollConfig, serve func(Conn)) *lpServer {
	t.Helper()
	lpc.Path = "/lp"
	lp := NewWebSocket(cfg, "/ws", serve).LongPoll(lpc, serve)
	t.Cleanup(func() { closeLP(lp) })
	return &lpServer{lp: lp, base: "http://192.0.2.1/lp", rt: func(r *http.Request) (*http.Response, error) {
		r.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		lp.ServeHTTP(rec, r)
		return rec.Result(), nil
	}}
}

// closeLP closes the transports a test left open, as their clients would,
// so that their sessions end.
func closeLP(lp *LongPoll) {
	lp.mu.Lock()
	cs := slices.Collect(maps.Values(lp.ts))
	lp.mu.Unlock()
	for _, c := range cs {
		c.end(io.EOF, true)
	}
}

// lpReply is a long-poll response, read whole.
type lpReply struct {
	status int
	header http.Header
	body   []byte
	err    error // of the request itself, from holdReceive only
}

// try sends method to path below the endpoint's base ("open", id+"/send")
// with the headers hdr; it is request for goroutines other than the test's.
func (s *lpServer) try(method, path string, body []byte, hdr http.Header) (lpReply, error) {
	req, err := http.NewRequest(method, s.base+"/"+path, bytes.NewReader(body))
	if err != nil {
		return lpReply{}, err
	}
	maps.Copy(req.Header, hdr)
	resp, err := s.rt(req)
	if err != nil {
		return lpReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return lpReply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (s *lpServer) request(t *testing.T, method, path string, body []byte, hdr http.Header) lpReply {
	t.Helper()
	r, err := s.try(method, path, body, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *lpServer) post(t *testing.T, path string, body []byte) lpReply {
	t.Helper()
	return s.request(t, http.MethodPost, path, body, nil)
}

// holdReceive starts a receive in a goroutine of its own and returns once
// the transport holds it; the reply comes on the channel.
func (s *lpServer) holdReceive(t *testing.T, id string) <-chan lpReply {
	t.Helper()
	ch := make(chan lpReply, 1)
	go func() {
		r, err := s.try(http.MethodPost, id+"/receive", nil, nil)
		r.err = err
		ch <- r
	}()
	testutil.CheckFor(t, wait, func() error {
		c := s.conn(id)
		if c == nil {
			return errors.New("transport gone")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.polls != 1 {
			return fmt.Errorf("%d receives held, want 1", c.polls)
		}
		return nil
	})
	return ch
}

func openBody(protocols ...string) []byte {
	b, _ := json.Marshal(map[string][]string{"protocols": protocols})
	return b
}

// open opens a transport offering protocols and returns its id and the
// protocol the router chose.
func (s *lpServer) open(t *testing.T, protocols ...string) (id, proto string) {
	t.Helper()
	r := s.post(t, "open", openBody(protocols...))
	if r.status != http.StatusOK {
		t.Fatalf("open %v: %d %q", protocols, r.status, r.body)
	}
	var resp struct{ Transport, Protocol string }
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatalf("open %v: %q: %v", protocols, r.body, err)
	}
	return resp.Transport, resp.Protocol
}

// send posts one message or batch and asserts 204.
func (s *lpServer) send(t *testing.T, id string, body []byte) {
	t.Helper()
	if r := s.post(t, id+"/send", body); r.status != http.StatusNoContent {
		t.Fatalf("send %q: %d %q", body, r.status, r.body)
	}
}

// receive polls once, asserts 200 and returns the body.
func (s *lpServer) receive(t *testing.T, id string) []byte {
	t.Helper()
	r := s.post(t, id+"/receive", nil)
	if r.status != http.StatusOK {
		t.Fatalf("receive: %d %q, want 200", r.status, r.body)
	}
	return r.body
}

func (s *lpServer) close(t *testing.T, id string) {
	t.Helper()
	if r := s.post(t, id+"/close", nil); r.status != http.StatusNoContent {
		t.Fatalf("close: %d %q, want 204", r.status, r.body)
	}
}

// conn returns the transport id, nil once it is gone.
func (s *lpServer) conn(id string) *lpConn {
	s.lp.mu.Lock()
	defer s.lp.mu.Unlock()
	return s.lp.ts[id]
}

// lpBatch frames msgs as one batch (advanced profile, "Message Batching"):
// JSON messages each followed by 0x1e, binary ones each after its length
// in 4 bytes big-endian.
func lpBatch(ser wamp.Serialization, msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		if ser == wamp.JSON {
			b = append(append(b, m...), 0x1e)
		} else {
			b = append(binary.BigEndian.AppendUint32(b, uint32(len(m))), m...)
		}
	}
	return b
}

// lpMsg is a message in ser's own look; the transport decodes nothing, so
// the binary ones hold 0x1e and 0x00 to show that nothing is split there.
func lpMsg(ser wamp.Serialization, i int) []byte {
	if ser == wamp.JSON {
		return fmt.Appendf(nil, `[16,%d,{},"com.example.t%d"]`, i, i)
	}
	return fmt.Appendf([]byte{0x94, 0x10, 0x1e, 0x00}, "t%d", i)
}

func lpContentType(ser wamp.Serialization) string {
	return map[wamp.Serialization]string{
		wamp.JSON:    "application/json; charset=utf-8",
		wamp.MsgPack: "application/x-msgpack",
		wamp.CBOR:    "application/cbor",
	}[ser]
}

func TestLongPollOpen(t *testing.T) {
	s := startLP(t, Config{}, LongPollConfig{}, echo)
	seen := make(map[string]bool)
	for range 20 {
		r := s.post(t, "open", openBody("wamp.2.json"))
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("open: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}
		var resp map[string]string
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatalf("open: %q: %v", r.body, err)
		}
		id := resp["transport"]
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(id) < 22 || len(raw) < 16 {
			t.Fatalf("transport id %q: %d bytes, %v; want base64url of 128 bits or more", id, len(raw), err)
		}
		if seen[id] {
			t.Fatalf("transport id %q given twice", id)
		}
		seen[id] = true
		if resp["protocol"] != "wamp.2.json" || len(resp) != 2 {
			t.Fatalf("open: %q", r.body)
		}
	}
	if n := s.lp.Len(); n != 20 {
		t.Fatalf("Len %d after 20 opens", n)
	}
}

// The router's order of preference decides; of one serializer the client
// gets the unbatched protocol when it offers both.
func TestLongPollNegotiation(t *testing.T) {
	cborFirst := []wamp.Serialization{wamp.CBOR, wamp.MsgPack}
	for _, tc := range []struct {
		router  []wamp.Serialization
		offered []string
		want    string
		ser     wamp.Serialization
	}{
		{nil, []string{"wamp.2.cbor", "wamp.2.msgpack", "wamp.2.json"}, "wamp.2.json", wamp.JSON},
		{nil, []string{"wamp.2.json.batched"}, "wamp.2.json.batched", wamp.JSON},
		{nil, []string{"wamp.2.cbor.batched", "wamp.2.msgpack.batched"}, "wamp.2.msgpack.batched", wamp.MsgPack},
		{nil, []string{"wamp.2.json.batched", "wamp.2.json"}, "wamp.2.json", wamp.JSON},
		{cborFirst, []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor.batched"}, "wamp.2.cbor.batched", wamp.CBOR},
	} {
		serve, peers := recorder()
		s := startLP(t, Config{Serializations: tc.router}, LongPollConfig{}, serve)
		_, proto := s.open(t, tc.offered...)
		if proto != tc.want {
			t.Errorf("router %v, offered %v: got %q, want %q", tc.router, tc.offered, proto, tc.want)
			continue
		}
		p := recv(t, peers)
		c := p.conn.(*lpConn)
		if c.Serialization() != tc.ser || c.batched != strings.HasSuffix(tc.want, ".batched") {
			t.Errorf("offered %v: conn %v batched %v, want %q", tc.offered, c.Serialization(), c.batched, tc.want)
		}
	}

	serve, peers := recorder()
	s := startLP(t, Config{Serializations: cborFirst}, LongPollConfig{}, serve)
	for _, offered := range [][]string{nil, {"wamp.2.json", "wamp.2.json.batched", "WAMP.2.CBOR", "wamp.2.cbor.batched.x"}} {
		r := s.post(t, "open", openBody(offered...))
		if r.status != http.StatusBadRequest {
			t.Fatalf("offered %v: %d %q, want 400", offered, r.status, r.body)
		}
		for _, ours := range []string{"wamp.2.cbor", "wamp.2.cbor.batched", "wamp.2.msgpack", "wamp.2.msgpack.batched"} {
			if !strings.Contains(string(r.body), ours) {
				t.Errorf("offered %v: the 400 %q does not name %s", offered, r.body, ours)
			}
		}
	}
	if s.lp.Len() != 0 || len(peers) != 0 {
		t.Fatalf("refused opens left %d transports, %d sessions", s.lp.Len(), len(peers))
	}
}

func TestLongPollOpenRejects(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{}, serve)
	for _, body := range []string{"", "not json", `{"protocols":`, `["wamp.2.json"]`, `{"protocols":"wamp.2.json"}`} {
		if r := s.post(t, "open", []byte(body)); r.status != http.StatusBadRequest {
			t.Errorf("open %q: %d %q, want 400", body, r.status, r.body)
		}
	}
	big := `{"protocols":["wamp.2.json"],"pad":"` + strings.Repeat("x", lpOpenBody) + `"}`
	if r := s.post(t, "open", []byte(big)); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("open of %d bytes: %d %q, want 413", len(big), r.status, r.body)
	}
	for _, path := range []string{"open", "AAAAAAAAAAAAAAAAAAAAAA/receive"} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			r := s.request(t, method, path, nil, nil)
			if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "POST") {
				t.Errorf("%s %s: %d Allow %q, want 405 allowing POST", method, path, r.status, r.header.Get("Allow"))
			}
		}
	}
	if s.lp.Len() != 0 || len(peers) != 0 {
		t.Fatalf("refused opens left %d transports, %d sessions", s.lp.Len(), len(peers))
	}
}

func TestLongPollNotFound(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{}, serve)
	id, _ := s.open(t, "wamp.2.json")
	p := recv(t, peers)
	other, _ := s.open(t, "wamp.2.json")
	recv(t, peers)
	s.close(t, other)
	for _, path := range []string{
		"AAAAAAAAAAAAAAAAAAAAAA/send", "AAAAAAAAAAAAAAAAAAAAAA/receive", "AAAAAAAAAAAAAAAAAAAAAA/poll",
		other + "/send", other + "/receive", // closed
		id + "/poll", id + "/Send", id, id + "/", id + "/send/", id + "/send/x", "", "open/x",
	} {
		if r := s.post(t, path, []byte(`["x"]`)); r.status != http.StatusNotFound {
			t.Errorf("POST /lp/%s: %d %q, want 404", path, r.status, r.body)
		}
	}
	// Closing what is not there is done already.
	for _, gone := range []string{"AAAAAAAAAAAAAAAAAAAAAA", other} {
		s.close(t, gone)
	}
	// None of it reached the session.
	s.send(t, id, []byte(`[1,"realm1",{}]`))
	if got := recv(t, p.msgs); string(got) != `[1,"realm1",{}]` {
		t.Fatalf("session read %q", got)
	}
}

func TestLongPollRoundTrip(t *testing.T) {
	for _, ser := range wamp.Serializations {
		t.Run(ser.String(), func(t *testing.T) {
			serve, peers := recorder()
			s := startLP(t, Config{}, LongPollConfig{}, serve)
			id, proto := s.open(t, ser.Subprotocol())
			if proto != ser.Subprotocol() {
				t.Fatalf("protocol %q", proto)
			}
			p := recv(t, peers)
			c := p.conn
			if c.Serialization() != ser || c.Transport() != "longpoll" || c.MaxWrite() != 0 {
				t.Fatalf("conn: ser %v transport %q maxwrite %d", c.Serialization(), c.Transport(), c.MaxWrite())
			}
			if host, _, _ := net.SplitHostPort(c.RemoteAddr().String()); host != "127.0.0.1" {
				t.Errorf("RemoteAddr %v", c.RemoteAddr())
			}
			for i := range 3 {
				s.send(t, id, lpMsg(ser, i))
				if got := recv(t, p.msgs); !bytes.Equal(got, lpMsg(ser, i)) {
					t.Fatalf("session read %q, want %q", got, lpMsg(ser, i))
				}
				if err := c.WriteBatch([][]byte{lpMsg(ser, 10+i)}); err != nil {
					t.Fatal(err)
				}
				r := s.post(t, id+"/receive", nil)
				if r.status != http.StatusOK || !bytes.Equal(r.body, lpMsg(ser, 10+i)) {
					t.Fatalf("receive: %d %q, want 200 %q", r.status, r.body, lpMsg(ser, 10+i))
				}
				if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != lpContentType(ser) || cc != "no-store" {
					t.Errorf("receive: Content-Type %q Cache-Control %q", ct, cc)
				}
			}
		})
	}
}

// Batches both ways: a send of several messages reaches the session one by
// one, and one receive takes all that is queued, in the same framing.
func TestLongPollBatched(t *testing.T) {
	for _, ser := range wamp.Serializations {
		t.Run(ser.String(), func(t *testing.T) {
			serve, peers := recorder()
			s := startLP(t, Config{}, LongPollConfig{}, serve)
			id, proto := s.open(t, ser.Subprotocol()+".batched")
			if proto != ser.Subprotocol()+".batched" {
				t.Fatalf("protocol %q", proto)
			}
			p := recv(t, peers)
			s.send(t, id, lpBatch(ser, lpMsg(ser, 1), lpMsg(ser, 22), lpMsg(ser, 333)))
			s.send(t, id, lpBatch(ser, lpMsg(ser, 4)))
			for _, i := range []int{1, 22, 333, 4} {
				if got := recv(t, p.msgs); !bytes.Equal(got, lpMsg(ser, i)) {
					t.Fatalf("session read %q, want %q", got, lpMsg(ser, i))
				}
			}
			if err := p.conn.WriteBatch([][]byte{lpMsg(ser, 5), lpMsg(ser, 66)}); err != nil {
				t.Fatal(err)
			}
			if err := p.conn.WriteBatch([][]byte{lpMsg(ser, 777)}); err != nil {
				t.Fatal(err)
			}
			r := s.post(t, id+"/receive", nil)
			if want := lpBatch(ser, lpMsg(ser, 5), lpMsg(ser, 66), lpMsg(ser, 777)); r.status != http.StatusOK || !bytes.Equal(r.body, want) {
				t.Fatalf("receive: %d %q, want 200 %q", r.status, r.body, want)
			}
			if ct := r.header.Get("Content-Type"); ct != lpContentType(ser) {
				t.Errorf("Content-Type %q", ct)
			}
			if err := p.conn.WriteBatch([][]byte{lpMsg(ser, 8)}); err != nil {
				t.Fatal(err)
			}
			if got, want := s.receive(t, id), lpBatch(ser, lpMsg(ser, 8)); !bytes.Equal(got, want) {
				t.Fatalf("a batch of one: %q, want %q", got, want)
			}
		})
	}
}

// A send the transport cannot read is refused whole, and the transport
// goes on.
func TestLongPollBadSends(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{}, serve)
	for _, tc := range []struct {
		name, proto string
		body        []byte
	}{
		{"empty", "wamp.2.json", nil},
		{"empty batch", "wamp.2.json.batched", nil},
		{"json batch without a final 0x1e", "wamp.2.json.batched", []byte("[1]\x1e[2]")},
		{"json message without 0x1e", "wamp.2.json.batched", []byte(`[1,"realm1",{}]`)},
		{"empty binary batch", "wamp.2.msgpack.batched", nil},
		{"truncated length prefix", "wamp.2.msgpack.batched", []byte("\x00\x00\x00\x01\x90\x00\x00")},
		{"length past the end", "wamp.2.msgpack.batched", []byte("\x00\x00\x00\x05ab")},
		{"cbor length past the end", "wamp.2.cbor.batched", []byte("\x00\x00\x00\x02\x80")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := s.open(t, tc.proto)
			p := recv(t, peers)
			if r := s.post(t, id+"/send", tc.body); r.status != http.StatusBadRequest {
				t.Fatalf("send %q: %d %q, want 400", tc.body, r.status, r.body)
			}
			ser := p.conn.Serialization()
			good := lpMsg(ser, 1)
			if strings.HasSuffix(tc.proto, ".batched") {
				s.send(t, id, lpBatch(ser, good))
			} else {
				s.send(t, id, good)
			}
			// The first message the session reads is the good one: nothing
			// of the refused send (such as the whole "[1]" before a bad
			// tail) went through.
			if got := recv(t, p.msgs); !bytes.Equal(got, good) {
				t.Fatalf("session read %q, want %q", got, good)
			}
			if err := p.conn.WriteBatch([][]byte{good}); err != nil {
				t.Fatal(err)
			}
			s.receive(t, id)
		})
	}
}

func TestLongPollTooLarge(t *testing.T) {
	const limit = 1000
	serve, peers := recorder()
	s := startLP(t, Config{MaxMessageSize: limit}, LongPollConfig{}, serve)
	a := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }
	expect := func(t *testing.T, p *peer, want ...[]byte) {
		t.Helper()
		for _, w := range want {
			if got := recv(t, p.msgs); !bytes.Equal(got, w) {
				t.Fatalf("session read %d bytes, want %d", len(got), len(w))
			}
		}
	}

	t.Run("unbatched", func(t *testing.T) {
		id, _ := s.open(t, "wamp.2.json")
		p := recv(t, peers)
		s.send(t, id, a(limit)) // the limit itself is fine
		expect(t, p, a(limit))
		if r := s.post(t, id+"/send", a(limit+1)); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("send of %d bytes: %d %q, want 413", limit+1, r.status, r.body)
		}
		s.send(t, id, []byte("[]"))
		expect(t, p, []byte("[]"))
	})
	for _, ser := range []wamp.Serialization{wamp.JSON, wamp.MsgPack} {
		t.Run(ser.String()+".batched", func(t *testing.T) {
			id, _ := s.open(t, ser.Subprotocol()+".batched")
			p := recv(t, peers)
			// Several messages up to the limit each.
			s.send(t, id, lpBatch(ser, a(limit), a(limit), a(limit)))
			expect(t, p, a(limit), a(limit), a(limit))
			// One over it, in a body that is not too large.
			if r := s.post(t, id+"/send", lpBatch(ser, a(1), a(limit+1))); r.status != http.StatusBadRequest {
				t.Fatalf("batch with a message of %d bytes: %d %q, want 400", limit+1, r.status, r.body)
			}
			// A body beyond what any batch needs.
			if r := s.post(t, id+"/send", lpBatch(ser, a(900), a(900), a(900), a(900), a(900))); r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("batch of 5 x 900 bytes: %d %q, want 413", r.status, r.body)
			}
			s.send(t, id, lpBatch(ser, []byte("[]")))
			expect(t, p, []byte("[]"))
		})
	}
}

// A receive is held while nothing is queued and answered by the next
// write.
func TestLongPollHeldReceive(t *testing.T) {
	serve, peers := recorder()
	// Only the write can answer the receive within the test's wait.
	s := startLP(t, Config{}, LongPollConfig{PollTimeout: time.Hour}, serve)
	id, _ := s.open(t, "wamp.2.json")
	p := recv(t, peers)
	held := s.holdReceive(t, id)
	msg := []byte(`[36,1,2,{},["hi"]]`)
	if err := p.conn.WriteBatch([][]byte{msg}); err != nil {
		t.Fatal(err)
	}
	r := recv(t, held)
	if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, msg) {
		t.Fatalf("held receive: %d %q %v, want 200 %q", r.status, r.body, r.err, msg)
	}
}

func TestLongPollPollTimeout(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{PollTimeout: 50 * time.Millisecond}, serve)
	id, _ := s.open(t, "wamp.2.json")
	p := recv(t, peers)
	for range 2 {
		if r := s.post(t, id+"/receive", nil); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("receive with nothing queued: %d %q, want 204", r.status, r.body)
		}
	}
	// The transport is unharmed.
	s.send(t, id, []byte("[]"))
	recv(t, p.msgs)
}

// Concurrent sends each arrive once, whole.
func TestLongPollConcurrentSends(t *testing.T) {
	const n = 100
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{}, serve)
	id, _ := s.open(t, "wamp.2.json")
	p := recv(t, peers)
	want := make(map[string]bool, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		msg := lpMsg(wamp.JSON, i)
		want[string(msg)] = true
		wg.Go(func() {
			r, err := s.try(http.MethodPost, id+"/send", msg, nil)
			if err == nil && r.status != http.StatusNoContent {
				err = fmt.Errorf("send %q: %d %q", msg, r.status, r.body)
			}
			errs <- err
		})
	}
	for range n {
		m := string(recv(t, p.msgs))
		if !want[m] {
			t.Fatalf("session read %q: not sent, corrupted, or read twice", m)
		}
		delete(want, m)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s.send(t, id, []byte(`["end"]`))
	if m := recv(t, p.msgs); string(m) != `["end"]` {
		t.Fatalf("after the %d sends the session read %q", n, m)
	}
}

// What the session writes, the client receives in order, whether a
// receive takes one message (unbatched) or all that is queued (batched).
func TestLongPollReceiveOrder(t *testing.T) {
	const n = 100
	for _, proto := range []string{"wamp.2.json", "wamp.2.json.batched"} {
		t.Run(proto, func(t *testing.T) {
			serve, peers := recorder()
			s := startLP(t, Config{}, LongPollConfig{PollTimeout: time.Hour}, serve)
			id, _ := s.open(t, proto)
			p := recv(t, peers)
			done := make(chan error, 1)
			go func() {
				for i := range n {
					if err := p.conn.WriteBatch([][]byte{lpMsg(wamp.JSON, i)}); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			var got [][]byte
			for polls := 0; len(got) < n; polls++ {
				if polls == n {
					t.Fatalf("%d receives brought %d messages", polls, len(got))
				}
				body := s.receive(t, id)
				if proto == "wamp.2.json" {
					got = append(got, body)
					continue
				}
				msgs := bytes.Split(body, []byte{0x1e})
				if len(msgs) < 2 || len(msgs[len(msgs)-1]) != 0 {
					t.Fatalf("batch %q does not end with 0x1e", body)
				}
				got = append(got, msgs[:len(msgs)-1]...)
			}
			for i, m := range got {
				if !bytes.Equal(m, lpMsg(wamp.JSON, i)) {
					t.Fatalf("message %d: %q, want %q", i, m, lpMsg(wamp.JSON, i))
				}
			}
			if err := recv(t, done); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLongPollClientClose(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{PollTimeout: time.Hour}, serve)
	id, _ := s.open(t, "wamp.2.json")
	p := recv(t, peers)
	held := s.holdReceive(t, id)
	s.send(t, id, []byte(`[6,{},"wamp.close.close_realm"]`))
	s.close(t, id)
	if r := recv(t, held); r.err != nil || r.status != http.StatusNoContent {
		t.Fatalf("receive held over the close: %d %q %v, want 204", r.status, r.body, r.err)
	}
	// What was sent before the close is read before the end.
	if got := recv(t, p.msgs); string(got) != `[6,{},"wamp.close.close_realm"]` {
		t.Fatalf("session read %q", got)
	}
	if err := recv(t, p.err); err != io.EOF {
		t.Fatalf("session Read: %v, want io.EOF", err)
	}
	if _, err := p.conn.Read(); err != io.EOF {
		t.Fatalf("second Read: %v", err)
	}
	if err := p.conn.WriteBatch([][]byte{[]byte("[]")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteBatch after the client's close: %v", err)
	}
	for _, action := range []string{"send", "receive"} {
		if r := s.post(t, id+"/"+action, []byte("[]")); r.status != http.StatusNotFound {
			t.Errorf("%s after close: %d %q, want 404", action, r.status, r.body)
		}
	}
	s.close(t, id) // again: done already
	if s.lp.Len() != 0 {
		t.Fatalf("Len %d after close", s.lp.Len())
	}
}

// Transports without requests for the session timeout are closed, and
// their places under the per-address limit are free again. Several, so
// that the race detector sees the reaper's timer start and fire often.
func TestLongPollReap(t *testing.T) {
	const n = 16 // recorder's buffer of peers
	serve, peers := recorder()
	s := startLP(t, Config{MaxConnsPerAddr: n}, LongPollConfig{SessionTimeout: 200 * time.Millisecond}, serve)
	ids := make([]string, n)
	for i := range ids {
		ids[i], _ = s.open(t, "wamp.2.json")
	}
	for range n {
		p := recv(t, peers)
		if err := recv(t, p.err); !errors.Is(err, ErrPingTimeout) {
			t.Fatalf("session Read: %v, want ErrPingTimeout", err)
		}
	}
	for _, id := range ids {
		if r := s.post(t, id+"/receive", nil); r.status != http.StatusNotFound {
			t.Fatalf("receive after the reaping: %d %q, want 404", r.status, r.body)
		}
	}
	if s.lp.Len() != 0 {
		t.Fatalf("Len %d after the reaping", s.lp.Len())
	}
	testutil.CheckFor(t, wait, func() error {
		if c := s.lp.limit.count("127.0.0.1"); c != 0 {
			return fmt.Errorf("%d places still counted", c)
		}
		return nil
	})
	s.open(t, "wamp.2.json")
}

// A client that keeps polling, or keeps sending, is never reaped. On the
// bubble's clock, so that the gaps between requests are none.
func TestLongPollActiveNotReaped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		serve, peers := recorder()
		const session = 200 * time.Millisecond
		s := lpInProcess(t, Config{}, LongPollConfig{PollTimeout: 50 * time.Millisecond, SessionTimeout: session}, serve)
		id, _ := s.open(t, "wamp.2.json")
		p := recv(t, peers)
		alive := func(phase string) {
			t.Helper()
			synctest.Wait()
			select {
			case err := <-p.err:
				t.Fatalf("%s: session ended: %v", phase, err)
			default:
			}
			if s.lp.Len() != 1 {
				t.Fatalf("%s: transport gone", phase)
			}
		}
		start := time.Now()
		for time.Since(start) < 5*session { // 20 polls
			if r := s.post(t, id+"/receive", nil); r.status != http.StatusNoContent {
				t.Fatalf("receive: %d %q, want 204", r.status, r.body)
			}
		}
		alive("polling")
		for i := range 10 {
			time.Sleep(session / 2)
			s.send(t, id, lpMsg(wamp.JSON, i))
			recv(t, p.msgs)
		}
		alive("sending")
		s.close(t, id)
		if err := recv(t, p.err); err != io.EOF {
			t.Fatalf("session Read: %v, want io.EOF", err)
		}
	})
}

// After the router closes the transport, what it queued stays for the
// client: a GOODBYE or ABORT still reaches it.
func TestLongPollRouterClose(t *testing.T) {
	for _, proto := range []string{"wamp.2.json", "wamp.2.json.batched"} {
		t.Run(proto, func(t *testing.T) {
			serve, peers := recorder()
			s := startLP(t, Config{}, LongPollConfig{}, serve)
			id, _ := s.open(t, proto)
			p := recv(t, peers)
			event := []byte(`[36,1,2,{}]`)
			goodbye := []byte(`[6,{},"wamp.close.system_shutdown"]`)
			if err := p.conn.WriteBatch([][]byte{event, goodbye}); err != nil {
				t.Fatal(err)
			}
			if err := p.conn.Close(CloseGoingAway, "shutdown"); err != nil {
				t.Fatal(err)
			}
			if err := recv(t, p.err); !errors.Is(err, ErrClosed) {
				t.Fatalf("session Read after Close: %v, want ErrClosed", err)
			}
			if err := p.conn.WriteBatch([][]byte{[]byte("[]")}); !errors.Is(err, ErrClosed) {
				t.Fatalf("WriteBatch after Close: %v, want ErrClosed", err)
			}
			if proto == "wamp.2.json" {
				for _, want := range [][]byte{event, goodbye} {
					if got := s.receive(t, id); !bytes.Equal(got, want) {
						t.Fatalf("receive after Close: %q, want %q", got, want)
					}
				}
			} else if got, want := s.receive(t, id), lpBatch(wamp.JSON, event, goodbye); !bytes.Equal(got, want) {
				t.Fatalf("receive after Close: %q, want %q", got, want)
			}
			s.close(t, id)
			if r := s.post(t, id+"/receive", nil); r.status != http.StatusNotFound {
				t.Fatalf("receive after the client's close: %d, want 404", r.status)
			}
		})
	}
}

// The router closes a transport (ABORT, GOODBYE) whose client is between
// two requests, shortly before the reaper's next check. The client was
// seen a moment ago, so what the router queued must still reach it. On
// the bubble's clock, for exact times.
//
// Fails with longpoll.go as written: reap takes any ended transport
// without a receive held, however recently its client was seen.
func TestLongPollRouterCloseReachesActiveClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		serve, peers := recorder()
		const session = 200 * time.Millisecond
		s := lpInProcess(t, Config{}, LongPollConfig{PollTimeout: 50 * time.Millisecond, SessionTimeout: session}, serve)
		id, _ := s.open(t, "wamp.2.json") // the reaper's first check is due at 200ms
		p := recv(t, peers)
		time.Sleep(session - 10*time.Millisecond)
		s.send(t, id, []byte(`[1,"realm1",{}]`))
		recv(t, p.msgs)
		abort := []byte(`[3,{},"wamp.error.not_authorized"]`)
		if err := p.conn.WriteBatch([][]byte{abort}); err != nil {
			t.Fatal(err)
		}
		_ = p.conn.Close(ClosePolicy, "not authorized")
		recv(t, p.err)
		time.Sleep(20 * time.Millisecond) // past the reaper's check; the client's last request was 20ms ago
		r := s.post(t, id+"/receive", nil)
		if r.status != http.StatusOK || !bytes.Equal(r.body, abort) {
			t.Fatalf("receive 20ms after the client's last request: %d %q, want 200 with the ABORT queued before the router's Close", r.status, r.body)
		}
		s.close(t, id)
	})
}

// A client that takes nothing makes WriteBatch fail within the write
// timeout once the outbox is full; one that receives lets it go on.
func TestLongPollSlowClient(t *testing.T) {
	big := bytes.Repeat([]byte("b"), lpOutboxBytes)
	t.Run("stalled", func(t *testing.T) {
		serve, peers := recorder()
		s := startLP(t, Config{WriteTimeout: 100 * time.Millisecond}, LongPollConfig{}, serve)
		id, _ := s.open(t, "wamp.2.json")
		p := recv(t, peers)
		done := make(chan error, 1)
		go func() { done <- p.conn.WriteBatch([][]byte{big, []byte("[]")}) }()
		err := recv(t, done)
		if err == nil || errors.Is(err, ErrClosed) {
			t.Fatalf("WriteBatch past the outbox with nobody receiving: %v, want the write timeout", err)
		}
		// What fit is still there for the client.
		if got := s.receive(t, id); !bytes.Equal(got, big) {
			t.Fatalf("receive: %d bytes, want %d", len(got), len(big))
		}
	})
	t.Run("receiving", func(t *testing.T) {
		serve, peers := recorder()
		s := startLP(t, Config{}, LongPollConfig{}, serve)
		id, _ := s.open(t, "wamp.2.json")
		p := recv(t, peers)
		done := make(chan error, 1)
		go func() { done <- p.conn.WriteBatch([][]byte{big, []byte("[]")}) }()
		if got := s.receive(t, id); !bytes.Equal(got, big) {
			t.Fatalf("receive: %d bytes, want %d", len(got), len(big))
		}
		if got := s.receive(t, id); string(got) != "[]" {
			t.Fatalf("receive: %q", got)
		}
		if err := recv(t, done); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLongPollCORS(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{}, LongPollConfig{}, serve)
	const origin = "http://localhost:5173"
	allowed := http.Header{"Origin": {origin}}
	corsOK := func(what string, r lpReply) {
		t.Helper()
		if h := r.header; h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: Allow-Origin %q Allow-Credentials %q, want %q and true", what, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), origin)
		}
	}

	pre := s.request(t, http.MethodOptions, "open", nil, http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type"},
	})
	if pre.status != http.StatusNoContent {
		t.Fatalf("preflight: %d %q, want 204", pre.status, pre.body)
	}
	corsOK("preflight", pre)
	if m := pre.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
		t.Errorf("preflight: Allow-Methods %q", m)
	}
	if h := pre.header.Get("Access-Control-Allow-Headers"); h != "content-type" {
		t.Errorf("preflight: Allow-Headers %q, want the requested content-type", h)
	}

	r := s.request(t, http.MethodPost, "open", openBody("wamp.2.json"), allowed)
	if r.status != http.StatusOK {
		t.Fatalf("open from %s: %d %q", origin, r.status, r.body)
	}
	corsOK("open", r)
	var resp struct{ Transport string }
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	id := resp.Transport
	p := recv(t, peers)
	r = s.request(t, http.MethodPost, id+"/send", []byte(`["a"]`), allowed)
	if r.status != http.StatusNoContent {
		t.Fatalf("send from %s: %d %q", origin, r.status, r.body)
	}
	corsOK("send", r)

	refused := http.Header{"Origin": {"https://evil.example"}}
	for _, req := range []struct{ method, path string }{
		{http.MethodOptions, "open"}, {http.MethodPost, "open"},
		{http.MethodPost, id + "/send"}, {http.MethodPost, id + "/receive"}, {http.MethodPost, id + "/close"},
	} {
		r := s.request(t, req.method, req.path, openBody("wamp.2.json"), refused)
		if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s %s from a refused origin: %d Allow-Origin %q, want 403 and none", req.method, req.path, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
	}
	if n := s.lp.Len(); n != 1 {
		t.Fatalf("Len %d after refused requests, want 1", n)
	}
	// The refused send delivered nothing, the refused close closed nothing.
	s.send(t, id, []byte(`["b"]`))
	for _, want := range []string{`["a"]`, `["b"]`} {
		if got := recv(t, p.msgs); string(got) != want {
			t.Fatalf("session read %q, want %q", got, want)
		}
	}
}

func TestLongPollConnLimit(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{MaxConnsPerAddr: 2}, LongPollConfig{}, serve)
	a, _ := s.open(t, "wamp.2.json")
	s.open(t, "wamp.2.json")
	recv(t, peers)
	recv(t, peers)
	r := s.post(t, "open", openBody("wamp.2.json"))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("third open: %d Retry-After %q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if n := s.lp.Len(); n != 2 {
		t.Fatalf("Len %d after a refused open", n)
	}
	s.close(t, a)
	testutil.CheckFor(t, wait, func() error {
		r, err := s.try(http.MethodPost, "open", openBody("wamp.2.json"), nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("open: %d %q", r.status, r.body)
		}
		return err
	})
}

// A WebSocket and the long-poll transports of its listener share one count.
func TestLongPollConnLimitWithWebSocket(t *testing.T) {
	serve, peers := recorder()
	s := startLP(t, Config{MaxConnsPerAddr: 2}, LongPollConfig{}, serve)
	ws := dialWS(t, s.ws, "wamp.2.json")
	recv(t, peers)
	id, _ := s.open(t, "wamp.2.json")
	recv(t, peers)
	if r := s.post(t, "open", openBody("wamp.2.json")); r.status != http.StatusServiceUnavailable {
		t.Fatalf("open with a WebSocket and a long-poll transport open: %d, want 503", r.status)
	}
	if got := testutil.WebSocketUpgrade(t, s.ws, ""); got != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket with a WebSocket and a long-poll transport open: %d, want 503", got)
	}
	ws.Close()
	testutil.CheckFor(t, wait, func() error {
		r, err := s.try(http.MethodPost, "open", openBody("wamp.2.json"), nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("open after the WebSocket closed: %d", r.status)
		}
		return err
	})
	s.close(t, id)
	testutil.CheckFor(t, wait, func() error {
		nc, err := tryUpgrade(s.ws)
		if err != nil {
			return fmt.Errorf("WebSocket after a long-poll close: %w", err)
		}
		return nc.Close()
	})
}

func FuzzLongPollSplit(f *testing.F) {
	f.Add([]byte("[1]\x1e[2,{}]\x1e"), false)
	f.Add([]byte("\x00\x00\x00\x01\x90\x00\x00\x00\x02\x91\x01"), true)
	f.Fuzz(func(t *testing.T, body []byte, prefixed bool) {
		ser := wamp.JSON
		if prefixed {
			ser = wamp.MsgPack
		}
		c := &lpConn{l: &LongPoll{cfg: Config{MaxMessageSize: fuzzMax}.withDefaults()}, ser: ser, batched: true}
		msgs, err := c.split(body)
		if err != nil {
			if msgs != nil {
				t.Fatalf("split: %v with %d messages", err, len(msgs))
			}
			return
		}
		if len(msgs) == 0 {
			t.Fatal("split: no messages and no error")
		}
		for _, m := range msgs {
			if len(m) > fuzzMax {
				t.Fatalf("split: message of %d bytes, max %d", len(m), fuzzMax)
			}
			if ser == wamp.JSON && bytes.IndexByte(m, 0x1e) >= 0 {
				t.Fatalf("split: JSON message %q holds 0x1e", m)
			}
		}
		if again := lpBatch(ser, msgs...); !bytes.Equal(again, body) {
			t.Fatalf("re-framed %q, split from %q", again, body)
		}
	})
}
