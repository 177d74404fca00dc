package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Conn is the framed connection a session runs on: the transport seam. It
// carries bytes, never decoded messages, so the writer can hand a whole
// batch to the transport at once. transport.Conn implements it.
type Conn interface {
	Serialization() wamp.Serialization
	Read() ([]byte, error)
	WriteBatch(frames [][]byte) error
	MaxWrite() int
	Close(code transport.CloseCode, reason string) error
	RemoteAddr() net.Addr
	Transport() string
}

// Joiner admits a session into a realm on HELLO. Join must call
// s.SetIdentity before it makes s visible to other sessions; it returns the
// handler of the realm joined and the WELCOME details, or a *wamp.Error that
// the session sends as ABORT.
type Joiner interface {
	Join(s *Session, realm wamp.URI, details wamp.Dict) (Handler, wamp.Dict, error)
}

// Handler is the realm side of an attached session.
type Handler interface {
	// Handle processes one message from the peer on the reader goroutine.
	// m borrows the frame and is only valid until Handle returns. A
	// non-nil error aborts the session: its *wamp.Error URI (or
	// wamp.error.protocol_violation) becomes the ABORT reason.
	Handle(s *Session, m *wamp.Message) error
	// Leave is called once, after the last Handle, when the session ends
	// for any reason.
	Leave(s *Session)
}

// EndWatcher is a Joiner that wants to know when the session it admitted
// (or refused) has ended: after the last Handle and Leave, with the
// connection closed. Ended runs once, on the goroutine that ended the
// session, which is not Serve's when the connection parked (Serve).
type EndWatcher interface {
	Ended(s *Session)
}

// JoinWatcher is a Handler that wants to know when WELCOME has been queued,
// for what must not reach anyone before it (wamp.session.on_join, which a
// watcher could answer with wamp.session.kill).
type JoinWatcher interface {
	Joined(s *Session)
}

// Identity is who a session is, as WELCOME tells the peer.
type Identity struct {
	ID           wamp.ID
	Realm        wamp.URI
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
}

const (
	stateOpen       = iota
	stateFlushClose // the writer sends what is queued, then closes
	stateClosed     // the connection is closed; the queue is dropped
)

// entry is one queued frame. pooled frames were encoded for this session
// alone and return to bufPool once written; shared EVENT frames do not,
// and are what the writer marks shared for the transport
// (transport.SharedWriter).
type entry struct {
	b  []byte
	bp *[]byte // non-nil for pooled frames; nil: a shared, immutable frame
}

// Session is one peer attached to the router.
type Session struct {
	Identity
	// feats are the features the peer announced in HELLO.
	feats features

	conn     Conn
	codec    codec.Codec
	ser      wamp.Serialization
	maxWrite int
	cfg      Config
	log      *slog.Logger

	// reqIDs numbers the requests the router sends to this peer
	// (INVOCATION, INTERRUPT): the session scope of the specification.
	reqIDs wamp.IDGen
	// invMu orders INVOCATIONs by request id (sendInvocation): invNext is
	// the lowest id not yet queued, invHeld the INVOCATIONs of higher ids
	// waiting for it. A client may drop an INVOCATION whose id is below
	// one it has seen (nexus does; the specification numbers a session's
	// requests 1, 2, 3, ...), and an id is drawn (NextRequestID) by one
	// goroutine and sent by it after another may have drawn and sent the
	// next. invMu comes before mu (docs/locks.md).
	invMu   sync.Mutex
	invNext wamp.ID
	invHeld map[wamp.ID]heldInvocation

	mu          sync.Mutex // leaf lock, guards the fields below
	q           []entry
	qBytes      int
	fullSince   time.Time
	state       uint8
	closeCode   transport.CloseCode
	closeReason string
	goodbyeSent bool
	// sent counts EVENTs queued and queue depths: plain increments under
	// mu, which enqueue and the writer hold anyway, read by SendStats at
	// scrape time. An atomic per event on a counter shared by sessions
	// would cost a fan-out publication a third more CPU (docs/monitoring.md).
	sent SendStats

	// writing is true while a writer goroutine runs (guarded by mu). The
	// writer is started when the queue gets its first frame and exits
	// when it has drained it, so an idle session holds no writer
	// goroutine and no stack for it: at 10,000 idle sessions that is the
	// larger part of a session's memory.
	writing bool
	writers sync.WaitGroup
	// spare and batch are the writer's reused slices; only the one
	// running writer touches them.
	spare []entry
	batch [][]byte
	// sw is conn when it is a transport.SharedWriter that compresses; the
	// writer then marks the shared EVENT frames of each batch in shared
	// (reused like batch), so that the transport compresses each of them
	// once for all its subscribers rather than once per session.
	sw      transport.SharedWriter
	shared  []bool
	dropped atomic.Uint64
	// stats is Config.Stats until the Joiner sets the realm's (SetStats).
	stats Stats
	// cause is why the session ends, set once (setCause).
	causeOnce sync.Once
	cause     CloseReason

	// joined is set by the reader once Join admitted the session.
	joined bool

	// hctx ends with the handshake (HandshakeContext); set by the reader
	// before Join.
	hctx context.Context

	// j admitted the session; h is the realm's handler, set once joined.
	j Joiner
	h Handler
}

// Serve runs a session on conn: it reads HELLO, joins through j, then
// reads and dispatches messages. It returns when the session has ended,
// after the writer has stopped and conn is closed, so that no goroutine
// of the session outlives it; or, when conn is a transport.Parker, as
// soon as the connection parks while idle: the transport then resumes the
// session's reader on a new goroutine when input arrives, and that
// goroutine ends the session (j's Ended, if j is an EndWatcher, tells
// when).
func Serve(conn Conn, cfg Config, j Joiner) {
	cfg = cfg.withDefaults()
	ser := conn.Serialization()
	s := &Session{
		conn:     conn,
		codec:    codec.For(ser),
		ser:      ser,
		maxWrite: conn.MaxWrite(),
		cfg:      cfg,
		log:      cfg.Logger.With("remote", addrString(conn.RemoteAddr()), "transport", conn.Transport(), "serializer", ser.String()),
		stats:    cfg.Stats,
		j:        j,
	}
	if sw, ok := conn.(transport.SharedWriter); ok && sw.SharesFrames() {
		s.sw = sw
	}
	if s.codec == nil {
		_ = conn.Close(transport.CloseProtocolError, "unsupported serializer")
		s.ended()
		return
	}
	s.h = s.handshake(j)
	if s.h == nil {
		s.end(false)
		return
	}
	if p, ok := conn.(transport.Parker); ok {
		p.EnablePark(s.readOn)
	}
	s.readOn()
}

// readOn reads and dispatches messages until the session ends, and ends
// it; or until the connection parks (transport.ErrParked), leaving the
// rest to the goroutine the transport resumes it on.
func (s *Session) readOn() {
	peerGoodbye, parked := s.readLoop(s.h)
	if !parked {
		s.end(peerGoodbye)
	}
}

// end ends the session once its reader is done.
func (s *Session) end(peerGoodbye bool) {
	if h := s.h; h != nil {
		// Leave before the GOODBYE reply: once the peer has it, the
		// session is over, and its registrations must be gone for anyone
		// who registers or calls next.
		h.Leave(s)
		if peerGoodbye {
			_ = s.Send(&wamp.Message{Type: wamp.GOODBYE, URI: wamp.ErrGoodbyeAndOut})
		}
		s.setCause(CloseConnectionLost)
		s.log.Info("session left", "authid", s.AuthID, "authrole", s.AuthRole, "reason", s.cause.String(), "dropped_events", s.dropped.Load())
	}
	s.flushAndClose(transport.CloseNormal, "")
	s.writers.Wait()
	s.closeNow(transport.CloseNormal, "")
	if s.joined && s.stats != nil {
		// Closed: nothing more can be queued, so SendStats is final.
		s.setCause(CloseConnectionLost)
		s.stats.SessionClosed(s, s.cause)
	}
	s.ended()
}

func (s *Session) ended() {
	if w, ok := s.j.(EndWatcher); ok {
		w.Ended(s)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// handshake reads HELLO and joins. It returns nil when the session ended
// before it joined (an ABORT was queued or the connection failed).
func (s *Session) handshake(j Joiner) Handler {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.hctx = ctx
	timer := time.AfterFunc(s.cfg.HelloTimeout, func() {
		cancel()
		s.log.Info("no HELLO in time", "timeout", s.cfg.HelloTimeout)
		s.closeNow(transport.ClosePolicy, "no HELLO in time")
	})
	defer timer.Stop()
	frame, err := s.conn.Read()
	if err != nil {
		s.logReadError(err)
		return nil
	}
	var m wamp.Message
	if err := s.codec.Decode(frame, &m); err != nil {
		s.abort(wamp.ErrProtocolViolation, "bad first message: "+err.Error())
		return nil
	}
	s.countIn(&m, frame)
	if m.Type != wamp.HELLO {
		s.abort(wamp.ErrProtocolViolation, fmt.Sprintf("%v before HELLO", m.Type))
		return nil
	}
	if msg := checkRoles(m.Details); msg != "" {
		s.abort(wamp.ErrProtocolViolation, msg)
		return nil
	}
	if !wamp.ValidURI(m.URI, false, false) {
		s.abort(wamp.ErrInvalidURI, fmt.Sprintf("invalid realm URI %q", m.URI))
		return nil
	}
	s.feats = announcedFeatures(m.Details)
	h, welcome, err := j.Join(s, m.URI, m.Details)
	if errors.Is(err, ErrClosed) {
		// The peer left or aborted during the authentication (Challenge):
		// there is no one to send ABORT to.
		s.log.Info("join abandoned", "realm", m.URI, "error", err)
		return nil
	}
	if err != nil {
		var we *wamp.Error
		if !errors.As(err, &we) {
			we = wamp.NewError(wamp.ErrProtocolViolation, err.Error())
		}
		s.log.Info("join refused", "realm", m.URI, "reason", we.URI, "error", we.Msg)
		s.abort(we.URI, we.Msg)
		return nil
	}
	s.joined = true
	err = s.Send(&wamp.Message{Type: wamp.WELCOME, ID: s.ID, Details: welcome})
	if errors.Is(err, ErrTooLarge) {
		// A RawSocket peer may accept as little as 512 bytes, less than
		// the full feature list: it gets the roles without features,
		// which the specification allows (a Basic Profile WELCOME).
		err = s.Send(&wamp.Message{Type: wamp.WELCOME, ID: s.ID, Details: withoutFeatures(welcome)})
	}
	if err != nil {
		s.log.Info("cannot send WELCOME", "error", err)
		h.Leave(s)
		return nil
	}
	s.log.Info("session joined", "authid", s.AuthID, "authrole", s.AuthRole)
	if j, ok := h.(JoinWatcher); ok {
		j.Joined(s)
	}
	return h
}

// withoutFeatures returns a copy of WELCOME details whose roles carry no
// feature lists.
func withoutFeatures(d wamp.Dict) wamp.Dict {
	out := make(wamp.Dict, len(d))
	for k, v := range d {
		out[k] = v
	}
	if roles, ok := d["roles"].(map[string]any); ok {
		bare := make(map[string]any, len(roles))
		for r := range roles {
			bare[r] = map[string]any{}
		}
		out["roles"] = bare
	}
	return out
}

// checkRoles returns why HELLO.Details.roles is unacceptable, or "".
func checkRoles(d wamp.Dict) string {
	roles, ok := d["roles"].(map[string]any)
	if !ok {
		return "HELLO.Details.roles missing or not a dict"
	}
	for _, r := range []string{"publisher", "subscriber", "caller", "callee"} {
		if _, ok := roles[r]; ok {
			return ""
		}
	}
	return "HELLO.Details.roles announces no client role"
}

// clientMessage lists the types a client may send after WELCOME.
var clientMessage = [256]bool{
	wamp.PUBLISH: true, wamp.SUBSCRIBE: true, wamp.UNSUBSCRIBE: true,
	wamp.CALL: true, wamp.CANCEL: true, wamp.REGISTER: true,
	wamp.UNREGISTER: true, wamp.YIELD: true, wamp.ERROR: true,
}

// readLoop dispatches messages until the session ends or its connection
// parks. It reports whether the peer said GOODBYE first, so that end
// answers it, and whether the connection parked.
func (s *Session) readLoop(h Handler) (peerGoodbye, parked bool) {
	var m wamp.Message
	for {
		frame, err := s.conn.Read()
		if err != nil {
			if err == transport.ErrParked {
				return false, true
			}
			s.logReadError(err)
			return false, false
		}
		err = s.codec.Decode(frame, &m)
		if err != nil && !errors.Is(err, codec.ErrNotPortable) {
			s.abort(wamp.ErrProtocolViolation, err.Error())
			return false, false
		}
		s.countIn(&m, frame)
		if err != nil && !s.refuseUnportable(&m, err) {
			continue
		}
		switch {
		case m.Type == wamp.GOODBYE:
			s.mu.Lock()
			replied := s.goodbyeSent
			s.mu.Unlock()
			s.setCause(ClosePeerGoodbye)
			return !replied, false
		case m.Type == wamp.ABORT:
			s.setCause(ClosePeerAbort)
			s.log.Info("peer aborted", "reason", m.URI)
			return false, false
		case !clientMessage[m.Type]:
			s.abort(wamp.ErrProtocolViolation, fmt.Sprintf("unexpected %v from a client", m.Type))
			return false, false
		}
		if err := h.Handle(s, &m); err != nil {
			var we *wamp.Error
			if !errors.As(err, &we) {
				we = wamp.NewError(wamp.ErrProtocolViolation, err.Error())
			}
			s.abort(we.URI, we.Msg)
			return false, false
		}
	}
}

// countIn counts a message read, and logs it with its payload when the
// config asks for that.
func (s *Session) countIn(m *wamp.Message, frame []byte) {
	if s.stats != nil {
		s.stats.MessageIn(m.Type, len(frame))
	}
	if s.cfg.DebugPayloads && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, "message received",
			slog.String("type", m.Type.String()), slog.String("frame", printable(frame, s.ser)))
	}
}

// printable shows a frame in a log: JSON as text, binary serializers in
// hex.
func printable(frame []byte, ser wamp.Serialization) string {
	if ser == wamp.JSON {
		return string(frame)
	}
	return fmt.Sprintf("%x", frame)
}

func (s *Session) logReadError(err error) {
	s.mu.Lock()
	closed := s.state != stateOpen
	s.mu.Unlock()
	switch {
	case closed, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.log.Debug("connection closed", "error", err)
	case errors.Is(err, transport.ErrProtocol), errors.Is(err, transport.ErrTooLarge):
		// The transport failed the connection for what the peer sent (a
		// broken frame, text not UTF-8, a message over the limit): the
		// peer's violation, as a malformed WAMP message would be.
		s.setCause(CloseProtocolViolation)
		s.log.Info("connection failed: the peer broke the transport's protocol", "error", err)
	default:
		s.log.Info("connection failed", "error", err)
	}
}

// abort queues ABORT and closes once it is written. Peer misbehaviour is
// the client's fault, not the router's: Info, except protocol violations,
// which get a rate-limited Warn because a burst of them is worth an
// operator's look.
func (s *Session) abort(reason wamp.URI, msg string) {
	s.setCause(CloseProtocolViolation)
	if reason != wamp.ErrProtocolViolation {
		s.log.Info("session aborted", "reason", reason, "error", msg)
	} else if ok, suppressed := violationWarnings.allow(); ok {
		// Warn: many at once may mean a broken client release, or an
		// attack; rate limited so that they cannot flood the log.
		s.log.Warn("protocol violation; session aborted", "error", msg, "suppressed", suppressed)
	}
	var d wamp.Dict
	if msg != "" {
		d = wamp.Dict{"message": msg}
	}
	_ = s.Send(&wamp.Message{Type: wamp.ABORT, Details: d, URI: reason})
	s.flushAndClose(transport.CloseNormal, string(reason))
}

// Goodbye starts a router-initiated close: it sends GOODBYE with reason and
// gives the peer GoodbyeTimeout to answer before the connection is closed.
func (s *Session) Goodbye(reason wamp.URI, msg string) {
	s.mu.Lock()
	if s.goodbyeSent || s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.goodbyeSent = true
	s.mu.Unlock()
	if reason == wamp.ErrSystemShutdown {
		s.setCause(CloseSystemShutdown)
	} else {
		s.setCause(CloseRouterGoodbye)
	}
	var d wamp.Dict
	if msg != "" {
		d = wamp.Dict{"message": msg}
	}
	_ = s.Send(&wamp.Message{Type: wamp.GOODBYE, Details: d, URI: reason})
	time.AfterFunc(s.cfg.GoodbyeTimeout, func() {
		s.closeNow(transport.CloseGoingAway, string(reason))
	})
}

// Close closes the connection at once, dropping what is queued.
func (s *Session) Close(reason string) { s.closeNow(transport.CloseGoingAway, reason) }

// Serialization is the serializer the peer speaks.
func (s *Session) Serialization() wamp.Serialization { return s.ser }

// SessionID returns the session id (the broker and dealer peer interfaces).
func (s *Session) SessionID() wamp.ID { return s.ID }

// SetIdentity is called by the Joiner when the session is admitted.
func (s *Session) SetIdentity(id Identity) {
	s.Identity = id
	s.log = s.log.With("session", uint64(id.ID), "realm", string(id.Realm))
}

// Auth returns the session's authid and authrole (the broker's and dealer's
// peer interfaces, for black/white-listing and disclosure).
func (s *Session) Auth() (authid, authrole string) { return s.AuthID, s.AuthRole }

// HasFeature reports whether the peer announced feature for role in HELLO
// (Details.roles.<role>.features.<feature> == true). It knows the features
// of the Advanced Profile (knownFeatures); others read as not announced.
func (s *Session) HasFeature(role, feature string) bool { return s.feats.has(role, feature) }

// NextRequestID returns a fresh id of this session's scope.
func (s *Session) NextRequestID() wamp.ID { return s.reqIDs.Next() }

// Logger returns the session's logger.
func (s *Session) Logger() *slog.Logger { return s.log }

// Queued returns how many messages wait in the outbound queue.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}

// Dropped returns how many EVENTs were dropped for this session.
func (s *Session) Dropped() uint64 { return s.dropped.Load() }

// RemoteAddr returns the peer's address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Transport names the transport ("websocket", "rawsocket").
func (s *Session) Transport() string { return s.conn.Transport() }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooled keeps rare huge buffers out of the pool.
const maxPooled = 64 << 10

// Send encodes m in the peer's serializer and queues it. It is for messages
// that must not be lost (replies, errors, invocations): if the queue is past
// twice its bound the session is closed as a slow consumer and Send returns
// ErrSlowConsumer, so the caller can answer for what could not be sent.
func (s *Session) Send(m *wamp.Message) error {
	bp := bufPool.Get().(*[]byte)
	b, err := s.codec.Encode((*bp)[:0], m)
	switch {
	case err != nil:
		err = fmt.Errorf("encode %v: %w", m.Type, err)
	case s.maxWrite > 0 && len(b) > s.maxWrite:
		err = fmt.Errorf("%v of %d bytes: %w", m.Type, len(b), ErrTooLarge)
	}
	if err != nil {
		*bp = b[:0]
		bufPool.Put(bp)
		if m.Type == wamp.INVOCATION {
			return s.sendInvocation(m.Request, entry{}, err) // its id is given up
		}
		return err
	}
	*bp = b
	if m.Type == wamp.INVOCATION {
		return s.sendInvocation(m.Request, entry{b: b, bp: bp}, nil)
	}
	return s.enqueue(entry{b: b, bp: bp}, false, m.Type)
}

// heldInvocation is an INVOCATION queued once those of lower request ids
// are; skip marks an id whose INVOCATION was never sent (it did not
// encode), which only lets the next ones go.
type heldInvocation struct {
	e    entry
	skip bool
}

// sendInvocation queues the INVOCATION of request id in id order. An id
// below invNext is one already queued (a continuation of a progressive
// invocation) or from before the counter wrapped: it goes at once.
func (s *Session) sendInvocation(id wamp.ID, e entry, failed error) error {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	if s.invNext == 0 {
		s.invNext = 1
	}
	switch {
	case id < s.invNext:
		if failed != nil {
			return failed
		}
		return s.enqueue(e, false, wamp.INVOCATION)
	case id > s.invNext:
		if s.invHeld == nil {
			s.invHeld = make(map[wamp.ID]heldInvocation)
		}
		s.invHeld[id] = heldInvocation{e: e, skip: failed != nil}
		return failed
	}
	// id is the next: it goes, then the held ones it frees, in order.
	err := failed
	if failed == nil {
		err = s.enqueue(e, false, wamp.INVOCATION)
	}
	for s.invNext++; ; s.invNext++ {
		h, ok := s.invHeld[s.invNext]
		if !ok {
			break
		}
		delete(s.invHeld, s.invNext)
		if !h.skip {
			_ = s.enqueue(h.e, false, wamp.INVOCATION) // a failure closes the session
		}
	}
	return err
}

// SendEvent queues an encoded EVENT that may be shared with other sessions
// and must not be modified, nor its memory reused for other bytes, ever:
// the transport may keep its compressed form keyed by the frame's address
// (transport.SharedWriter). On a full queue it follows the session's
// Policy.
func (s *Session) SendEvent(frame []byte) {
	if s.maxWrite > 0 && len(frame) > s.maxWrite {
		s.countDrop()
		return
	}
	_ = s.enqueue(entry{b: frame}, true, wamp.EVENT)
}

func (s *Session) countDrop() {
	if s.dropped.Add(1) == 1 {
		if ok, suppressed := slowConsumerWarnings.allow(); ok {
			s.log.Warn("slow consumer: dropping events", "suppressed", suppressed)
		}
	}
	if s.stats != nil {
		s.stats.EventDropped()
	}
}

func (s *Session) enqueue(e entry, droppable bool, t wamp.Type) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	limitMsgs, limitBytes := s.cfg.QueueMessages, s.cfg.QueueBytes
	if !droppable {
		limitMsgs, limitBytes = 2*limitMsgs, 2*limitBytes
	}
	if len(s.q) >= limitMsgs || s.qBytes+len(e.b) > limitBytes && len(s.q) > 0 {
		return s.overflowLocked(droppable)
	}
	s.q = append(s.q, e)
	s.qBytes += len(e.b)
	s.startWriterLocked()
	if droppable {
		s.sent.Events++
		s.sent.EventBytes += uint64(len(e.b))
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if s.stats != nil {
		s.stats.MessageOut(t, len(e.b))
	}
	return nil
}

// startWriterLocked starts a writer unless one runs. s.mu must be held, so
// that writers.Add happens before Serve's Wait.
func (s *Session) startWriterLocked() {
	if !s.writing {
		s.writing = true
		s.writers.Add(1)
		go s.writeLoop()
	}
}

// overflowLocked handles a message that does not fit. s.mu must be held; it
// is released.
func (s *Session) overflowLocked(droppable bool) error {
	if droppable && s.cfg.Policy == PolicyDrop {
		now := time.Now()
		if s.fullSince.IsZero() {
			s.fullSince = now
		}
		stuck := now.Sub(s.fullSince) >= s.cfg.DisconnectAfter
		s.mu.Unlock()
		s.countDrop()
		if !stuck {
			return nil
		}
	} else {
		s.mu.Unlock()
		if droppable {
			s.countDrop()
		}
	}
	s.closeSlowConsumer()
	return ErrSlowConsumer
}

// closeSlowConsumer closes a session that does not keep up: its queue
// stayed full, or a write to it timed out (the peer stopped reading and
// its socket buffer is full). Whichever comes first, it is counted and
// reported as a slow consumer.
func (s *Session) closeSlowConsumer() {
	s.setCause(CloseSlowConsumer)
	if ok, suppressed := slowConsumerWarnings.allow(); ok {
		s.log.Warn("closing slow consumer", "dropped_events", s.dropped.Load(), "suppressed", suppressed)
	}
	if s.stats != nil {
		s.stats.SlowConsumerClosed()
	}
	s.closeNow(transport.ClosePolicy, "slow consumer")
}

// flushAndClose lets the writer send what is queued, then close.
func (s *Session) flushAndClose(code transport.CloseCode, reason string) {
	s.mu.Lock()
	if s.state == stateOpen {
		s.state = stateFlushClose
		s.closeCode, s.closeReason = code, reason
		s.startWriterLocked()
	}
	s.mu.Unlock()
}

// closeNow closes the connection at once; the reader's Read and the
// writer's WriteBatch return with errors.
func (s *Session) closeNow(code transport.CloseCode, reason string) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	s.dropQueueLocked()
	s.mu.Unlock()
	_ = s.conn.Close(code, reason)
}

// dropQueueLocked forgets queued frames; s.mu must be held.
func (s *Session) dropQueueLocked() {
	clear(s.q)
	s.q = s.q[:0]
	s.qBytes = 0
}

// maxSpare bounds the slices an idle session keeps for its next writer.
const maxSpare = 256

// writeLoop drains the queue in batches: each round hands everything queued
// since the last one to one WriteBatch, so a burst of events costs one
// system call rather than one per event. It exits when the queue is empty;
// the next enqueue starts a new writer.
func (s *Session) writeLoop() {
	defer s.writers.Done()
	idleChecks := 0
	for {
		s.mu.Lock()
		if s.state == stateClosed {
			s.writing = false
			s.mu.Unlock()
			return
		}
		if len(s.q) == 0 {
			if s.state == stateFlushClose {
				code, reason := s.closeCode, s.closeReason
				s.writing = false
				s.mu.Unlock()
				s.closeNow(code, reason)
				return
			}
			if idleChecks == 0 {
				// A publisher in a burst is likely to queue again at
				// once: yield once before giving the goroutine up, so a
				// busy subscriber does not start a writer per event.
				idleChecks++
				s.mu.Unlock()
				runtime.Gosched()
				continue
			}
			s.writing = false
			if cap(s.spare) > maxSpare {
				s.spare, s.batch, s.shared = nil, nil, nil
			}
			s.mu.Unlock()
			return
		}
		idleChecks = 0
		s.sent.Depth[depthBucket(len(s.q))]++
		s.sent.DepthSum += uint64(len(s.q))
		ents := s.q
		s.q = s.spare[:0]
		s.qBytes = 0
		s.fullSince = time.Time{}
		s.mu.Unlock()

		batch := s.batch[:0]
		for _, e := range ents {
			batch = append(batch, e.b)
		}
		var err error
		if s.sw != nil {
			shared := s.shared[:0]
			for _, e := range ents {
				shared = append(shared, e.bp == nil)
			}
			err = s.sw.WriteBatchShared(batch, shared)
			s.shared = shared
		} else {
			err = s.conn.WriteBatch(batch)
		}
		clear(batch)
		s.batch = batch
		for i, e := range ents {
			if e.bp != nil && cap(e.b) <= maxPooled {
				*e.bp = e.b[:0]
				bufPool.Put(e.bp)
			}
			ents[i] = entry{}
		}
		s.spare = ents[:0]
		if err != nil {
			s.log.Debug("write failed", "error", err)
			s.mu.Lock()
			s.writing = false
			closed := s.state == stateClosed
			s.mu.Unlock()
			if errors.Is(err, os.ErrDeadlineExceeded) && !closed {
				s.closeSlowConsumer()
				return
			}
			s.closeNow(transport.CloseInternal, "write failed")
			return
		}
	}
}
