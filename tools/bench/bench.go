package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{"fanout", "pubsub", "rpc", "conns", "churn", "register"}

// Config describes one run. Zero values take the defaults documented on
// each field.
type Config struct {
	// Scenario: fanout, pubsub, rpc, conns, churn or register.
	Scenario string
	// URL of the router: ws://host:port/path, tcp://host:port or
	// unix:///path.
	URL string
	// PubURL, when set, is the router publishers (fanout, pubsub) and
	// callers (rpc) connect to; subscribers and callees connect to URL.
	// Two nodes of a cluster given as URL and PubURL measure what one
	// forwards to the other. The router measured is still URL's. Default
	// URL.
	PubURL string
	// Realm to join. Default "realm1".
	Realm string
	// Serialization spoken by every session. Default JSON.
	Serialization wamp.Serialization

	// Duration of the measured window. Default 5s. With Count set, the
	// window may end sooner.
	Duration time.Duration
	// Warmup runs traffic before the window opens; what is sent then is
	// neither timed nor counted in the throughput. Default 0.
	Warmup time.Duration
	// Count ends the window after this many measured publications per
	// publisher, calls per caller or cycles per churn loop. 0: no limit.
	// For register it is the number of procedures, default 1000.
	Count int64

	// Subscribers of the fanout topic (K). Default 100.
	Subscribers int
	// Pairs of publisher and subscriber for pubsub (P), each pair on its
	// own topic. Default 10.
	Pairs int
	// Callees (N), each registering its own procedure, callers (C), spread
	// over the procedures round-robin, and calls in flight per caller (D)
	// for rpc. Defaults 1, 8, 4.
	Callees, Callers, InFlight int
	// Invoke, when set, makes the rpc callees share one procedure with
	// this invocation policy ("roundrobin", "random", ...) instead of
	// registering one procedure each.
	Invoke string
	// Sessions to open for conns. Default 1000.
	Sessions int
	// Parallel dialers for conns and loops for churn. Default 16.
	Parallel int
	// Topic, for conns, is a topic every session subscribes to besides
	// its own, so that one publication (Broadcast) reaches them all.
	Topic string
	// Hold, for conns with Topic, keeps the sessions open after the
	// router's memory is read until every session has received an event
	// on Topic, or for at most this long. Default 0: no wait.
	Hold time.Duration
	// Events, for conns with Topic and Hold, is how many events on Topic
	// to wait for: the hold ends once every session has received this
	// many, or after Hold. Default 1.
	Events int
	// Ready, when set, is written to (one line) once conns has read the
	// router's memory and starts to hold: the moment to publish on Topic.
	Ready io.Writer

	// Window is the most publications in flight per publisher (W): a
	// publication is in flight until every subscriber has received it, so
	// a router's queues never hold more than W events per subscriber and
	// nothing need be dropped. Keep it at most the smallest queue of the
	// routers compared. Default 64, nexus's queue per session; at W=32 a
	// fast router's fanout to one subscriber is bound by the round trip,
	// not by its CPU.
	Window int
	// Rate switches publishers (fanout, pubsub) and callers (rpc) from
	// window flow control to open loop at this many publications or calls
	// per second each, for latency at a given load; losses then show what
	// the router's slow-consumer policy did. 0: window mode.
	Rate float64
	// Payload adds a string of this many bytes to every publication and
	// call.
	Payload int

	// Settle is how long conns waits after the last session subscribed
	// before it reads the router's memory. Default 1s.
	Settle time.Duration
	// Drain bounds the wait for messages in flight after the window:
	// the run ends when everything sent has arrived or nothing has arrived
	// for this long. Default 2s.
	Drain time.Duration
	// Stall ends a window-mode run when a publisher's window stays full
	// this long: an event was lost and will never complete its
	// publication. Default 2s.
	Stall time.Duration

	// Settled, when set, is called by conns once every session is open
	// and Settle has passed, before the sessions close: the moment to
	// inspect an in-process router at its fullest (a heap profile).
	Settled func()

	// RouterPID is the router process whose CPU, memory and system calls
	// are reported. 0: found from the URL's listening socket; negative:
	// none.
	RouterPID int
	// ReadBufferSize of each session. Default 32 KiB, 4 KiB for conns.
	ReadBufferSize int
}

func (c *Config) defaults() {
	if c.Realm == "" {
		c.Realm = "realm1"
	}
	if c.Serialization == 0 {
		c.Serialization = wamp.JSON
	}
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Subscribers, 100)
	def(&c.Pairs, 10)
	def(&c.Callees, 1)
	def(&c.Callers, 8)
	def(&c.InFlight, 4)
	def(&c.Sessions, 1000)
	def(&c.Events, 1)
	def(&c.Parallel, 16)
	def(&c.Window, 64)
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur(&c.Duration, 5*time.Second)
	defDur(&c.Settle, time.Second)
	defDur(&c.Drain, 2*time.Second)
	defDur(&c.Stall, 2*time.Second)
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = 32 << 10
		if c.Scenario == "conns" {
			c.ReadBufferSize = 4 << 10
		}
	}
}

// Report is the outcome of one run. Latencies are microseconds, CPU is in
// percent of one core over the measured window.
type Report struct {
	// Label, Router and Target are copied from the caller (compare.sh tags
	// each run with them); Run leaves them empty.
	Label  string `json:"label,omitempty"`
	Router string `json:"router,omitempty"`
	Target string `json:"target,omitempty"`

	Scenario   string `json:"scenario"`
	Params     string `json:"params"`
	URL        string `json:"url"`
	Serializer string `json:"serializer"`

	Seconds float64 `json:"seconds"` // measured window
	// Sent counts what the generator started in the window: publications,
	// calls, cycles or sessions.
	Sent int64 `json:"sent"`
	// Received counts what arrived of what was sent in the window: events
	// (one per subscriber per publication), results, cycles or sessions.
	Received int64 `json:"received"`
	// Expected and Lost cover the whole run, warmup included: an event or
	// result that never arrived is lost whenever it was sent.
	Expected int64 `json:"expected"`
	Lost     int64 `json:"lost"`
	// Errors counts failed dials, error replies and sessions the router
	// closed during the run.
	Errors  int64 `json:"errors"`
	Stalled bool  `json:"stalled,omitempty"`

	// Throughput is what arrived within the window (events, results,
	// cycles, sessions) per second of it.
	Throughput float64 `json:"throughput"`
	Unit       string  `json:"unit"`
	SentRate   float64 `json:"sent_rate"` // Sent per second

	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`

	RouterPID    int     `json:"router_pid"`
	RouterCPU    float64 `json:"router_cpu"`
	RouterRSSKiB int64   `json:"router_rss_kib"` // at the end of the window
	RouterHWMKiB int64   `json:"router_hwm_kib"` // peak
	// RouterSyscallsPerMsg is the router's read and write system calls
	// (/proc/PID/io syscr + syscw) in the window per unit of work sent in
	// it: per event, call (four messages), cycle or session.
	RouterSyscallsPerMsg float64 `json:"router_syscalls_per_msg"`
	// RouterCPUPerMsg is the router's CPU microseconds per the same unit.
	RouterCPUPerMsg float64 `json:"router_cpu_us_per_msg"`
	// MemPerSession is the growth of the router's RSS per session opened
	// (conns), in bytes.
	MemPerSession float64 `json:"mem_per_session,omitempty"`
	// BroadcastReceived counts the sessions that received an event on
	// Config.Topic while held (conns); BroadcastFirstMs and
	// BroadcastLastMs are the first and last arrival after the event's
	// wall-clock stamp (Broadcast), in milliseconds.
	BroadcastReceived int64   `json:"broadcast_received,omitempty"`
	BroadcastFirstMs  float64 `json:"broadcast_first_ms,omitempty"`
	BroadcastLastMs   float64 `json:"broadcast_last_ms,omitempty"`
	// BroadcastEvents has the same figures for each of the Config.Events
	// events on Config.Topic (conns), in the order each session received
	// them; the first is the one above.
	BroadcastEvents []BroadcastEvent `json:"broadcast_events,omitempty"`
	// BroadcastSeconds is the hold, from the memory read to the last
	// session's last event (or the end of Hold); BroadcastRouterCPUPerEvent
	// and BroadcastRouterSyscallsPerEvent are the router's CPU
	// microseconds and system calls in it per event received. The hold's
	// idle time before and between the events is in them, and with a
	// cluster so is the node's share of forwarding.
	BroadcastSeconds                float64 `json:"broadcast_seconds,omitempty"`
	BroadcastRouterCPUPerEvent      float64 `json:"broadcast_router_cpu_us_per_event,omitempty"`
	BroadcastRouterSyscallsPerEvent float64 `json:"broadcast_router_syscalls_per_event,omitempty"`
	GenCPU                          float64 `json:"gen_cpu"`
	// OtherCPU is the CPU the rest of the machine used in the window
	// (/proc/stat less router and generator): other work that disturbed
	// the run. It includes the kernel's softirq work for loopback traffic
	// that no process is charged for, so a few percent are normal.
	OtherCPU float64 `json:"other_cpu"`

	Notes []string `json:"notes,omitempty"`
}

// Run runs one scenario and reports on it. It returns an error when the
// scenario cannot start (bad config, router unreachable); what goes wrong
// once traffic flows is counted in the report. Cancelling ctx ends the
// window early.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if cfg.URL == "" {
		return nil, errors.New("bench: no router URL")
	}
	if !slices.Contains(Scenarios, cfg.Scenario) {
		return nil, fmt.Errorf("bench: unknown scenario %q (want one of %v)", cfg.Scenario, Scenarios)
	}
	r := newReport(cfg, cfg.URL)
	var err error
	switch cfg.Scenario {
	case "fanout", "pubsub":
		err = runPubSub(ctx, &cfg, r)
	case "rpc":
		err = runRPC(ctx, &cfg, r)
	case "conns":
		err = runConns(ctx, &cfg, r)
	case "churn":
		err = runChurn(ctx, &cfg, r)
	case "register":
		err = runRegister(ctx, &cfg, r)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (cfg *Config) dialOpts() client.Options {
	return client.Options{Serialization: cfg.Serialization, ReadBufferSize: cfg.ReadBufferSize, Clock: now}
}

// pubURL is where publishers and callers connect.
func (cfg *Config) pubURL() string {
	if cfg.PubURL != "" {
		return cfg.PubURL
	}
	return cfg.URL
}

// join dials cfg.URL and joins the realm.
func join(cfg *Config) (*client.Conn, error) { return joinAt(cfg, cfg.URL) }

// joinAt dials url and joins the realm.
func joinAt(cfg *Config, url string) (*client.Conn, error) {
	c, err := client.Dial(url, cfg.dialOpts())
	if err != nil {
		return nil, err
	}
	if err := c.Join(cfg.Realm); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// openAll opens n sessions with cfg.Parallel dialers; setup(i, c) finishes
// session i (subscribes, registers) before its reader starts. It returns
// the sessions and how long each took to open, setup included. On the
// first error it closes what it opened.
func openAll(ctx context.Context, cfg *Config, n int, setup func(i int, c *client.Conn) error) ([]*client.Conn, *Histogram, error) {
	return openAllAt(ctx, cfg, cfg.URL, n, setup)
}

// openAllAt is openAll on the router at url.
func openAllAt(ctx context.Context, cfg *Config, url string, n int, setup func(i int, c *client.Conn) error) ([]*client.Conn, *Histogram, error) {
	conns, h, err := openParallel(ctx, n, cfg.Parallel, func(i int) (*client.Conn, error) {
		c, err := joinAt(cfg, url)
		if err == nil {
			if err = setup(i, c); err != nil {
				_ = c.Close()
			}
		}
		return c, err
	})
	if err != nil {
		closeAll(conns)
		return nil, nil, err
	}
	return conns, h, nil
}

// openParallel opens n sessions of any kind with open, parallel at a
// time, and returns them with how long each took. On the first error it
// stops opening and returns what it opened so far (nil where nothing),
// for the caller to close.
func openParallel[S any](ctx context.Context, n, parallel int, open func(i int) (S, error)) ([]S, *Histogram, error) {
	out := make([]S, n)
	workers := max(min(parallel, n), 1)
	hists := make([]*Histogram, workers)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := range workers {
		h := NewHistogram()
		hists[w] = h
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := now()
				s, err := open(i)
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("session %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				h.Record(now() - t0)
				out[i] = s
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	h := NewHistogram()
	for _, w := range hists {
		h.Merge(w)
	}
	return out, h, first
}

func closeAll(conns []*client.Conn) {
	var wg sync.WaitGroup
	// Closing sends a close frame; in parallel, so that ten thousand
	// sessions close in a moment.
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(conns); i += workers {
				if conns[i] != nil {
					_ = conns[i].Close()
				}
			}
		})
	}
	wg.Wait()
}

// readers runs the Serve loops of a run's sessions and tells an end the
// run asked for (Close) from one the router caused.
type readers struct {
	wg      sync.WaitGroup
	closing atomic.Bool
	lost    atomic.Int64 // sessions that ended before the run closed them
	mu      sync.Mutex
	why     error
}

func (rs *readers) serve(c *client.Conn, h func(*wamp.Message)) {
	rs.wg.Go(func() {
		err := c.Serve(h)
		if rs.closing.Load() {
			return
		}
		rs.lost.Add(1)
		rs.mu.Lock()
		if rs.why == nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("router closed the connection")
			}
			rs.why = err
		}
		rs.mu.Unlock()
	})
}

// stop closes conns and waits for every reader to return.
func (rs *readers) stop(conns ...[]*client.Conn) {
	rs.closing.Store(true)
	for _, list := range conns {
		closeAll(list)
	}
	rs.wg.Wait()
}

func (rs *readers) note(r *Report) {
	if n := rs.lost.Load(); n > 0 {
		r.Errors += n
		r.Notes = append(r.Notes, fmt.Sprintf("%d sessions ended during the run; first: %v", n, rs.why))
	}
}

// meter samples the router and this process at the start and end of the
// measured window.
type meter struct {
	pid    int
	t0     time.Time
	router procSample
	self   time.Duration
	busy   time.Duration

	// Set by stop: the router's CPU time and system calls in the window.
	cpu      time.Duration
	syscalls int64
	ok       bool
}

func startMeter(pid int) *meter {
	return &meter{pid: pid, t0: time.Now(), router: sampleProc(pid), self: selfCPU(), busy: machineBusy()}
}

// stop ends the window: it fills the window's length, the CPU figures and
// the router's memory into r.
func (m *meter) stop(r *Report) {
	el := time.Since(m.t0)
	r.Seconds = el.Seconds()
	if el <= 0 {
		return
	}
	gen := selfCPU() - m.self
	r.GenCPU = 100 * float64(gen) / float64(el)
	others := machineBusy() - m.busy - gen
	end := sampleProc(m.pid)
	if end.ok && m.router.ok && m.pid != os.Getpid() {
		others -= end.cpu - m.router.cpu
	}
	r.OtherCPU = max(0, 100*float64(others)/float64(el))
	if !end.ok || !m.router.ok {
		return
	}
	m.cpu = end.cpu - m.router.cpu
	m.syscalls = end.syscr + end.syscw - m.router.syscr - m.router.syscw
	m.ok = true
	r.RouterCPU = 100 * float64(m.cpu) / float64(el)
	r.RouterRSSKiB, r.RouterHWMKiB = end.rssKiB, end.hwmKiB
}

// perMsg fills the router's cost per message from the window's totals;
// msgs is what the router handled in the window.
func (m *meter) perMsg(r *Report, msgs int64) {
	if !m.ok || msgs <= 0 {
		return
	}
	r.RouterCPUPerMsg = float64(m.cpu.Nanoseconds()) / 1e3 / float64(msgs)
	r.RouterSyscallsPerMsg = float64(m.syscalls) / float64(msgs)
}

// latencies copies h's quantiles into r.
func (r *Report) latencies(h *Histogram) {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.P50, r.P99, r.P999 = us(h.Quantile(0.5)), us(h.Quantile(0.99)), us(h.Quantile(0.999))
	r.Max, r.Mean = us(h.Max()), us(h.Mean())
}

// rates fills the per-second figures: arrived is what arrived within the
// window. Counting what was sent in the window and arrived at any time
// instead would credit a router with deliveries it made long after the
// window, from queues that open-loop publishing filled.
func (r *Report) rates(arrived int64) {
	if r.Seconds > 0 {
		r.Throughput = float64(arrived) / r.Seconds
		r.SentRate = float64(r.Sent) / r.Seconds
	}
}

// sleepUntil sleeps until the epoch-relative time t, or until ctx or done
// ends it; it reports whether t was reached.
func sleepUntil(ctx context.Context, t int64, done <-chan struct{}) bool {
	d := time.Duration(t - now())
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
	case <-done:
	}
	return false
}

// drain waits until arrived() reaches want() or stops growing for d.
func drain(ctx context.Context, d time.Duration, arrived, want func() int64) {
	last, since := arrived(), time.Now()
	for arrived() < want() && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
		if n := arrived(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > d {
			return
		}
	}
}

// newReport starts the report of a run of cfg against the router at url:
// the router's process found by cfg.URL's port when cfg gives none.
func newReport(cfg Config, url string) *Report {
	r := &Report{
		Scenario:   cfg.Scenario,
		URL:        url,
		Serializer: cfg.Serialization.String(),
		RouterPID:  cfg.RouterPID,
	}
	if r.RouterPID == 0 {
		pid, err := FindPID(cfg.URL)
		if err != nil {
			r.Notes = append(r.Notes, "router CPU and memory not measured: "+err.Error())
		}
		r.RouterPID = pid
	}
	if cfg.PubURL != "" && cfg.PubURL != cfg.URL {
		r.Notes = append(r.Notes, "publishers and callers at "+cfg.PubURL)
	}
	return r
}

// settleMemory waits cfg.Settle (or until ctx ends), then sets r's memory
// per session from the router's RSS before the n sessions opened.
func settleMemory(ctx context.Context, cfg *Config, r *Report, before procSample, n int) {
	t := time.NewTimer(cfg.Settle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	after := sampleProc(r.RouterPID)
	if cfg.Settled != nil {
		cfg.Settled()
	}
	if before.ok && after.ok {
		r.MemPerSession = float64(after.rssKiB-before.rssKiB) * 1024 / float64(n)
		r.RouterRSSKiB, r.RouterHWMKiB = after.rssKiB, after.hwmKiB
	}
}
