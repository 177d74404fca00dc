package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Subscriber POSTs the events of a topic to a URL, so that a backend
// receives events without a WAMP client. Each event is one POST of
// {"topic": "...", "publication": id, "args": [...], "kwargs": {...},
// "details": {...}} (the EVENT's details: the publisher when disclosed)
// with content type application/json; a 2xx answer delivers it. Events
// wait in a bounded queue: when the endpoint falls behind, the events that
// do not fit are dropped and counted, and no one else slows down.
type Subscriber struct {
	// Topic and Match ("", exact, prefix or wildcard) say what to
	// subscribe to.
	Topic wamp.URI
	Match string
	// URL is an http or https URL.
	URL string
	// Timeout bounds one POST. Zero value: 5s.
	Timeout time.Duration
	// Retries is how many times a failed POST is tried again; zero: never.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// one up to 30s. Zero value: 500ms.
	Backoff time.Duration
	// Queue bounds the events waiting to be posted. Zero value: 1000.
	Queue int
}

// SubscriberStats counts one HTTP subscriber's events.
type SubscriberStats struct {
	// Delivered: answered with 2xx. Retried: POSTs tried again.
	// Failed: given up after the last retry. Dropped: the queue was full.
	Delivered, Retried, Failed, Dropped uint64
}

const maxBackoff = 30 * time.Second

type httpSubscriber struct {
	b     *Bridge
	cfg   Subscriber
	queue chan []byte
	ready chan struct{} // closed once subscribed, or when that failed (err)
	err   error

	delivered, retried, failed, dropped atomic.Uint64
}

func newSubscriber(b *Bridge, cfg Subscriber) (*httpSubscriber, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bridge: subscriber %s: bad URL %q: want http:// or https://", cfg.Topic, cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	return &httpSubscriber{b: b, cfg: cfg, queue: make(chan []byte, cfg.Queue), ready: make(chan struct{})}, nil
}

func (s *httpSubscriber) stats() SubscriberStats {
	return SubscriberStats{Delivered: s.delivered.Load(), Retried: s.retried.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()}
}

// run subscribes, then posts queued events until the bridge closes.
func (s *httpSubscriber) run() {
	b := s.b
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	log := b.log.With("subscriber", s.cfg.URL, "topic", string(s.cfg.Topic))
	first := true
	wait := s.cfg.Backoff
	for {
		p, swapped := b.subSlot.get()
		err := p.Ready(ctx)
		if err == nil {
			_, err = p.Subscribe(ctx, s.cfg.Topic, s.cfg.Match, s.enqueue)
		}
		if err != nil && ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("HTTP subscriber cannot subscribe", "error", err)
		}
		if first {
			// Ready reports the first outcome: a config error, such as
			// a role that may not subscribe, must not pass silently.
			first = false
			if err != nil {
				s.err = fmt.Errorf("bridge: subscriber %s: %w", s.cfg.Topic, err)
			}
			close(s.ready)
		}
		if refusedForGood(err) {
			return // trying again changes nothing
		}
		if err != nil {
			// Anything else may pass (a session that ended, an
			// authorizer that failed, a realm not there yet): try
			// again, backing off, or at once on a new session.
			select {
			case <-ctx.Done():
				return
			case <-swapped:
			case <-time.After(wait):
			}
			wait = min(2*wait, maxBackoff)
			continue
		}
		wait = s.cfg.Backoff
		// Deliver until the session ends, then subscribe again on the
		// one that replaces it.
	deliver:
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.done:
				break deliver
			case body := <-s.queue:
				s.deliver(ctx, body, log)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-swapped:
		}
	}
}

// refusedForGood tells a refusal to subscribe that no retry can change
// (the role may not subscribe, the topic is not a URI) from one that may
// pass.
func refusedForGood(err error) bool {
	var we *wamp.Error
	return errors.As(err, &we) && (we.URI == wamp.ErrNotAuthorized || we.URI == wamp.ErrInvalidURI)
}

// enqueue takes an EVENT on the session's writer goroutine: it encodes the
// POST body and queues it, or drops it when the queue is full.
func (s *httpSubscriber) enqueue(m *wamp.Message) {
	topic := wamp.String(m.Details, "topic")
	if topic == "" {
		topic = string(s.cfg.Topic)
	}
	out := make([]byte, 0, 64+len(topic)+len(m.Args.Raw)+len(m.Kwargs.Raw))
	out = append(out, `{"topic":`...)
	out = appendString(out, topic)
	out = append(out, `,"publication":`...)
	out = strconv.AppendUint(out, uint64(m.Publication), 10)
	out = append(out, `,"args":`...)
	out = appendRaw(out, m.Args.Raw, "[]")
	out = append(out, `,"kwargs":`...)
	out = appendRaw(out, m.Kwargs.Raw, "{}")
	out = append(out, `,"details":`...)
	if d, err := s.b.json.AppendValue(out, map[string]any(m.Details)); err == nil && len(m.Details) > 0 {
		out = d
	} else {
		out = append(out, "{}"...)
	}
	out = append(out, '}')
	select {
	case s.queue <- out:
	default:
		s.dropped.Add(1)
	}
}

func (s *httpSubscriber) deliver(ctx context.Context, body []byte, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	wait := s.cfg.Backoff
	for attempt := 0; ; attempt++ {
		err := s.post(ctx, body)
		if err == nil {
			s.delivered.Add(1)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt >= s.cfg.Retries {
			s.failed.Add(1)
			log.Warn("HTTP subscriber gave an event up", "attempts", attempt+1, "error", err)
			return
		}
		log.Info("HTTP subscriber retries", "attempt", attempt+1, "wait", wait, "error", err)
		s.retried.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (s *httpSubscriber) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.b.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the body so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", s.cfg.URL, resp.Status)
	}
	return nil
}
