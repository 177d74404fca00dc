package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
)

// Event history lives in a JetStream stream, one subject per (realm,
// history subscription): the node where an event is published writes it
// (broker.Config.HistoryRecorder), from a goroutine of its own behind a
// bounded queue; every node consumes the stream in order and keeps the
// events in its broker's history, so wamp.subscription.get_events answers
// the same on every node and, with file storage, after a restart of the
// whole cluster. Nodes write their events as they publish them, so the
// stream's order is not quite publication order: the stream keeps, per
// subject, more events than the largest history rule (streamKeep), and
// each broker keeps the latest of them by publication time, so that a
// node that replays the stream later keeps the same events as those that
// saw them live.
type historyStore struct {
	n *Node
	w *writer
	// seq is the last stream sequence applied, so that a new consumer
	// (after a loss of quorum) starts after it rather than again.
	seq atomic.Uint64
	// caught is set once the consumer has delivered what the stream held
	// at start: before that the node is not ready.
	caught atomic.Bool
}

func newHistoryStore(n *Node) *historyStore {
	return &historyStore{n: n, w: newWriter(n, "history event")}
}

func (n *Node) historyStream() string { return "sb_" + n.cfg.Name + "_history" }

func (n *Node) historySubject(realm wamp.URI, sub wamp.ID) string {
	return n.prefix + ".h.u" + base64.RawURLEncoding.EncodeToString([]byte(realm)) + "." + strconv.FormatUint(uint64(sub), 10)
}

// historyLimit is the most events any history subscription keeps (0:
// no realm keeps history, and the stream is not created).
func (n *Node) historyLimit() int {
	limit := 0
	for _, l := range n.realms {
		if l.r != nil {
			limit = max(limit, l.r.Broker().HistoryLimit())
		}
	}
	return limit
}

// streamKeep is how many events per subject the stream keeps for a
// history rule of limit: the limit, and as many again (at least 64) for
// events whose writes crossed (two nodes publishing on one topic at once).
func streamKeep(limit int) int {
	return limit + max(limit, 64)
}

// openStream creates or binds the history stream.
func (s *store) openStream(ctx context.Context) (jetstream.Stream, error) {
	limit := s.n.historyLimit()
	if limit == 0 {
		return nil, nil
	}
	limit = streamKeep(limit)
	cfg := jetstream.StreamConfig{
		Name:              s.n.historyStream(),
		Description:       "Switchboard event history",
		Subjects:          []string{s.n.prefix + ".h.>"},
		MaxMsgsPerSubject: int64(limit),
		Discard:           jetstream.DiscardOld,
		Replicas:          s.n.replicas(),
		Storage:           s.n.storage(),
	}
	st, err := s.js.CreateStream(ctx, cfg)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("create stream %s: %w", cfg.Name, err)
	}
	st, err = s.js.Stream(ctx, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("bind stream %s: %w", cfg.Name, err)
	}
	if info := st.CachedInfo(); info != nil && info.Config.MaxMsgsPerSubject < int64(limit) {
		// A rule of this node keeps more than the stream was made for.
		cfg.Subjects, cfg.Description = info.Config.Subjects, info.Config.Description
		if st2, err := s.js.UpdateStream(ctx, cfg); err == nil {
			st = st2
		} else {
			s.n.log.Warn("history stream keeps fewer events than a rule asks", "stream", cfg.Name, "error", err)
		}
	}
	return st, nil
}

// RecordHistory implements realm.Link.
func (l *Realm) RecordHistory(e *broker.HistoryEvent) {
	l.n.hist.put(l.name, e)
}

func (h *historyStore) put(realm wamp.URI, e *broker.HistoryEvent) {
	m := wamp.Message{
		Type: wamp.EVENT, ID: e.Subscription, Publication: e.Publication,
		Details: wamp.Dict{"t": e.Timestamp.UnixNano(), "u": string(e.Topic)},
		Args:    e.Args, Kwargs: e.Kwargs,
	}
	if len(e.Details) > 0 {
		m.Details["d"] = map[string]any(e.Details)
	}
	b, err := encodeData(kindHist, h.n.id, 0, realm, &m)
	if err != nil {
		h.n.log.Warn("history event not stored in the cluster", "topic", string(e.Topic), "error", err)
		return
	}
	subject := h.n.historySubject(realm, e.Subscription)
	// The message id makes a write tried again (writer.write) after a
	// lost acknowledgement a duplicate that JetStream drops.
	id := strconv.FormatUint(uint64(e.Subscription), 10) + "." + strconv.FormatUint(uint64(e.Publication), 10)
	h.w.push(func(ctx context.Context) error {
		_, err := h.n.store.js.Publish(ctx, subject, b, jetstream.WithMsgID(id))
		return err
	})
}

// consume applies the stream to the brokers' histories, in order, from
// after the last event applied, until ctx ends; a consumer that cannot
// be made (no leader yet) is tried again.
func (h *historyStore) consume(ctx context.Context, st jetstream.Stream) {
	if st == nil {
		h.caught.Store(true)
		return
	}
	for ctx.Err() == nil {
		err := h.consumeOnce(ctx, st)
		if ctx.Err() != nil {
			return
		}
		h.n.log.Warn("cannot consume the history stream: trying again", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (h *historyStore) consumeOnce(ctx context.Context, st jetstream.Stream) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if seq := h.seq.Load(); seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if last <= h.seq.Load() {
		h.caught.Store(true)
	}
	c, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	cc, err := c.Consume(func(msg jetstream.Msg) {
		md, err := msg.Metadata()
		if err != nil || md.Sequence.Stream <= h.seq.Load() {
			return
		}
		h.apply(msg.Data())
		h.seq.Store(md.Sequence.Stream)
		if md.Sequence.Stream >= last {
			h.caught.Store(true)
		}
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

func (h *historyStore) apply(b []byte) {
	defer h.n.survive("history")
	var hd dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	if err := decodeData(b, &hd, m); err != nil || hd.kind != kindHist {
		h.n.log.Warn("bad history event in the cluster store", "error", err)
		return
	}
	l := h.n.realms[wamp.URI(hd.realm)]
	if l == nil || l.r == nil {
		return
	}
	ts, _ := wamp.AsInt(m.Details["t"])
	e := broker.HistoryEvent{
		Timestamp: time.Unix(0, ts), Subscription: m.ID, Publication: m.Publication,
		Topic: wamp.URI(wamp.String(m.Details, "u")), Args: m.Args.Clone(), Kwargs: m.Kwargs.Clone(),
	}
	if d, ok := m.Details["d"].(map[string]any); ok {
		e.Details = d
	}
	l.r.Broker().AddHistory(e)
}
