package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Who may send unsigned requests to /publish and /call (Config.Unsigned).
const (
	// UnsignedNone: every request must be signed with a key.
	UnsignedNone = "none"
	// UnsignedLoopback: requests from 127.0.0.0/8 and ::1 need no
	// signature; others must be signed.
	UnsignedLoopback = "loopback"
	// UnsignedAny: no request needs a signature. Only behind a gate of
	// your own.
	UnsignedAny = "any"
)

// Defaults for zero Config fields.
const (
	DefaultAuthID          = "http-bridge"
	DefaultRole            = "anonymous"
	DefaultMaxBody         = 1 << 20
	DefaultTimestampWindow = 5 * time.Minute // Crossbar's timestamp_delta_limit
	DefaultMaxNonces       = 1 << 20
	DefaultCallTimeout     = 30 * time.Second
	DefaultBodyTimeout     = 30 * time.Second
)

// Config configures a Bridge.
type Config struct {
	// Realm is the realm every session of the bridge joins.
	Realm wamp.URI
	// AuthID and Role are the identity of unsigned requests, webhooks and
	// HTTP subscribers. Zero values: DefaultAuthID, DefaultRole.
	AuthID, Role string
	// PublishPath and CallPath are where the publisher and the caller
	// are served; "" leaves one out.
	PublishPath, CallPath string
	// Unsigned is UnsignedNone (the zero value), UnsignedLoopback or
	// UnsignedAny.
	Unsigned string
	// Keys sign requests; each acts as its own session with its role.
	Keys []Key
	// MaxBody bounds a request body in bytes. Zero value: DefaultMaxBody.
	MaxBody int
	// TimestampWindow is how far a signed request's timestamp may be from
	// the router's clock. Zero value: DefaultTimestampWindow.
	TimestampWindow time.Duration
	// MaxNonces bounds the nonces remembered against replay. Zero value:
	// DefaultMaxNonces.
	MaxNonces int
	// BodyTimeout bounds the reading of a request's body, so that one
	// that never arrives does not hold its connection. Zero value:
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// CallTimeout bounds a /call, and is its WAMP timeout when the request
	// gives none. Zero value: DefaultCallTimeout.
	CallTimeout time.Duration
	// Webhooks turn POSTs to a path into events.
	Webhooks []Webhook
	// Subscribers POST the events of a topic to a URL.
	Subscribers []Subscriber
	// Join starts the session of p in the router as authid with authrole
	// role, trusted (no authentication). Required.
	Join func(p *Peer, authid, role string)
	// ClientAddr returns the address a request comes from, for
	// UnsignedLoopback. Nil means the connection's remote address.
	ClientAddr func(*http.Request) netip.Addr
	// TrustsProxies tells that the listener trusts reverse proxies
	// (transport.TrustProxies), which then put the client's address in
	// the request. Without, a loopback request that names another client
	// in forwarding headers came through a proxy on this machine and is
	// not taken for local (UnsignedLoopback).
	TrustsProxies bool
	// Client posts the HTTP subscribers' events. Nil means a client that
	// follows no redirects.
	Client *http.Client
	// Logger. Nil means discard.
	Logger *slog.Logger
	// Now is the clock for timestamps. Nil means time.Now.
	Now func() time.Time
}

// Bridge serves the HTTP bridge of one listener.
type Bridge struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	json   codec.Codec

	anon *slot
	// forwardedOnce logs the first unsigned loopback request refused for
	// its forwarding headers (the misconfiguration shows once).
	forwardedOnce sync.Once
	// subSlot is the HTTP subscribers' session, apart from anon: a
	// publication excludes its publisher by default, and what the bridge
	// publishes must reach its HTTP subscribers too.
	subSlot *slot
	keys    map[string]*signer
	slots   []*slot
	nonces  *nonceCache
	subs    []*httpSubscriber

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	published, calls, hooks, rejected, failed atomic.Uint64
}

// signer is a key and the session that acts for it.
type signer struct {
	key  Key
	slot *slot
}

// New builds a bridge and starts its sessions (through cfg.Join) and its
// HTTP subscribers. Close stops them.
func New(cfg Config) (*Bridge, error) {
	if cfg.Join == nil {
		return nil, errors.New("bridge: Config.Join is required")
	}
	if cfg.AuthID == "" {
		cfg.AuthID = DefaultAuthID
	}
	if cfg.Role == "" {
		cfg.Role = DefaultRole
	}
	if cfg.Unsigned == "" {
		cfg.Unsigned = UnsignedNone
	}
	switch cfg.Unsigned {
	case UnsignedNone, UnsignedLoopback, UnsignedAny:
	default:
		return nil, fmt.Errorf("bridge: unsigned %q: want none, loopback or any", cfg.Unsigned)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.TimestampWindow <= 0 {
		cfg.TimestampWindow = DefaultTimestampWindow
	}
	if cfg.MaxNonces <= 0 {
		cfg.MaxNonces = DefaultMaxNonces
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	b := &Bridge{
		cfg:    cfg,
		log:    cfg.Logger.With("bridge", string(cfg.Realm)),
		now:    cfg.Now,
		window: cfg.TimestampWindow,
		json:   codec.For(wamp.JSON),
		keys:   make(map[string]*signer, len(cfg.Keys)),
		nonces: newNonceCache(cfg.TimestampWindow, cfg.MaxNonces, keyNames(cfg.Keys)),
		stop:   make(chan struct{}),
	}
	for _, k := range cfg.Keys {
		if k.Key == "" || k.Secret == "" {
			return nil, errors.New("bridge: a key needs a name and a secret")
		}
		if _, dup := b.keys[k.Key]; dup {
			return nil, fmt.Errorf("bridge: duplicate key %q", k.Key)
		}
		if k.Role == "" {
			k.Role = cfg.Role
		}
		b.keys[k.Key] = &signer{key: k}
	}
	for _, s := range cfg.Subscribers {
		if _, err := newSubscriber(b, s); err != nil {
			return nil, err
		}
	}
	// Everything checked: start the sessions.
	b.anon = b.newSlot(cfg.AuthID, cfg.Role)
	for _, k := range cfg.Keys {
		b.keys[k.Key].slot = b.newSlot(k.Key, b.keys[k.Key].key.Role)
	}
	if len(cfg.Subscribers) > 0 {
		b.subSlot = b.newSlot(cfg.AuthID, cfg.Role)
	}
	for _, s := range cfg.Subscribers {
		hs, _ := newSubscriber(b, s)
		b.subs = append(b.subs, hs)
		b.wg.Add(1)
		go hs.run()
	}
	return b, nil
}

// Ready waits until every session of the bridge has joined and every HTTP
// subscriber has subscribed.
func (b *Bridge) Ready(ctx context.Context) error {
	for _, s := range b.slots {
		if err := s.peer().Ready(ctx); err != nil {
			return err
		}
	}
	for _, s := range b.subs {
		select {
		case <-s.ready:
			if s.err != nil {
				return s.err
			}
		case <-ctx.Done():
			return fmt.Errorf("bridge: subscriber %s: %w", s.cfg.Topic, ctx.Err())
		}
	}
	return nil
}

// Close stops the HTTP subscribers and ends the bridge's sessions.
func (b *Bridge) Close() {
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
		for _, s := range b.slots {
			s.peer().shut(nil)
		}
	})
}

// Stats are the bridge's counters.
type Stats struct {
	// Published and Calls count requests answered with success;
	// Webhooks the webhook posts published; Rejected the requests refused
	// (4xx) before anything was published or called; Failed the others
	// that did not succeed: refused by the router or a callee, not
	// answered in time, the bridge not in its realm (503), or the client
	// gone. Every request counts in exactly one of them.
	Published, Calls, Webhooks, Rejected, Failed uint64
	// Subscribers are the HTTP subscribers' counters, in config order.
	Subscribers []SubscriberStats
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	st := Stats{Published: b.published.Load(), Calls: b.calls.Load(), Webhooks: b.hooks.Load(), Rejected: b.rejected.Load(), Failed: b.failed.Load()}
	for _, s := range b.subs {
		st.Subscribers = append(st.Subscribers, s.stats())
	}
	return st
}

func keyNames(keys []Key) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	return names
}

// Mount adds the bridge's handlers to mux.
func (b *Bridge) Mount(mux *http.ServeMux) {
	if b.cfg.PublishPath != "" {
		mux.HandleFunc(b.cfg.PublishPath, b.servePublish)
	}
	if b.cfg.CallPath != "" {
		mux.HandleFunc(b.cfg.CallPath, b.serveCall)
	}
	for _, h := range b.cfg.Webhooks {
		mux.Handle(h.Path, &webhook{b: b, cfg: h})
	}
}

// request is the body of /publish and /call. Pointers tell a missing field
// from an empty one.
type request struct {
	Topic     *string         `json:"topic"`
	Procedure *string         `json:"procedure"`
	Args      json.RawMessage `json:"args"`
	Kwargs    json.RawMessage `json:"kwargs"`
	Options   json.RawMessage `json:"options"`
}

func (b *Bridge) servePublish(w http.ResponseWriter, r *http.Request) {
	body, peer, p := b.acceptBody(w, r)
	if p == nil && batched(body) {
		b.publishBatch(w, r, peer, body)
		return
	}
	var req *request
	if p == nil {
		req, p = parseRequest(body)
	}
	var opts wamp.Dict
	var args, kwargs []byte
	if p == nil {
		opts, args, kwargs, p = b.checkPublish(req)
	}
	if p != nil {
		b.fail(w, p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.cfg.CallTimeout)
	defer cancel()
	if err := peer.Ready(ctx); err != nil {
		b.fail(w, unavailable(err))
		return
	}
	id, err := peer.Publish(ctx, wamp.URI(*req.Topic), opts, args, kwargs)
	if err != nil {
		b.wampFail(w, nil, err)
		return
	}
	b.published.Add(1)
	out := make([]byte, 0, 32)
	out = append(out, `{"id":`...)
	out = strconv.AppendUint(out, uint64(id), 10)
	out = append(out, "}\n"...)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// checkPublish checks a publication of a request: its topic and payload.
func (b *Bridge) checkPublish(req *request) (wamp.Dict, []byte, []byte, *problem) {
	if req.Topic == nil {
		return nil, nil, nil, refuse(http.StatusBadRequest, ErrMissingTopic, `missing "topic"`)
	}
	if p := checkURI(*req.Topic, "topic"); p != nil {
		return nil, nil, nil, p
	}
	return b.payload(req)
}

// MaxBatch bounds the publications of one batch request.
const MaxBatch = 1000

// batched reports whether a /publish body is a batch: a JSON list of
// publications rather than one.
func batched(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && body[0] == '['
}

// publishBatch publishes a list of publications in order, each as a
// request of its own would (a bad one fails alone), and answers 200 with
// {"results": [...]}: {"id": ...} or the error object of a single
// request, one per publication. The whole batch is refused only when it
// is not a list of objects, is empty, or has over MaxBatch entries.
func (b *Bridge) publishBatch(w http.ResponseWriter, r *http.Request, peer *Peer, body []byte) {
	var reqs []request
	if err := json.Unmarshal(body, &reqs); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			b.fail(w, refuse(http.StatusBadRequest, ErrMalformedJSON, "a batch must be a JSON list of publication objects"))
			return
		}
		b.fail(w, refuse(http.StatusBadRequest, ErrMalformedJSON, "malformed JSON: "+err.Error()))
		return
	}
	if len(reqs) == 0 || len(reqs) > MaxBatch {
		b.fail(w, refuse(http.StatusBadRequest, ErrBadPayload, fmt.Sprintf("a batch holds 1 to %d publications, not %d", MaxBatch, len(reqs))))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.cfg.CallTimeout)
	defer cancel()
	if err := peer.Ready(ctx); err != nil {
		b.fail(w, unavailable(err))
		return
	}
	out := make([]byte, 0, 16+32*len(reqs))
	out = append(out, `{"results":[`...)
	for i := range reqs {
		if i > 0 {
			out = append(out, ',')
		}
		opts, args, kwargs, p := b.checkPublish(&reqs[i])
		if p != nil {
			b.rejected.Add(1)
			out = appendError(out, p.uri, p.msg)
			continue
		}
		id, err := peer.Publish(ctx, wamp.URI(*reqs[i].Topic), opts, args, kwargs)
		if err != nil {
			if p = b.problemOf(err); p == nil {
				return // the client went away
			}
			out = appendError(out, p.uri, p.msg)
			continue
		}
		b.published.Add(1)
		out = append(out, `{"id":`...)
		out = strconv.AppendUint(out, uint64(id), 10)
		out = append(out, '}')
	}
	out = append(out, "]}\n"...)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func appendError(out []byte, uri wamp.URI, msg string) []byte {
	out = append(out, `{"error":`...)
	out = appendString(out, string(uri))
	out = append(out, `,"message":`...)
	out = appendString(out, msg)
	return append(out, '}')
}

func (b *Bridge) serveCall(w http.ResponseWriter, r *http.Request) {
	_, peer, req, p := b.accept(w, r)
	if p == nil && req.Procedure == nil {
		p = refuse(http.StatusBadRequest, ErrMissingProcedure, `missing "procedure"`)
	}
	var opts wamp.Dict
	var args, kwargs []byte
	if p == nil {
		p = checkURI(*req.Procedure, "procedure")
	}
	if p == nil {
		opts, args, kwargs, p = b.payload(req)
	}
	if _, ok := opts["progress"]; ok && p == nil {
		// A progressive call invocation needs a caller that streams;
		// the bridge answers once.
		p = refuse(http.StatusBadRequest, ErrBadPayload, "options.progress: progressive call invocations are not supported through the bridge")
	}
	timeout := b.cfg.CallTimeout
	if p == nil {
		timeout, p = b.callTimeout(opts)
	}
	if p != nil {
		b.fail(w, p)
		return
	}
	// The dealer enforces the timeout (and interrupts the callee); the
	// context is a backstop should its answer be lost.
	ctx, cancel := context.WithTimeout(r.Context(), timeout+5*time.Second)
	defer cancel()
	if err := peer.Ready(ctx); err != nil {
		b.fail(w, unavailable(err))
		return
	}
	res, err := peer.Call(ctx, wamp.URI(*req.Procedure), opts, args, kwargs)
	if err != nil {
		b.wampFail(w, res, err)
		return
	}
	b.calls.Add(1)
	out := make([]byte, 0, 64+len(res.Args.Raw)+len(res.Kwargs.Raw))
	out = append(out, `{"args":`...)
	out = appendRaw(out, res.Args.Raw, "[]")
	out = append(out, `,"kwargs":`...)
	out = appendRaw(out, res.Kwargs.Raw, "{}")
	out = append(out, "}\n"...)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// callTimeout reads options.timeout (milliseconds, as in WAMP) and bounds
// it by CallTimeout; a call without one gets CallTimeout, so that the
// dealer times it out and interrupts the callee.
func (b *Bridge) callTimeout(opts wamp.Dict) (time.Duration, *problem) {
	max := b.cfg.CallTimeout
	v, ok := opts["timeout"]
	if !ok {
		opts["timeout"] = max.Milliseconds()
		return max, nil
	}
	var ms int64
	switch n := v.(type) {
	case int64:
		ms = n
	case uint64:
		ms = int64(min(n, uint64(max.Milliseconds())))
	default:
		return 0, refuse(http.StatusBadRequest, ErrBadPayload, `options.timeout must be an integer number of milliseconds`)
	}
	if ms < 0 {
		return 0, refuse(http.StatusBadRequest, ErrBadPayload, `options.timeout must not be negative`)
	}
	if ms == 0 || ms > max.Milliseconds() {
		ms = max.Milliseconds()
	}
	opts["timeout"] = ms
	return time.Duration(ms) * time.Millisecond, nil
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst, _ = jsontext.AppendQuote(dst, s) // invalid UTF-8 becomes U+FFFD
	return dst
}

func appendRaw(dst, raw []byte, empty string) []byte {
	if raw == nil {
		return append(dst, empty...)
	}
	return append(dst, raw...)
}

// accept runs the checks every /publish and /call request passes: method,
// content type, body size, signature, JSON. It returns the session to act
// as.
func (b *Bridge) accept(w http.ResponseWriter, r *http.Request) ([]byte, *Peer, *request, *problem) {
	body, peer, p := b.acceptBody(w, r)
	if p != nil {
		return nil, nil, nil, p
	}
	req, p := parseRequest(body)
	if p != nil {
		return nil, nil, nil, p
	}
	return body, peer, req, nil
}

// acceptBody reads and authenticates a request's body.
func (b *Bridge) acceptBody(w http.ResponseWriter, r *http.Request) ([]byte, *Peer, *problem) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	body, p := b.readBody(w, r)
	if p != nil {
		return nil, nil, p
	}
	peer, p := b.authenticate(r, body)
	if p != nil {
		return nil, nil, p
	}
	return body, peer, nil
}

// parseRequest parses the body of a single publication or call.
func parseRequest(body []byte) (*request, *problem) {
	req := new(request)
	if err := json.Unmarshal(body, req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, refuse(http.StatusBadRequest, ErrMalformedJSON, "the body must be a JSON object, not "+te.Value)
		}
		if errors.As(err, &te) {
			return nil, refuse(http.StatusBadRequest, ErrBadPayload, fmt.Sprintf("%q must not be a JSON %s", te.Field, te.Value))
		}
		return nil, refuse(http.StatusBadRequest, ErrMalformedJSON, "malformed JSON: "+err.Error())
	}
	return req, nil
}

// readBody checks method and content type and reads the body up to
// MaxBody.
func (b *Bridge) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *problem) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, refuse(http.StatusMethodNotAllowed, ErrMethodNotAllowed, r.Method+" is not allowed: use POST")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		cs := params["charset"]
		if err != nil || mt != "application/json" || cs != "" && !equalFold(cs, "utf-8") && !equalFold(cs, "utf8") {
			return nil, refuse(http.StatusUnsupportedMediaType, ErrUnsupportedMedia, "content type "+strconv.Quote(ct)+" is not accepted: send application/json (UTF-8)")
		}
	}
	limit := int64(b.cfg.MaxBody)
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	// The body arrives before the signature can be checked, so a client
	// that declares a large body and sends little must not hold the
	// memory (see readLimited) nor the connection for long.
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(b.cfg.BodyTimeout)); err == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	body, err := readLimited(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, refuse(http.StatusRequestTimeout, ErrBridgeTimeout, "the body did not arrive within "+b.cfg.BodyTimeout.String())
	case err != nil:
		return nil, refuse(http.StatusBadRequest, ErrMalformedJSON, "cannot read the body: "+err.Error())
	}
	return body, nil
}

// bodyPrealloc is the most readLimited allocates before data arrives.
const bodyPrealloc = 64 << 10

// readLimited reads r, whose declared length is declared (-1 for unknown)
// and at most limit. It allocates for the declared length only up to
// bodyPrealloc and grows as data arrives: the declaration is the client's
// word, given before authentication.
func readLimited(r io.Reader, declared, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(declared, 512), limit+1, bodyPrealloc)))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func tooLarge(limit int64) *problem {
	return refuse(http.StatusRequestEntityTooLarge, ErrBodyTooLarge, "the body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}

func equalFold(a, b string) bool { return len(a) == len(b) && bytes.EqualFold([]byte(a), []byte(b)) }

// authenticate picks the session a request acts as: the key's for a
// signed request, the bridge's own for an unsigned one where allowed.
func (b *Bridge) authenticate(r *http.Request, body []byte) (*Peer, *problem) {
	q := r.URL.Query()
	if q.Has("signature") || q.Has("key") {
		k, p := b.verify(q, body)
		if p != nil {
			return nil, p
		}
		return k.slot.peer(), nil
	}
	switch b.cfg.Unsigned {
	case UnsignedAny:
		return b.anon.peer(), nil
	case UnsignedLoopback:
		if b.clientAddr(r).IsLoopback() {
			if !b.cfg.TrustsProxies && forwarded(r) {
				// A proxy on this machine passes everyone's requests
				// from loopback: unsigned, the whole world would publish.
				b.forwardedOnce.Do(func() {
					b.log.Warn("bridge: unsigned request from loopback with forwarding headers refused: a reverse proxy on this machine? set trusted_proxies on the listener", "remote", r.RemoteAddr)
				})
				return nil, refuse(http.StatusForbidden, ErrSignatureRequired, "an unsigned request from this machine that carries X-Forwarded-For, X-Real-IP or Forwarded came through a proxy, so it is not proven local: set trusted_proxies on the listener (docs/deploy.md), or sign the request")
			}
			return b.anon.peer(), nil
		}
		return nil, refuse(http.StatusUnauthorized, ErrSignatureRequired, "unsigned requests are accepted from this machine only: sign the request (key, timestamp, seq, nonce, signature)")
	}
	return nil, refuse(http.StatusUnauthorized, ErrSignatureRequired, "the request must be signed (key, timestamp, seq, nonce, signature)")
}

// forwarded reports whether r carries a proxy's forwarding headers.
func forwarded(r *http.Request) bool {
	h := r.Header
	return h.Get("X-Forwarded-For") != "" || h.Get("X-Real-IP") != "" || h.Get("Forwarded") != ""
}

func (b *Bridge) clientAddr(r *http.Request) netip.Addr {
	if b.cfg.ClientAddr != nil {
		return b.cfg.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// checkURI checks a topic or procedure under the loose rules; a realm with
// strict URIs checks again, and its ERROR comes back as 400 too.
func checkURI(u, what string) *problem {
	if !wamp.ValidURI(wamp.URI(u), false, false) {
		return refuse(http.StatusBadRequest, wamp.ErrInvalidURI, fmt.Sprintf("invalid %s URI %q", what, u))
	}
	return nil
}

// payload checks args (a list), kwargs (a dict) and options (a dict), and
// decodes the options. Payloads stay JSON: they pass to subscribers and
// callees as they came.
func (b *Bridge) payload(req *request) (wamp.Dict, []byte, []byte, *problem) {
	args, p := rawOf(req.Args, '[', "args", "a list")
	if p != nil {
		return nil, nil, nil, p
	}
	kwargs, p := rawOf(req.Kwargs, '{', "kwargs", "a dict")
	if p != nil {
		return nil, nil, nil, p
	}
	opts := wamp.Dict{}
	if o, p := rawOf(req.Options, '{', "options", "a dict"); p != nil {
		return nil, nil, nil, p
	} else if o != nil {
		v, err := b.json.DecodeValue(o)
		if err != nil {
			return nil, nil, nil, refuse(http.StatusBadRequest, ErrBadPayload, "bad options: "+err.Error())
		}
		opts = v.(map[string]any)
		// A null option is an absent one, as in every WAMP message's
		// Options (package codec): clients that fill a dict from
		// optional fields send them.
		maps.DeleteFunc(opts, func(_ string, v any) bool { return v == nil })
	}
	// The bridge answers once: progressive results would have nowhere
	// to go.
	delete(opts, "receive_progress")
	return opts, args, kwargs, nil
}

// rawOf returns the raw JSON of a payload field, nil when absent or null.
func rawOf(r json.RawMessage, open byte, name, want string) ([]byte, *problem) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return nil, nil
	}
	if r[0] != open {
		return nil, refuse(http.StatusBadRequest, ErrBadPayload, fmt.Sprintf("%q must be %s", name, want))
	}
	return r, nil
}

func unavailable(err error) *problem {
	return refuse(http.StatusServiceUnavailable, ErrUnavailable, "the bridge is not in its realm: "+err.Error())
}

// fail writes a refused request. Nothing was published or called.
func (b *Bridge) fail(w http.ResponseWriter, p *problem) {
	if p.status < 500 {
		b.rejected.Add(1)
	} else {
		b.failed.Add(1)
	}
	b.log.Info("bridge request refused", "status", p.status, "error", string(p.uri), "message", p.msg)
	writeError(w, p.status, p.uri, p.msg, nil, nil)
}

// wampFail writes the answer to a request the router or a callee refused,
// or that could not be delivered.
func (b *Bridge) wampFail(w http.ResponseWriter, a *wamp.Message, err error) {
	p := b.problemOf(err)
	if p == nil {
		return // the client went away; there is no one to answer
	}
	var args, kwargs []byte
	if we := (*wamp.Error)(nil); a != nil && errors.As(err, &we) {
		args, kwargs = a.Args.Raw, a.Kwargs.Raw
	}
	writeError(w, p.status, p.uri, p.msg, args, kwargs)
}

// problemOf maps an error of a publication or call to what the client is
// told, and counts it: a refusal of the request (rejected) or a failure
// to carry it out (failed). It returns nil when the client went away.
func (b *Bridge) problemOf(err error) *problem {
	var we *wamp.Error
	switch {
	case errors.Is(err, ErrBadMessage):
		p := refuse(http.StatusBadRequest, ErrBadPayload, strings.TrimPrefix(err.Error(), ErrBadMessage.Error()+": "))
		b.rejected.Add(1)
		b.log.Info("bridge request refused", "status", p.status, "error", string(p.uri), "message", p.msg)
		return p
	case errors.As(err, &we):
		b.failed.Add(1)
		return refuse(wampStatus(we.URI), we.URI, we.Msg)
	case errors.Is(err, context.DeadlineExceeded):
		b.failed.Add(1)
		return refuse(http.StatusGatewayTimeout, ErrBridgeTimeout, "no answer in time")
	case errors.Is(err, context.Canceled):
		b.failed.Add(1)
		return nil
	default:
		b.failed.Add(1)
		return refuse(http.StatusServiceUnavailable, ErrUnavailable, err.Error())
	}
}

// writeError writes {"error": uri, "message": msg, "args": [...],
// "kwargs": {...}}: the shape of Crossbar.io's bridge errors with the
// message added, so one client handles bridge and WAMP errors alike.
func writeError(w http.ResponseWriter, status int, uri wamp.URI, msg string, args, kwargs []byte) {
	out := make([]byte, 0, 128+len(msg)+len(args)+len(kwargs))
	out = append(out, `{"error":`...)
	out = appendString(out, string(uri))
	out = append(out, `,"message":`...)
	out = appendString(out, msg)
	out = append(out, `,"args":`...)
	out = appendRaw(out, args, "[]")
	out = append(out, `,"kwargs":`...)
	out = appendRaw(out, kwargs, "{}")
	out = append(out, "}\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
