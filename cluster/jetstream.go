package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The state the nodes must agree on or keep lives in JetStream, the RAFT
// replicated store inside nats-server (docs/cluster.md): one KV bucket
// for the registration directory (directory.go), one for retained events
// (retained.go). A write is committed by a majority of the replicas, so a
// node cut off from the majority cannot write at all: that is what makes
// registrations safe under a partition, rather than a protocol of ours.

// ErrNoJetStream is the start error of a node whose NATS has no JetStream.
var ErrNoJetStream = errors.New("cluster: the NATS server has no JetStream (enable it: `jetstream: enabled` in nats-server.conf, or nats-server -js); the cluster keeps its registrations and retained events there")

// store opens the cluster's buckets and watches them. It opens them in
// the background, retrying: a bucket with replicas R can be created only
// once R servers have joined JetStream's meta group, so the first node of
// a cluster waits for the others.
type store struct {
	n  *Node
	js jetstream.JetStream

	mu      sync.Mutex
	kvs     [numBuckets]jetstream.KeyValue // nil until open
	hist    jetstream.Stream               // the history stream, nil without history rules
	openErr error                          // why the buckets are not open yet
	// health is the last check of the buckets' stream leaders: nil when
	// the last check was answered, the error otherwise (no quorum).
	health error
}

// The buckets, by index.
const (
	bucketRegs = iota
	bucketRetained
	bucketTestaments
	numBuckets
)

var bucketNames = [numBuckets]string{"regs", "retained", "testaments"}
var bucketDescriptions = [numBuckets]string{"Switchboard registration directory", "Switchboard retained events", "Switchboard testaments"}

func (n *Node) bucket(i int) string { return "sb_" + n.cfg.Name + "_" + bucketNames[i] }

// replicas is the JetStream replica count of the buckets (config.Cluster
// Replicas).
func (n *Node) replicas() int {
	if r := n.cfg.Replicas; r > 0 {
		return r
	}
	if e := n.cfg.Embedded; e != nil {
		return min(3, 1+len(e.Routes))
	}
	if n.nc.ConnectedClusterName() != "" {
		return 3
	}
	return 1
}

func (n *Node) storage() jetstream.StorageType {
	if n.cfg.Storage == "file" {
		return jetstream.FileStorage
	}
	return jetstream.MemoryStorage
}

// checkJetStream fails when the NATS the node is connected to has no
// JetStream; only an external NATS can be so configured.
func (s *store) checkJetStream(ctx context.Context) error {
	_, err := s.js.AccountInfo(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return ErrNoJetStream
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoHeartbeat):
		// A clustered JetStream that has no meta leader yet answers
		// nothing: not a configuration error, the buckets wait for it.
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled {
		return ErrNoJetStream
	}
	return nil
}

// open creates or binds the buckets, retrying until it succeeds, then
// watches them and checks their health; when the buckets are gone (an
// external NATS restarted without their files) it starts again. It
// returns when the node stops.
func (s *store) open() {
	defer s.n.wg.Done()
	for gen := 0; ; gen++ {
		if !s.openOnce() {
			return
		}
		if gen > 0 {
			// A new bucket: what was known of the old one is void, and
			// this node writes its registrations again.
			s.n.dir.reset()
			s.n.ret.caught.Store(false)
			s.n.hist.seq.Store(0)
			s.n.hist.caught.Store(false)
		}
		s.n.log.Info("cluster state open", "replicas", s.n.replicas(), "storage", s.n.cfg.Storage)
		for {
			ctx, cancel := context.WithCancel(s.n.ctx)
			var wg sync.WaitGroup
			wg.Add(4)
			go func() { defer wg.Done(); s.n.hist.consume(ctx, s.stream()) }()
			go func() { defer wg.Done(); s.n.dir.watch(ctx, s.kv(bucketRegs)) }()
			go func() { defer wg.Done(); s.n.ret.watch(ctx, s.kv(bucketRetained)) }()
			go func() { defer wg.Done(); s.n.tst.watch(ctx, s.kv(bucketTestaments)) }()
			h := s.checkHealth()
			cancel()
			wg.Wait()
			switch h {
			case healthStop:
				return
			case healthRegained:
				// The watchers' consumers may have stalled while there
				// was no quorum, and recover slowly by themselves: watch
				// again from the start (what was seen is skipped).
				continue
			}
			break
		}
		s.mu.Lock()
		s.kvs, s.hist, s.health = [numBuckets]jetstream.KeyValue{}, nil, nil
		s.mu.Unlock()
		s.n.tst.rewrite()
	}
}

// What checkHealth returns on.
const (
	healthStop     = iota // the node stops
	healthLost            // the buckets are gone
	healthRegained        // a quorum came back after it was lost
)

// openOnce retries tryOpen until it succeeds (true) or the node stops.
func (s *store) openOnce() bool {
	wait := 50 * time.Millisecond
	for {
		err := s.tryOpen()
		s.mu.Lock()
		s.openErr = err
		s.mu.Unlock()
		if err == nil {
			return true
		}
		s.n.log.Debug("cluster state not open yet", "error", err)
		select {
		case <-s.n.stop:
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (s *store) tryOpen() error {
	// Short: until JetStream's metadata group has a leader the request
	// is not answered, and the retry after it should come soon.
	ctx, cancel := context.WithTimeout(s.n.ctx, 2*time.Second)
	defer cancel()
	var kvs [numBuckets]jetstream.KeyValue
	for i := range kvs {
		kv, err := s.bucket(ctx, jetstream.KeyValueConfig{Bucket: s.n.bucket(i), Description: bucketDescriptions[i], History: 1})
		if err != nil {
			return err
		}
		kvs[i] = kv
	}
	hist, err := s.openStream(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.kvs, s.hist = kvs, hist
	s.mu.Unlock()
	return nil
}

// bucket creates a bucket, or binds the existing one: the first node to
// create it sets its replicas and storage, which the others then share
// (a node configured otherwise is told in its log).
func (s *store) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = s.n.replicas()
	cfg.Storage = s.n.storage()
	kv, err := s.js.CreateKeyValue(ctx, cfg)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketExists) {
		return nil, fmt.Errorf("create bucket %s (replicas %d): %w", cfg.Bucket, cfg.Replicas, err)
	}
	kv, err = s.js.KeyValue(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("bind bucket %s: %w", cfg.Bucket, err)
	}
	if st, err := kv.Status(ctx); err == nil {
		if info := st.(*jetstream.KeyValueBucketStatus).StreamInfo(); info != nil &&
			(info.Config.Replicas != cfg.Replicas || info.Config.Storage != cfg.Storage) {
			s.n.log.Warn("cluster bucket kept as another node created it", "bucket", cfg.Bucket,
				"replicas", info.Config.Replicas, "storage", info.Config.Storage.String(),
				"configured_replicas", cfg.Replicas, "configured_storage", cfg.Storage.String())
		}
	}
	return kv, nil
}

// watchBucket applies every entry of kv to apply, in the bucket's order,
// and calls caught once the values present at the start are applied,
// until ctx ends. A watch that fails or ends (its consumer lost while
// JetStream elected a leader) starts again: what it delivers again is
// applied again, which changes nothing.
func watchBucket(ctx context.Context, n *Node, kv jetstream.KeyValue, what string, apply func(jetstream.KeyValueEntry), caught func()) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx)
		if err == nil {
			watchOnce(ctx, n, w, what, apply, caught)
			_ = w.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("watch of the cluster's "+what+" ended: watching again", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func watchOnce(ctx context.Context, n *Node, w jetstream.KeyWatcher, what string, apply func(jetstream.KeyValueEntry), caught func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case ent, ok := <-w.Updates():
			switch {
			case !ok:
				return
			case ent == nil:
				n.log.Debug("cluster's " + what + " loaded")
				caught()
			default:
				apply(ent)
			}
		}
	}
}

// stream returns the history stream, nil until open or without history.
func (s *store) stream() jetstream.Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hist
}

// kv returns bucket i, nil until open.
func (s *store) kv(i int) jetstream.KeyValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kvs[i]
}

// checkHealth writes this node's health key in the registration bucket
// every second: a write is committed only by a majority of the replicas,
// so two failures in a row mean no quorum on this side (a partition, too
// few servers up), which makes the node unready. A read would not tell: a stream
// leader cut off from its followers answers reads until it steps down.
// It returns when the node stops, the buckets are gone, or the quorum
// comes back after it was lost.
// electionChecks is how many health checks in a row (a second apart) a
// quorate node's writes may fail before it is unready: above NATS's
// longest election timeout (9 s in nats-server's raft), with a margin.
const electionChecks = 12

func (s *store) checkHealth() int {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	key := "h.u" + base64.RawURLEncoding.EncodeToString([]byte(s.n.cfg.Node))
	failed := 0      // consecutive failed writes
	lagging := 0     // consecutive checks at which the watch had not seen the previous write
	var wrote uint64 // revision of the previous check's write
	for {
		ctx, cancel := context.WithTimeout(s.n.ctx, 2*time.Second)
		rev, err := s.kv(bucketRegs).Put(ctx, key, []byte(strconv.FormatUint(s.n.id, 16)))
		for i := 1; err == nil && i < numBuckets; i++ {
			_, err = s.kv(i).Status(ctx)
		}
		cancel()
		if s.n.ctx.Err() != nil {
			return healthStop
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
			s.n.log.Warn("cluster state lost (NATS restarted without it): creating it again", "error", err)
			return healthLost
		}
		// A watch that has not delivered a write of a second ago has
		// stalled (its consumer lost while JetStream elected a leader):
		// the watches start again.
		if err == nil {
			if wrote > 0 && s.n.dir.seen.Load() < wrote {
				lagging++
			} else {
				lagging = 0
			}
			wrote = rev
			if lagging >= 2 {
				s.n.log.Warn("watch of the cluster state stalled: watching it again")
				return healthRegained
			}
		}
		// One missed write is not a lost quorum: on saturated CPUs (60,000
		// sessions closing at once) a write can miss its deadline. But the
		// watches may have stalled meanwhile: they start again. A node
		// that hears a majority of the cluster is on the quorate side:
		// its writes fail while JetStream elects a new leader for a
		// stream whose leader died, and it stays ready through that
		// (electionChecks), so that the loss of one node does not make
		// its survivors unready too.
		regained := err == nil && failed > 0
		if err != nil {
			failed++
			tolerate := 2
			if s.n.quorate() {
				tolerate = electionChecks
			}
			if failed < tolerate {
				err = nil
			}
		} else {
			failed = 0
		}
		s.mu.Lock()
		was := s.health
		s.health = err
		s.mu.Unlock()
		switch {
		case err != nil && was == nil:
			s.n.log.Warn("cluster state unreachable: no JetStream quorum on this side", "error", err)
		case regained:
			if was != nil {
				s.n.log.Info("cluster state reachable again: watching it again")
			}
			s.n.dir.signal()
			return healthRegained
		}
		select {
		case <-s.n.stop:
			return healthStop
		case <-t.C:
		}
	}
}

// err says why the cluster state cannot be used now, nil when it can.
func (s *store) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.kvs[bucketRegs] == nil && s.openErr != nil:
		return fmt.Errorf("cluster state not available yet: %w", s.openErr)
	case s.kvs[bucketRegs] == nil:
		return errors.New("cluster state not available yet")
	case s.health != nil:
		return fmt.Errorf("no JetStream quorum: %w", s.health)
	}
	if !s.n.dir.loaded() || !s.n.ret.caught.Load() || !s.n.hist.caught.Load() {
		return errors.New("cluster state still loading")
	}
	return nil
}
