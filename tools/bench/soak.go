package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// SoakConfig describes a soak: the mixed load of RunSoak, then its checks
// on the router's own numbers.
type SoakConfig struct {
	// Load is the config of the scenarios run together (fanout, pubsub,
	// rpc, churn): URL, Realm, Serialization, Duration (the whole soak's
	// load), Subscribers, Pairs, Callees, Callers, InFlight, Parallel,
	// Window. Its Scenario is ignored.
	Load Config
	// MetricsURL is the router's Prometheus endpoint. Default
	// http://HOST:PORT/metrics of a ws:// Load.URL; required for tcp:// and
	// unix:// URLs.
	MetricsURL string
	// Slow subscribers read a topic of their own, paced at SlowRate events
	// per second, sleeping a millisecond after each event. Default 2.
	Slow int
	// SlowRate is the publication rate of the slow subscribers' topic.
	// Default 200 per second, a fifth of what they can read: slow, but
	// keeping up.
	SlowRate float64
	// Stalled subscribers join the fanout topic and a topic of their own
	// and never read again; the router must close them as slow consumers,
	// within the load and the 10 seconds after it: make Duration longer
	// than the router's disconnect_after. Their topic gets 64 MiB of events
	// at the start, more than socket buffers and a queue hold, so that they
	// fill up whatever the rest of the load. Default 2.
	Stalled int
	// Cancelers are callers that each keep two calls in flight on a
	// procedure whose callee answers only after CancelDelay: one call
	// canceled (CANCEL, mode killnowait) right after it is sent, one with
	// CALL.Options.timeout = CallTimeout. Default 2.
	Cancelers int
	// CallTimeout is the timeout option of the calls that must expire.
	// Default 20ms.
	CallTimeout time.Duration
	// CancelDelay is how long the callee of the canceled and expiring
	// calls waits before it answers (late, swallowed by the router).
	// Default 200ms.
	CancelDelay time.Duration
	// MaxMessageSize is the router's limit; the misbehaving client sends
	// messages just over it. Default 16 MiB, the router's default.
	MaxMessageSize int
	// Misbehave is how often the misbehaving client joins and sends an
	// oversize message, a payload that is not well formed, or a message
	// of a type a client must not send, in turn. Default 100ms.
	Misbehave time.Duration
	// Settle bounds the wait, after the load, for the router's resources
	// to come back within the tolerance. Default 30s.
	Settle time.Duration
}

func (c *SoakConfig) defaults() {
	c.Load.defaults()
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Slow, 2)
	def(&c.Stalled, 2)
	def(&c.Cancelers, 2)
	def(&c.MaxMessageSize, 16<<20)
	if c.SlowRate <= 0 {
		c.SlowRate = 200
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur(&c.CallTimeout, 20*time.Millisecond)
	defDur(&c.CancelDelay, 200*time.Millisecond)
	defDur(&c.Misbehave, 100*time.Millisecond)
	defDur(&c.Settle, 30*time.Second)
}

// Tolerances of the soak's resource checks: after the load, a figure may
// exceed its start by the larger of soakRatio and its absolute floor. The
// floors keep small counts from failing on noise: an idle router has a few
// dozen goroutines and files, so 10% of them is one or two, and a scrape of
// /metrics in progress holds a goroutine and a file of its own.
const (
	soakRatio        = 0.10
	soakGoroutineAbs = 10
	soakFDAbs        = 10
	// The heap is read after the router collected (see collect); its Go
	// runtime keeps at least a 4 MiB heap goal, and what a run leaves in
	// sync.Pools is freed only by the second collection after it.
	soakHeapAbs = 4 << 20
)

// RouterFigures are what the soak reads of the router: from /metrics, and
// the session count from the WAMP meta API.
type RouterFigures struct {
	Goroutines float64 `json:"goroutines"`
	OpenFDs    float64 `json:"open_fds"`
	// HeapBytes is go_memstats_heap_alloc_bytes, the smallest read after
	// the router collected twice.
	HeapBytes float64 `json:"heap_bytes"`
	// Sessions is wamp.session.count, the asking session included.
	Sessions int64 `json:"sessions"`
	// SlowClosed and ProtocolViolations are
	// switchboard_slow_consumers_closed_total and
	// switchboard_sessions_closed_total{reason="protocol_violation"},
	// summed over realms.
	SlowClosed         float64 `json:"slow_consumers_closed"`
	ProtocolViolations float64 `json:"protocol_violations"`
}

// SoakReport is the outcome of a soak.
type SoakReport struct {
	Seconds float64 `json:"seconds"` // load
	// Scenarios are the reports of the scenarios run together.
	Scenarios []*Report `json:"scenarios"`
	// Before is read before the load, After once the resources settled
	// (or Settle ran out).
	Before        RouterFigures `json:"before"`
	After         RouterFigures `json:"after"`
	SettleSeconds float64       `json:"settle_seconds"`

	// Calls that had to end in an error: canceled, expired; Answered of
	// them ended otherwise (a RESULT that beat the CANCEL), Unanswered not
	// at all.
	CancelCalls  int64 `json:"cancel_calls"`
	Canceled     int64 `json:"canceled"`
	TimeoutCalls int64 `json:"timeout_calls"`
	TimedOut     int64 `json:"timed_out"`
	Answered     int64 `json:"answered_otherwise"`
	Unanswered   int64 `json:"unanswered"`

	// Slow subscribers: how many, events published to them, received by
	// all of them, and those the router closed.
	Slow          int   `json:"slow"`
	SlowPublished int64 `json:"slow_published"`
	SlowReceived  int64 `json:"slow_received"`
	SlowClosed    int64 `json:"slow_closed"`
	// Stalled subscribers and how many the router closed.
	Stalled       int   `json:"stalled"`
	StalledClosed int64 `json:"stalled_closed"`
	// Misbehaving sessions and how many the router closed.
	Misbehaved       int64 `json:"misbehaved"`
	MisbehaverClosed int64 `json:"misbehaver_closed"`

	// Failures lists every check that failed; none means the soak passed.
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`

	sideNotes Report // what the side load's readers noted
}

// OK reports whether every check passed.
func (r *SoakReport) OK() bool { return len(r.Failures) == 0 }

func (r *SoakReport) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// RunSoak runs fanout, pubsub, rpc and churn together for cfg.Load.Duration
// with the soak's own loads beside them (slow and stalled subscribers,
// canceled and expiring calls, a misbehaving client), then checks the
// router: its goroutines, open files and heap back within tolerance of
// their start, its session count back to the start, every subscriber of
// fanout and pubsub complete, the stalled subscribers and the misbehaving
// sessions closed, and the metrics counting them. It returns an error when
// the soak cannot start; failed checks are in the report's Failures.
func RunSoak(ctx context.Context, cfg SoakConfig) (*SoakReport, error) {
	cfg.defaults()
	load := &cfg.Load
	if load.URL == "" {
		return nil, errors.New("bench: no router URL")
	}
	if cfg.MetricsURL == "" {
		u, err := url.Parse(load.URL)
		if err != nil || u.Scheme != "ws" {
			return nil, fmt.Errorf("bench: soak: no metrics URL, and none follows from %q", load.URL)
		}
		cfg.MetricsURL = "http://" + u.Host + "/metrics"
	}
	m := &metricsReader{url: cfg.MetricsURL, hc: &http.Client{
		Timeout: 10 * time.Second,
		// A connection kept alive would be a goroutine and a file of the
		// router that the first reading lacks.
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
	rep := &SoakReport{Stalled: cfg.Stalled, Slow: cfg.Slow}
	before, err := readFigures(ctx, &cfg, m)
	if err != nil {
		return nil, fmt.Errorf("bench: soak: %w", err)
	}
	rep.Before = before

	t0 := time.Now()
	deadline := t0.Add(load.Duration)
	side := &soakSide{cfg: &cfg, deadline: deadline}
	if err := side.open(ctx); err != nil {
		side.close()
		return nil, fmt.Errorf("bench: soak: %w", err)
	}
	// The scenarios, each with the soak's duration: they end together.
	scenarios := []string{"fanout", "pubsub", "rpc", "churn"}
	rep.Scenarios = make([]*Report, len(scenarios))
	errs := make([]error, len(scenarios))
	var wg sync.WaitGroup
	for i, s := range scenarios {
		c := *load
		c.Scenario = s
		wg.Go(func() { rep.Scenarios[i], errs[i] = Run(ctx, c) })
	}
	side.run(ctx)
	wg.Wait()
	rep.Seconds = time.Since(t0).Seconds()
	side.finish(ctx, rep)
	for i, err := range errs {
		if err != nil {
			rep.fail("%s did not run: %v", scenarios[i], err)
		}
	}
	checkScenarios(rep)

	// Settle: wait until every figure is back, or Settle runs out.
	t1 := time.Now()
	var after RouterFigures
	for {
		after, err = readFigures(ctx, &cfg, m)
		if err != nil {
			return nil, fmt.Errorf("bench: soak: after the load: %w", err)
		}
		if len(resourceFailures(before, after)) == 0 || time.Since(t1) > cfg.Settle || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	rep.After = after
	rep.SettleSeconds = time.Since(t1).Seconds()
	rep.Failures = append(rep.Failures, resourceFailures(before, after)...)
	if after.SlowClosed-before.SlowClosed < float64(cfg.Stalled) {
		rep.fail("switchboard_slow_consumers_closed_total grew by %.0f, want at least %d (the stalled subscribers)",
			after.SlowClosed-before.SlowClosed, cfg.Stalled)
	}
	if grew := after.ProtocolViolations - before.ProtocolViolations; grew < float64(rep.MisbehaverClosed) || grew == 0 {
		rep.fail(`switchboard_sessions_closed_total{reason="protocol_violation"} grew by %.0f, want at least %d (the misbehaving sessions closed)`,
			grew, max(rep.MisbehaverClosed, 1))
	}
	return rep, nil
}

// checkScenarios fails the soak for what its scenarios lost or failed.
// Churn errors are counted but fine: a cycle refused while the router is
// saturated is not a leak, and its checks come after.
func checkScenarios(rep *SoakReport) {
	for _, r := range rep.Scenarios {
		if r == nil {
			continue
		}
		if r.Sent == 0 {
			rep.fail("%s: nothing sent", r.Scenario)
		}
		if r.Scenario == "churn" {
			continue
		}
		if r.Lost != 0 || r.Stalled || r.Errors != 0 {
			rep.fail("%s: lost %d of %d, errors %d, stalled %v; notes %q", r.Scenario, r.Lost, r.Expected, r.Errors, r.Stalled, r.Notes)
		}
	}
}

// resourceFailures compares the router's figures after the load with those
// before it.
func resourceFailures(before, after RouterFigures) []string {
	var out []string
	check := func(name string, b, a, abs float64) {
		if limit := max(b*(1+soakRatio), b+abs); a > limit {
			out = append(out, fmt.Sprintf("%s %.0f after the load, %.0f before: over the limit %.0f (+%.0f%% or +%.0f)", name, a, b, limit, 100*soakRatio, abs))
		}
	}
	check("goroutines", before.Goroutines, after.Goroutines, soakGoroutineAbs)
	check("open files", before.OpenFDs, after.OpenFDs, soakFDAbs)
	check("heap bytes", before.HeapBytes, after.HeapBytes, soakHeapAbs)
	if after.Sessions != before.Sessions {
		out = append(out, fmt.Sprintf("wamp.session.count %d after the load, %d before: sessions stuck", after.Sessions, before.Sessions))
	}
	return out
}

// readFigures reads the router's figures: the session count first (its
// session closes before the metrics are read), then, once the router has
// collected twice, its metrics.
func readFigures(ctx context.Context, cfg *SoakConfig, m *metricsReader) (RouterFigures, error) {
	var f RouterFigures
	n, err := sessionCount(&cfg.Load)
	if err != nil {
		return f, fmt.Errorf("wamp.session.count: %w", err)
	}
	f.Sessions = n
	heap, err := collect(ctx, &cfg.Load, m)
	if err != nil {
		return f, err
	}
	vals, err := m.read()
	if err != nil {
		return f, err
	}
	f.HeapBytes = heap
	f.Goroutines = vals.sum("go_goroutines", "")
	f.OpenFDs = vals.sum("process_open_fds", "")
	f.SlowClosed = vals.sum("switchboard_slow_consumers_closed_total", "")
	f.ProtocolViolations = vals.sum("switchboard_sessions_closed_total", `reason="protocol_violation"`)
	return f, nil
}

// collect makes the router collect garbage twice, since it exposes no way
// to ask: it opens and leaves sessions, whose buffers are garbage at once,
// until go_gc_duration_seconds_count has grown by two (or for 10 seconds
// at most). It returns the smallest heap read after that, of three reads:
// the live heap plus what the reads themselves allocated. Session churn
// leaves nothing behind, as the soak's own checks show.
func collect(ctx context.Context, cfg *Config, m *metricsReader) (float64, error) {
	vals, err := m.read()
	if err != nil {
		return 0, err
	}
	gcs := vals.sum("go_gc_duration_seconds_count", "")
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) && ctx.Err() == nil {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 50 {
					_ = cycle(cfg, fmt.Sprintf("bench.soak.gc.%d", i))
				}
			})
		}
		wg.Wait()
		if vals, err = m.read(); err != nil {
			return 0, err
		}
		if vals.sum("go_gc_duration_seconds_count", "") >= gcs+2 {
			break
		}
	}
	heap := vals.sum("go_memstats_heap_alloc_bytes", "")
	for range 3 {
		if vals, err = m.read(); err != nil {
			return 0, err
		}
		heap = min(heap, vals.sum("go_memstats_heap_alloc_bytes", ""))
	}
	return heap, nil
}

// sessionCount asks the router for wamp.session.count from a session of its
// own, which the count includes.
func sessionCount(cfg *Config) (int64, error) {
	c, err := join(cfg)
	if err != nil {
		return 0, err
	}
	defer c.Leave() //nolint:errcheck // the count is read
	call := &wamp.Message{Type: wamp.CALL, Request: c.NextID(), URI: "wamp.session.count"}
	if err := c.Send(call); err != nil {
		return 0, err
	}
	var m wamp.Message
	for {
		if err := c.Recv(&m); err != nil {
			return 0, err
		}
		if m.Request != call.Request || m.Type != wamp.RESULT && m.Type != wamp.ERROR {
			continue
		}
		if m.Type == wamp.ERROR {
			return 0, fmt.Errorf("%w: %s", client.ErrAborted, m.URI)
		}
		v, err := codec.For(c.Serialization()).DecodeValue(m.Args.Raw)
		list, _ := v.([]any)
		if err != nil || len(list) != 1 {
			return 0, fmt.Errorf("%w: result %v", client.ErrProtocol, v)
		}
		n, ok := wamp.AsInt(list[0])
		if !ok {
			return 0, fmt.Errorf("%w: result %v", client.ErrProtocol, v)
		}
		return n, nil
	}
}

// metricsReader reads the router's Prometheus text exposition.
type metricsReader struct {
	url string
	hc  *http.Client
}

// samples are the lines of one exposition: series (name and labels) and
// value.
type samples []sample

type sample struct {
	series string
	value  float64
}

func (m *metricsReader) read() (samples, error) {
	resp, err := m.hc.Get(m.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", m.url, resp.Status)
	}
	var out samples
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out = append(out, sample{series: line[:i], value: v})
	}
	return out, sc.Err()
}

// sum adds the values of name's series whose labels contain label (every
// series when label is empty).
func (s samples) sum(name, label string) float64 {
	var v float64
	for _, x := range s {
		rest, ok := strings.CutPrefix(x.series, name)
		if !ok || rest != "" && rest[0] != '{' {
			continue
		}
		if label == "" || strings.Contains(rest, label) {
			v += x.value
		}
	}
	return v
}

// soakSide is the soak's own load beside the scenarios.
type soakSide struct {
	cfg      *SoakConfig
	deadline time.Time
	rs       readers // every session but the slow subscribers
	slowRS   readers // the slow subscribers, which the router may close

	slowPub   *client.Conn
	slow      []*client.Conn
	slowRecv  atomic.Int64
	slowSent  int64
	stalled   []*client.Conn
	callee    *client.Conn
	cancelers []*canceler

	misbehaved, misClosed atomic.Int64
	misErr                error
	wg                    sync.WaitGroup // the side load's goroutines
	late                  sync.WaitGroup // the callee's late answers
}

// soakSlowTopic, soakSlowProc: the slow subscribers' topic and the
// procedure whose callee answers late.
const (
	soakSlowTopic    = "bench.soak.slow"
	soakStalledTopic = "bench.soak.stalled"
	soakSlowProc     = "bench.soak.late"
)

// soakFlood is how much is published to the stalled subscribers: more than
// the router's queue (4 MiB by default) and the socket buffers on either
// side (a few MiB each on Linux) hold together.
const soakFlood = 64 << 20

// open joins the soak's sessions before the load starts: a stalled
// subscriber must be subscribed when the fanout's publisher starts.
func (s *soakSide) open(ctx context.Context) error {
	cfg := &s.cfg.Load
	var err error
	if s.stalled, _, err = openAll(ctx, cfg, s.cfg.Stalled, func(_ int, c *client.Conn) error {
		_, err := c.Subscribe("bench.fanout")
		if err == nil {
			_, err = c.Subscribe(soakStalledTopic)
		}
		return err
	}); err != nil {
		return fmt.Errorf("stalled subscribers: %w", err)
	}
	if s.slow, _, err = openAll(ctx, cfg, s.cfg.Slow, func(_ int, c *client.Conn) error {
		_, err := c.Subscribe(soakSlowTopic)
		return err
	}); err != nil {
		return fmt.Errorf("slow subscribers: %w", err)
	}
	if s.slowPub, err = join(cfg); err != nil {
		return fmt.Errorf("slow topic's publisher: %w", err)
	}
	if s.callee, err = join(cfg); err == nil {
		_, err = s.callee.Register(soakSlowProc, nil)
	}
	if err != nil {
		return fmt.Errorf("late callee: %w", err)
	}
	conns, _, err := openAll(ctx, cfg, s.cfg.Cancelers, func(int, *client.Conn) error { return nil })
	if err != nil {
		return fmt.Errorf("cancelling callers: %w", err)
	}
	for _, c := range conns {
		s.cancelers = append(s.cancelers, &canceler{conn: c, pending: map[wamp.ID]bool{}})
	}
	return nil
}

// run starts the side load; it ends by itself at the deadline.
func (s *soakSide) run(ctx context.Context) {
	for _, c := range s.slow {
		s.slowRS.serve(c, func(m *wamp.Message) {
			if m.Type == wamp.EVENT {
				s.slowRecv.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	s.rs.serve(s.slowPub, func(*wamp.Message) {})
	s.wg.Go(func() {
		s.flood(ctx)
		s.publishSlow(ctx)
	})

	// The callee answers every invocation once, late: the router swallows
	// the answers to canceled and expired calls (tombstones).
	callee := s.callee
	delay := s.cfg.CancelDelay
	s.rs.serve(callee, func(m *wamp.Message) {
		if m.Type != wamp.INVOCATION {
			return
		}
		req := m.Request
		s.late.Go(func() {
			time.Sleep(delay)
			_ = callee.Send(&wamp.Message{Type: wamp.YIELD, Request: req})
		})
	})
	for _, c := range s.cancelers {
		s.rs.serve(c.conn, c.record)
		s.wg.Go(func() { c.run(ctx, s.cfg, s.deadline) })
	}
	s.wg.Go(func() { s.misbehave(ctx) })
}

// flood publishes soakFlood bytes to the stalled subscribers, in events of
// a quarter of MaxMessageSize or 16 KiB, whichever is smaller, as fast as
// the router takes them. All of it, past the deadline if need be: on a
// loaded machine a short soak would otherwise end before the stalled
// subscribers' buffers are full, and the router rightly closes nobody.
func (s *soakSide) flood(ctx context.Context) {
	ser := s.cfg.Load.Serialization
	size := min(s.cfg.MaxMessageSize/4, 16<<10)
	msg := &wamp.Message{Type: wamp.PUBLISH, URI: soakStalledTopic,
		Args: wamp.Payload{Raw: appendArgs(nil, ser, 0, 0, size), Ser: ser}}
	for sent := 0; sent < soakFlood && ctx.Err() == nil; sent += size {
		msg.Request = s.slowPub.NextID()
		if s.slowPub.Send(msg) != nil {
			return
		}
	}
}

// publishSlow publishes to the slow subscribers at SlowRate until the
// deadline.
func (s *soakSide) publishSlow(ctx context.Context) {
	cfg := &s.cfg.Load
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.SlowRate))
	defer tick.Stop()
	msg := &wamp.Message{Type: wamp.PUBLISH, URI: soakSlowTopic}
	var args []byte
	for ctx.Err() == nil && time.Now().Before(s.deadline) {
		<-tick.C
		args = appendArgs(args[:0], cfg.Serialization, uint64(s.slowSent), now(), 0)
		msg.Request = s.slowPub.NextID()
		msg.Args = wamp.Payload{Raw: args, Ser: cfg.Serialization}
		if s.slowPub.Send(msg) != nil {
			return
		}
		s.slowSent++
	}
}

// misbehave joins a session every Misbehave until the deadline and makes it
// break the protocol, each time in the next of three ways; the router must
// close each.
func (s *soakSide) misbehave(ctx context.Context) {
	cfg := &s.cfg.Load
	ser := cfg.Serialization
	// A payload list that is cut short: [1, with the second element
	// missing at the end of the message.
	bad := map[wamp.Serialization][]byte{wamp.JSON: []byte("[1,"), wamp.MsgPack: {0x92, 0x01}, wamp.CBOR: {0x82, 0x01}}[ser]
	oversize := appendArgs(nil, ser, 0, 0, s.cfg.MaxMessageSize)
	msgs := []*wamp.Message{
		{Type: wamp.PUBLISH, URI: "bench.soak.oversize", Args: wamp.Payload{Raw: oversize, Ser: ser}},
		{Type: wamp.PUBLISH, URI: "bench.soak.malformed", Args: wamp.Payload{Raw: bad, Ser: ser}},
		// EVENT goes from router to subscriber only.
		{Type: wamp.EVENT, ID: 1, Request: 1, Details: wamp.Dict{}},
	}
	tick := time.NewTicker(s.cfg.Misbehave)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil && time.Now().Before(s.deadline); i++ {
		c, err := join(cfg)
		if err != nil {
			if s.misErr == nil {
				s.misErr = err
			}
		} else {
			m := msgs[i%len(msgs)]
			m.Request = c.NextID()
			s.misbehaved.Add(1)
			if closedByRouter(c, m) {
				s.misClosed.Add(1)
			}
		}
		<-tick.C
	}
}

// soakCloseWait bounds the wait for the router to close a session it must
// close (a misbehaving or stalled one); only a router that never does waits
// this long.
const soakCloseWait = 10 * time.Second

// closedByRouter sends m on c, then reads until the router ends the
// connection; it reports whether that happened within soakCloseWait. With
// m nil it only reads. c is closed on return.
func closedByRouter(c *client.Conn, m *wamp.Message) bool {
	defer c.Close()
	var late atomic.Bool
	t := time.AfterFunc(soakCloseWait, func() { late.Store(true); _ = c.Close() })
	defer t.Stop()
	if m != nil && c.Send(m) != nil {
		return !late.Load() // the router closed while m was written
	}
	_ = c.Serve(func(*wamp.Message) {})
	return !late.Load()
}

// finish waits for the side load, checks what the router did to the
// stalled subscribers and fills rep.
func (s *soakSide) finish(ctx context.Context, rep *SoakReport) {
	s.wg.Wait()
	// The stalled subscribers read again: the router closed those whose
	// connection ends once what it had sent is read.
	var stalledClosed atomic.Int64
	var sw sync.WaitGroup
	for _, c := range s.stalled {
		sw.Go(func() {
			if closedByRouter(c, nil) {
				stalledClosed.Add(1)
			}
		})
	}
	sw.Wait()
	rep.StalledClosed = stalledClosed.Load()
	drain(ctx, s.cfg.Load.Drain, s.slowRecv.Load, func() int64 { return s.slowSent * int64(len(s.slow)) })
	rep.SlowClosed = s.slowRS.lost.Load()
	s.slowRS.stop(s.slow)
	conns := []*client.Conn{s.slowPub, s.callee}
	for _, c := range s.cancelers {
		conns = append(conns, c.conn)
	}
	s.rs.stop(conns)
	s.late.Wait() // its reader, which starts them, has returned
	s.rs.note(&rep.sideNotes)
	rep.SlowPublished, rep.SlowReceived = s.slowSent, s.slowRecv.Load()
	for _, c := range s.cancelers {
		c.mu.Lock()
		rep.CancelCalls += c.cancelCalls
		rep.TimeoutCalls += c.timeoutCalls
		rep.Canceled += c.canceled
		rep.TimedOut += c.timedOut
		rep.Answered += c.other
		rep.Unanswered += int64(len(c.pending))
		c.mu.Unlock()
	}
	rep.Misbehaved, rep.MisbehaverClosed = s.misbehaved.Load(), s.misClosed.Load()
	if n := rep.sideNotes.Errors; n > 0 {
		rep.fail("side load: %v", rep.sideNotes.Notes)
	}

	if rep.StalledClosed != int64(len(s.stalled)) {
		rep.fail("%d of %d stalled subscribers closed by the router", rep.StalledClosed, len(s.stalled))
	}
	if rep.Misbehaved == 0 || rep.MisbehaverClosed != rep.Misbehaved {
		rep.fail("%d of %d misbehaving sessions closed by the router (join error: %v)", rep.MisbehaverClosed, rep.Misbehaved, s.misErr)
	}
	if rep.CancelCalls == 0 || rep.TimeoutCalls == 0 {
		rep.fail("%d calls canceled, %d with a timeout: want some of each", rep.CancelCalls, rep.TimeoutCalls)
	}
	if rep.Unanswered != 0 {
		rep.fail("%d canceled or expiring calls never answered", rep.Unanswered)
	}
	if rep.Answered != 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d canceled or expiring calls answered otherwise than canceled or timeout", rep.Answered))
	}
	if lost := rep.SlowPublished*int64(len(s.slow)) - rep.SlowReceived; lost != 0 || rep.SlowClosed != 0 {
		// The router drops events for a subscriber that falls too far
		// behind and closes it if it stays there: its policy, not a loss.
		rep.Notes = append(rep.Notes, fmt.Sprintf("slow subscribers: %d events dropped, %d closed", lost, rep.SlowClosed))
	}
}

// canceler keeps two calls in flight on the late procedure: one it cancels
// at once, one with a timeout; each must end in an ERROR.
type canceler struct {
	conn *client.Conn

	mu                        sync.Mutex
	pending                   map[wamp.ID]bool // true: canceled
	cancelCalls, timeoutCalls int64
	canceled, timedOut, other int64
	done                      chan struct{}
}

func (c *canceler) run(ctx context.Context, cfg *SoakConfig, deadline time.Time) {
	timeoutMS := cfg.CallTimeout.Milliseconds()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		done := make(chan struct{})
		cancelReq, timeoutReq := c.conn.NextID(), c.conn.NextID()
		c.mu.Lock()
		c.done = done
		c.pending[cancelReq], c.pending[timeoutReq] = true, false
		c.cancelCalls++
		c.timeoutCalls++
		c.mu.Unlock()
		_ = c.conn.Append(&wamp.Message{Type: wamp.CALL, Request: cancelReq, URI: soakSlowProc, Details: wamp.Dict{}})
		_ = c.conn.Append(&wamp.Message{Type: wamp.CALL, Request: timeoutReq, URI: soakSlowProc, Details: wamp.Dict{"timeout": timeoutMS}})
		_ = c.conn.Append(&wamp.Message{Type: wamp.CANCEL, Request: cancelReq, Details: wamp.Dict{"mode": "killnowait"}})
		if c.conn.Flush() != nil {
			return
		}
		// Both answered, or the call timeout's worth of the late answer
		// and some: the check counts what never came.
		t := time.NewTimer(10 * cfg.CancelDelay)
		select {
		case <-done:
		case <-t.C:
			t.Stop()
			return
		case <-ctx.Done():
		}
		t.Stop()
	}
}

func (c *canceler) record(m *wamp.Message) {
	if m.Type != wamp.RESULT && m.Type != wamp.ERROR {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	canceled, ok := c.pending[m.Request]
	if !ok {
		return
	}
	delete(c.pending, m.Request)
	switch {
	case m.Type == wamp.ERROR && canceled && m.URI == wamp.ErrCanceled:
		c.canceled++
	case m.Type == wamp.ERROR && !canceled && m.URI == wamp.ErrTimeout:
		c.timedOut++
	default:
		c.other++
	}
	if len(c.pending) == 0 && c.done != nil {
		close(c.done)
		c.done = nil
	}
}

// close closes what open opened, when the soak cannot start.
func (s *soakSide) close() {
	conns := append(append([]*client.Conn{s.slowPub, s.callee}, s.stalled...), s.slow...)
	for _, c := range s.cancelers {
		conns = append(conns, c.conn)
	}
	closeAll(conns)
}
