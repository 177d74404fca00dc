package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// The longpoll scenario measures WAMP over HTTP long-poll (the router's
// /lp endpoint, transport/longpoll.go) with a client of plain net/http and
// keep-alive, as a browser's XMLHttpRequest would do it: one receive held
// at a time per session, the next one posted as soon as the last answered.
//
// Mode LongPollEvents is fanout to one long-poll subscriber: a WebSocket
// publisher keeps Config.Window publications in flight until the
// subscriber has them (window flow control, as fanout), or publishes at
// Config.Rate. Besides events/s it reports receive requests per second and
// events per receive: batched, a receive takes everything queued; unbatched
// (AutobahnJS's wamp.2.json) one message each.
//
// Mode LongPollSessions holds Config.Sessions sessions, each subscribed to
// a topic of its own and to a common one, each with a receive held, and
// reports the router's memory per session as conns does (RSS growth over
// the sessions); then one event on the common topic (Broadcast) checks that
// every session is alive: Lost counts the sessions it did not reach within
// Config.Hold. Each held receive is a TCP connection on both sides, so N
// sessions need N descriptors in this process and in the router.

// Modes of the longpoll scenario.
const (
	LongPollEvents   = "events"
	LongPollSessions = "sessions"
)

// LongPollConfig is what the longpoll scenario needs besides Config.
type LongPollConfig struct {
	// URL of the long-poll endpoint, http://host:port/lp. Default: the
	// host of Config.URL (ws:// or wss://) with http or https and /lp.
	URL string
	// Unbatched speaks wamp.2.<ser>, one message per receive (AutobahnJS's
	// mode), instead of wamp.2.<ser>.batched.
	Unbatched bool
	// Mode is LongPollEvents or LongPollSessions. Default LongPollEvents.
	Mode string
}

// LongPollReport is a longpoll run's Report with what only long-poll has.
// Its JSON is the Report's fields and these, so summarize reads it as any
// other report.
type LongPollReport struct {
	Report
	// Protocol is the one the router chose at open.
	Protocol string `json:"protocol"`
	// Receives counts the receive requests answered with messages (200)
	// within the window, EmptyReceives those answered 204 (the poll
	// timeout passed with nothing queued). These and the two rates below
	// are of LongPollEvents; LongPollSessions leaves them zero.
	Receives      int64 `json:"receives"`
	EmptyReceives int64 `json:"empty_receives,omitempty"`
	// ReceiveRate is the receives answered (either way) per second of the
	// window; EventsPerReceive the events that arrived in the window per
	// receive answered with messages.
	ReceiveRate      float64 `json:"receives_per_s"`
	EventsPerReceive float64 `json:"events_per_receive,omitempty"`
}

const (
	// lpHold is the default of Config.Hold for LongPollSessions: the
	// broadcast reaches 8000 held sessions within a second on two cores.
	lpHold = 10 * time.Second
	// lpRequestTimeout bounds one request, a held receive included: above
	// any router's poll timeout (Switchboard and Crossbar.io hold 10 s).
	lpRequestTimeout = 2 * time.Minute
	// lpCloseTimeout bounds the close request of a session at the end.
	lpCloseTimeout = 5 * time.Second
	// lpSpareFDs is what a run needs besides one descriptor per session.
	lpSpareFDs = 256
)

// RunLongPoll runs the longpoll scenario. Like Run, it returns an error
// when the run cannot start; what goes wrong once traffic flows is counted
// in the report.
func RunLongPoll(ctx context.Context, cfg Config, lp LongPollConfig) (*LongPollReport, error) {
	cfg.Scenario = "longpoll"
	cfg.defaults()
	if lp.Mode == "" {
		lp.Mode = LongPollEvents
	}
	if lp.Mode != LongPollEvents && lp.Mode != LongPollSessions {
		return nil, fmt.Errorf("bench: longpoll: unknown mode %q (want %s or %s)", lp.Mode, LongPollEvents, LongPollSessions)
	}
	if cfg.URL == "" {
		return nil, errors.New("bench: no router URL")
	}
	if lp.URL == "" {
		u, err := longPollURL(cfg.URL)
		if err != nil {
			return nil, err
		}
		lp.URL = u
	}
	// Every held receive keeps a connection; those of the setup go back
	// to the pool.
	conns := 16
	if lp.Mode == LongPollSessions {
		conns += cfg.Sessions + cfg.Parallel
	}
	lc, err := newLPClient(lp, cfg.Serialization, conns)
	if err != nil {
		return nil, err
	}
	r := &LongPollReport{Report: *newReport(cfg, lp.URL), Protocol: lc.proto}
	defer lc.tr.CloseIdleConnections()
	if lp.Mode == LongPollSessions {
		err = runLPSessions(ctx, &cfg, lc, r)
	} else {
		err = runLPEvents(ctx, &cfg, lc, r)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// longPollURL derives the long-poll endpoint from a WebSocket URL: the
// router serves both on one listener.
func longPollURL(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("bench: longpoll: no long-poll URL for %s: give it (-lp-url http://host:port/lp)", wsURL)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/lp"}).String(), nil
}

// runLPEvents is fanout from a WebSocket publisher to one long-poll
// subscriber; see runPubSub, whose group it drives.
func runLPEvents(ctx context.Context, cfg *Config, lc *lpClient, r *LongPollReport) error {
	run, params := newPubRun(cfg)
	r.Params = lc.mode() + params
	r.Unit = "events/s"

	ring := 1 << bits.Len(uint(cfg.Window-1))
	g := &group{
		topic:    "bench.longpoll",
		k:        1,
		run:      run,
		arrivals: make([]atomic.Int32, ring),
		mask:     uint64(ring - 1),
		ended:    make(chan struct{}),
	}
	g.msg = wamp.Message{Type: wamp.PUBLISH, URI: g.topic}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := lc.session(sctx, cfg.Realm, string(g.topic))
	if err != nil {
		return fmt.Errorf("bench: long-poll subscriber: %w", err)
	}
	pubConns, _, err := openAllAt(ctx, cfg, cfg.pubURL(), 1, func(int, *client.Conn) error { return nil })
	if err != nil {
		lc.closeAll([]*lpSession{s})
		return fmt.Errorf("bench: publisher: %w", err)
	}
	g.pub = pubConns[0]
	run.start = now() + int64(cfg.Warmup) + int64(20*time.Millisecond)
	run.end = run.start + int64(cfg.Duration)

	sub := &lpSubscriber{subscriber: subscriber{g: g, ser: cfg.Serialization, hist: NewHistogram()}}
	var rs readers
	rs.serveLP(s, sub.receive, sub.handle)
	rs.serve(g.pub, func(*wamp.Message) {})

	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() { g.publish(stop); close(finished) }()
	var m *meter
	if sleepUntil(ctx, run.start, finished) {
		m = startMeter(r.RouterPID)
		sleepUntil(ctx, run.end, finished)
	} else {
		m = startMeter(r.RouterPID)
	}
	close(stop)
	<-finished

	g.pmu.Lock()
	sent, sentMeasured, last := g.sent, g.sentMeasured, g.finish
	g.pmu.Unlock()
	m.stop(&r.Report)
	m.perMsg(&r.Report, sentMeasured)
	if last > run.start && last < run.end {
		r.Seconds = float64(last-run.start) / 1e9
	}
	drain(ctx, cfg.Drain, sub.received.Load, func() int64 { return sent })
	lc.closeAll([]*lpSession{s})
	cancel()
	rs.stop(pubConns)

	received := sub.received.Load()
	r.Sent, r.Received, r.Expected = sentMeasured, sub.measured.Load(), sent
	r.Lost = max(sent-received, 0)
	r.rates(sub.arrived.Load())
	r.latencies(sub.hist)
	r.Receives, r.EmptyReceives = sub.full.Load(), sub.empty.Load()
	if r.Seconds > 0 {
		r.ReceiveRate = float64(r.Receives+r.EmptyReceives) / r.Seconds
	}
	if r.Receives > 0 {
		r.EventsPerReceive = float64(sub.arrived.Load()) / float64(r.Receives)
	}
	rs.note(&r.Report)
	r.Stalled = g.stalled
	if g.stalled {
		r.Notes = append(r.Notes, fmt.Sprintf("the publisher's window stayed full for %v: events were lost", cfg.Stall))
	}
	if g.err != nil {
		r.Errors++
		r.Notes = append(r.Notes, "publisher: "+g.err.Error())
	}
	if n := sub.bad.Load(); n > 0 {
		r.Errors += n
		r.Notes = append(r.Notes, fmt.Sprintf("%d events without a readable stamp", n))
	}
	if n := sub.disorder.Load(); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d events out of sequence (lost or reordered)", n))
	}
	if received > sent {
		r.Notes = append(r.Notes, fmt.Sprintf("%d events more than published", received-sent))
	}
	return nil
}

// lpSubscriber is the long-poll subscriber of runLPEvents: subscriber's
// bookkeeping, with the arrival time of the receive that brought an event
// in place of the socket read's.
type lpSubscriber struct {
	subscriber // its conn is nil: events come through handle
	// Receives answered within the window: with messages, and empty.
	full, empty atomic.Int64
}

func (s *lpSubscriber) receive(t int64, msgs int) {
	if t < s.g.run.start || t >= s.g.run.end {
		return
	}
	if msgs > 0 {
		s.full.Add(1)
	} else {
		s.empty.Add(1)
	}
}

func (s *lpSubscriber) handle(m *wamp.Message, t int64) {
	if m.Type == wamp.EVENT {
		s.handleAt(m, t)
	}
}

// runLPSessions opens cfg.Sessions long-poll sessions, each with a receive
// held from the moment it has subscribed, reads the router's memory, and
// publishes one event to all of them; see conns.
func runLPSessions(ctx context.Context, cfg *Config, lc *lpClient, r *LongPollReport) error {
	n := cfg.Sessions
	topic := cfg.Topic
	if topic == "" {
		topic = "bench.longpoll.all"
	}
	hold := cfg.Hold
	if hold <= 0 {
		hold = lpHold
	}
	r.Params = fmt.Sprintf("%s sessions=%d parallel=%d", lc.mode(), n, cfg.Parallel)
	r.Unit = "sessions/s"
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && uint64(rl.Cur) < uint64(n+lpSpareFDs) {
		return fmt.Errorf("bench: longpoll: %d sessions hold %d connections, over the open file limit of %d", n, n, rl.Cur)
	}
	var (
		b  broadcastWatch
		rs readers
	)
	b.init(n)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	before := sampleProc(r.RouterPID)
	m := startMeter(r.RouterPID)
	sessions, h, err := openParallel(ctx, n, cfg.Parallel, func(i int) (*lpSession, error) {
		s, err := lc.session(sctx, cfg.Realm, fmt.Sprintf("bench.longpoll.%d", i), topic)
		if err != nil {
			return nil, err
		}
		var got atomic.Bool
		rs.serveLP(s, nil, func(m *wamp.Message, _ int64) {
			if m.Type == wamp.EVENT && got.CompareAndSwap(false, true) {
				b.arrived(lc.ser, m)
			}
		})
		return s, nil
	})
	if err != nil {
		lc.closeAll(sessions)
		cancel()
		rs.stop()
		return fmt.Errorf("bench: opening long-poll sessions: %w", err)
	}
	m.stop(&r.Report)
	m.perMsg(&r.Report, int64(n))

	settleMemory(ctx, cfg, &r.Report, before, n)

	pub := *cfg
	pub.URL = cfg.pubURL()
	if _, err := Broadcast(pub, topic); err != nil {
		r.Errors++
		r.Notes = append(r.Notes, "broadcast: "+err.Error())
	} else {
		t := time.NewTimer(hold)
		select {
		case <-b.all:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	b.report(&r.Report, n, topic)
	lc.closeAll(sessions)
	cancel()
	rs.stop()

	r.Sent, r.Received, r.Expected = int64(n), int64(n), int64(n)
	r.Lost = int64(n) - r.BroadcastReceived
	r.rates(r.Received)
	r.latencies(h)
	rs.note(&r.Report)
	return nil
}

// serveLP runs s's receive loop like serve runs a WebSocket session's.
func (rs *readers) serveLP(s *lpSession, onReceive func(t int64, msgs int), h func(m *wamp.Message, t int64)) {
	rs.wg.Go(func() {
		err := s.serve(onReceive, h)
		if err == nil || rs.closing.Load() || s.closing.Load() {
			return
		}
		rs.lost.Add(1)
		rs.mu.Lock()
		if rs.why == nil {
			rs.why = err
		}
		rs.mu.Unlock()
	})
}

// lpClient is the HTTP side of a run's long-poll sessions: one
// http.Transport whose kept-alive connections they share.
type lpClient struct {
	hc      *http.Client
	tr      *http.Transport
	base    string // http://host:port/lp
	ser     wamp.Serialization
	cod     codec.Codec
	batched bool
	proto   string
	ctype   string
	open    []byte // the body of open
}

func newLPClient(lp LongPollConfig, ser wamp.Serialization, conns int) (*lpClient, error) {
	cod := codec.For(ser)
	if cod == nil {
		return nil, fmt.Errorf("bench: longpoll: unknown serialization %v", ser)
	}
	u, err := url.Parse(lp.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: longpoll: bad endpoint URL %q: want http://host:port/lp", lp.URL)
	}
	proto := ser.Subprotocol()
	if !lp.Unbatched {
		proto += ".batched"
	}
	open, _ := json.Marshal(map[string][]string{"protocols": {proto}})
	ctype := "application/json"
	switch ser {
	case wamp.MsgPack:
		ctype = "application/x-msgpack"
	case wamp.CBOR:
		ctype = "application/cbor"
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &lpClient{hc: &http.Client{Transport: tr}, tr: tr, base: strings.TrimSuffix(lp.URL, "/"),
		ser: ser, cod: cod, batched: !lp.Unbatched, proto: proto, ctype: ctype, open: open}, nil
}

// mode names the protocol for Report.Params.
func (lc *lpClient) mode() string {
	if lc.batched {
		return "batched"
	}
	return "unbatched"
}

// lpSession is one long-poll transport and its WAMP session. Its methods
// other than close belong to one goroutine at a time: the one that set it
// up, then the one serving it.
type lpSession struct {
	lc      *lpClient
	ctx     context.Context
	url     string // base/<transport>/
	reqID   wamp.ID
	body    []byte   // the last receive's body
	pending [][]byte // messages of it not yet read
	wbuf    []byte
	closing atomic.Bool
}

// session opens a transport, joins realm and subscribes to topics.
func (lc *lpClient) session(ctx context.Context, realm string, topics ...string) (*lpSession, error) {
	var rep struct {
		Transport string `json:"transport"`
		Protocol  string `json:"protocol"`
	}
	status, body, err := lc.post(ctx, lc.base+"/open", "application/json", lc.open, nil)
	if err == nil && status != http.StatusOK {
		err = statusError("open", status, body)
	}
	if err == nil {
		if err = json.Unmarshal(body, &rep); err == nil && (rep.Transport == "" || rep.Protocol != lc.proto) {
			err = fmt.Errorf("open answered transport %q, protocol %q; want one, and %s", rep.Transport, rep.Protocol, lc.proto)
		}
	}
	if err != nil {
		return nil, err
	}
	s := &lpSession{lc: lc, ctx: ctx, url: lc.base + "/" + url.PathEscape(rep.Transport) + "/"}
	err = s.join(realm)
	for _, t := range topics {
		if err != nil {
			break
		}
		err = s.subscribe(t)
	}
	if err != nil {
		lc.closeAll([]*lpSession{s})
		return nil, err
	}
	return s, nil
}

// post sends one request and reads the answer into buf.
func (lc *lpClient) post(ctx context.Context, u, ctype string, body, buf []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, lpRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, buf, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := lc.hc.Do(req)
	if err != nil {
		return 0, buf, err
	}
	defer resp.Body.Close()
	buf = buf[:0]
	if n := resp.ContentLength; n > 0 && n <= 1<<30 {
		if int64(cap(buf)) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return resp.StatusCode, buf[:0], err
		}
		return resp.StatusCode, buf, nil
	}
	w := bytes.NewBuffer(buf)
	_, err = w.ReadFrom(resp.Body)
	return resp.StatusCode, w.Bytes(), err
}

func statusError(what string, status int, body []byte) error {
	return fmt.Errorf("%s answered %d %s: %s", what, status, http.StatusText(status), bytes.TrimSpace(body[:min(len(body), 200)]))
}

// send posts msgs, in one request when batched.
func (s *lpSession) send(msgs ...*wamp.Message) error {
	lc := s.lc
	for len(msgs) > 0 {
		b := s.wbuf[:0]
		for len(msgs) > 0 {
			var err error
			if !lc.batched {
				if b, err = lc.cod.Encode(b, msgs[0]); err != nil {
					return err
				}
				msgs = msgs[1:]
				break
			}
			if lc.ser == wamp.JSON {
				if b, err = lc.cod.Encode(b, msgs[0]); err != nil {
					return err
				}
				b = append(b, 0x1e)
			} else {
				at := len(b)
				if b, err = lc.cod.Encode(append(b, 0, 0, 0, 0), msgs[0]); err != nil {
					return err
				}
				binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
			}
			msgs = msgs[1:]
		}
		s.wbuf = b
		status, body, err := lc.post(s.ctx, s.url+"send", lc.ctype, b, nil)
		if err != nil {
			return err
		}
		if status != http.StatusNoContent && status != http.StatusOK {
			return statusError("send", status, body)
		}
	}
	return nil
}

// receive posts one receive and queues the messages of its answer on
// s.pending; it returns how many, and the time the answer was read.
func (s *lpSession) receive() (int, int64, error) {
	status, body, err := s.lc.post(s.ctx, s.url+"receive", "", nil, s.body)
	t := now()
	s.body = body
	if err != nil {
		return 0, t, err
	}
	switch status {
	case http.StatusNoContent:
		return 0, t, nil
	case http.StatusOK:
	default:
		return 0, t, statusError("receive", status, body)
	}
	s.pending = s.pending[:0]
	if !s.lc.batched {
		s.pending = append(s.pending, body)
		return 1, t, nil
	}
	for len(body) > 0 {
		if s.lc.ser == wamp.JSON {
			i := bytes.IndexByte(body, 0x1e)
			if i < 0 {
				return 0, t, fmt.Errorf("%w: batch: last JSON message not ended by 0x1e", client.ErrProtocol)
			}
			s.pending = append(s.pending, body[:i])
			body = body[i+1:]
			continue
		}
		if len(body) < 4 || uint64(len(body)-4) < uint64(binary.BigEndian.Uint32(body)) {
			return 0, t, fmt.Errorf("%w: batch: message shorter than its length prefix", client.ErrProtocol)
		}
		n := 4 + int(binary.BigEndian.Uint32(body))
		s.pending = append(s.pending, body[4:n])
		body = body[n:]
	}
	return len(s.pending), t, nil
}

// next reads the next message into m, receiving when none is pending.
// Its payloads borrow from s.body until the next receive.
func (s *lpSession) next(m *wamp.Message) error {
	for len(s.pending) == 0 {
		if _, _, err := s.receive(); err != nil {
			return err
		}
	}
	frame := s.pending[0]
	s.pending = s.pending[1:]
	if err := s.lc.cod.Decode(frame, m); err != nil {
		return fmt.Errorf("%w: %w", client.ErrProtocol, err)
	}
	return nil
}

// lpRoles is what HELLO announces.
var lpRoles = wamp.Dict{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}}

func (s *lpSession) join(realm string) error {
	if err := s.send(&wamp.Message{Type: wamp.HELLO, URI: wamp.URI(realm), Details: lpRoles}); err != nil {
		return err
	}
	var m wamp.Message
	if err := s.next(&m); err != nil {
		return err
	}
	switch m.Type {
	case wamp.WELCOME:
		return nil
	case wamp.ABORT:
		return fmt.Errorf("%w: %s", client.ErrAborted, m.URI)
	}
	return fmt.Errorf("%w: %v in answer to HELLO", client.ErrProtocol, m.Type)
}

func (s *lpSession) subscribe(topic string) error {
	s.reqID++
	req := s.reqID
	if err := s.send(&wamp.Message{Type: wamp.SUBSCRIBE, Request: req, URI: wamp.URI(topic)}); err != nil {
		return err
	}
	var m wamp.Message
	for {
		if err := s.next(&m); err != nil {
			return err
		}
		switch {
		case m.Type == wamp.SUBSCRIBED && m.Request == req:
			return nil
		case m.Type == wamp.ERROR && m.Request == req:
			return fmt.Errorf("%w: SUBSCRIBE %s: %s", client.ErrAborted, topic, m.URI)
		case m.Type == wamp.GOODBYE, m.Type == wamp.ABORT:
			return fmt.Errorf("%w: %v: %s", client.ErrAborted, m.Type, m.URI)
		}
	}
}

// errSessionEnded: the router said GOODBYE or ABORT to a served session.
var errSessionEnded = errors.New("router ended the session")

// serve receives until the session is closed (nil) or fails, calling
// onReceive (when set) for every receive answered and h for every message,
// with the time its receive was answered. Messages left from the setup
// come first.
func (s *lpSession) serve(onReceive func(t int64, msgs int), h func(m *wamp.Message, t int64)) error {
	var m wamp.Message
	t := now()
	for {
		for len(s.pending) > 0 {
			frame := s.pending[0]
			s.pending = s.pending[1:]
			if err := s.lc.cod.Decode(frame, &m); err != nil {
				return fmt.Errorf("%w: %w", client.ErrProtocol, err)
			}
			if m.Type == wamp.GOODBYE || m.Type == wamp.ABORT {
				return fmt.Errorf("%w: %v %s", errSessionEnded, m.Type, m.URI)
			}
			h(&m, t)
		}
		if s.closing.Load() {
			return nil
		}
		var (
			n   int
			err error
		)
		n, t, err = s.receive()
		if s.closing.Load() {
			return nil
		}
		if err != nil {
			return err
		}
		if onReceive != nil {
			onReceive(t, n)
		}
	}
}

// closeAll closes sessions (nil ones skipped) in parallel: each is marked
// closing and its transport closed, which answers its held receive, so
// that its serve returns. Cancelling the sessions' context after it ends
// the receives of a router that did not answer.
func (lc *lpClient) closeAll(sessions []*lpSession) {
	const workers = 16
	var wg sync.WaitGroup
	for w := range min(workers, len(sessions)) {
		wg.Go(func() {
			for i := w; i < len(sessions); i += workers {
				s := sessions[i]
				if s == nil {
					continue
				}
				s.closing.Store(true)
				ctx, cancel := context.WithTimeout(context.Background(), lpCloseTimeout)
				_, _, _ = lc.post(ctx, s.url+"close", "", nil, nil)
				cancel()
			}
		})
	}
	wg.Wait()
}
