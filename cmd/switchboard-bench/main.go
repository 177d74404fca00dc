// Command switchboard-bench generates WAMP load against a router and
// reports throughput, latency, losses and the CPU and memory of both sides.
//
//	switchboard-bench SCENARIO [flags]     run fanout, pubsub, rpc, conns, churn, register or longpoll
//	switchboard-bench soak [flags]         mixed load, then check the router is back where it started
//	switchboard-bench publish [flags]      publish stamped events (conns -topic)
//	switchboard-bench stub [flags]         run the forwarding stub (the generator's ceiling)
//	switchboard-bench summarize [-md] FILE...  medians and ratios of -json lines
//
// tools/bench/compare.sh drives it to compare Switchboard with nexus; see
// docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/switchboard/switchboard/tools/bench"
	"github.com/switchboard/switchboard/tools/bench/stub"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `switchboard-bench generates WAMP load against a router.

Usage:

	switchboard-bench SCENARIO [flags]        run one scenario and report
	switchboard-bench publish [flags]         publish stamped events on -topic (-count N at -rate R/s)
	switchboard-bench stub [flags]            run the forwarding stub router
	switchboard-bench summarize [-md] FILE... medians and ratios of -json lines

Scenarios:

	fanout   1 publisher, -subscribers K on one topic
	pubsub   -pairs P publisher/subscriber pairs, each pair on its own topic
	rpc      -callees N (one procedure each, or one shared with -invoke roundrobin),
	         -callers C with -inflight D calls each
	conns    open -sessions N, each subscribed; router memory per session
	         (-topic T: each also on T; -hold D: then wait for -events E events on T)
	churn    -parallel L loops of connect, join, subscribe, leave
	register one session registers, then unregisters, -count N procedures;
	         REGISTER round trips
	longpoll WAMP over HTTP long-poll (-lp-url, default http://HOST:PORT/lp of -url),
	         wamp.2.SER.batched (-unbatched: wamp.2.SER, one message per receive);
	         -mode events: 1 WebSocket publisher, 1 long-poll subscriber;
	         events/s, receives/s, events per receive
	         -mode sessions: hold -sessions N, each with a receive pending;
	         router memory per session, then one event to all (within -hold, 10s)
	soak     fanout, pubsub, rpc and churn together for -d, with -slow and -stalled
	         subscribers, -cancelers (canceled and expiring calls) and a client
	         that breaks the protocol (over -max-message, malformed, wrong type);
	         then checks the router's /metrics (-metrics-url) and session count
	         are back where they started; exits 1 if a check fails

-pub-url U puts publishers and callers on another router than -url
(across two nodes of a cluster).

Publishers keep at most -window W publications in flight (loss-free
throughput); -rate R switches publishers and callers to R per second each
(latency at a given load). Run 'switchboard-bench SCENARIO -h' for flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "stub":
		return stubCmd(args, stderr)
	case "publish":
		return publishCmd(args, stdout, stderr)
	case "summarize":
		return summarizeCmd(args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd == "longpoll" || cmd == "soak" || slices.Contains(bench.Scenarios, cmd) {
		return scenarioCmd(cmd, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "switchboard-bench: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func scenarioCmd(name string, args []string, stdout, stderr io.Writer) int {
	cfg := bench.Config{Scenario: name}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "router `URL`: ws://host:port/path, tcp://host:port, unix:///path")
	fs.StringVar(&cfg.PubURL, "pub-url", "", "router `URL` of publishers and callers (default -url)")
	fs.StringVar(&cfg.Realm, "realm", "realm1", "realm to join")
	ser := fs.String("ser", "json", "serializer: json, msgpack or cbor")
	fs.DurationVar(&cfg.Duration, "d", 5*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "traffic before the window, not measured")
	fs.Int64Var(&cfg.Count, "count", 0, "end after this many publications per publisher, calls per caller or cycles per loop (0: -d only); register: procedures (0: 1000)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 100, "fanout: subscribers (K)")
	fs.IntVar(&cfg.Pairs, "pairs", 10, "pubsub: publisher/subscriber pairs (P)")
	fs.IntVar(&cfg.Callees, "callees", 1, "rpc: callees, one procedure each (N)")
	fs.IntVar(&cfg.Callers, "callers", 8, "rpc: callers (C)")
	fs.IntVar(&cfg.InFlight, "inflight", 4, "rpc: calls in flight per caller (D)")
	fs.StringVar(&cfg.Invoke, "invoke", "", "rpc: callees share one procedure with this invocation `policy` (roundrobin, random, ...) instead of one each")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "conns: sessions to open")
	fs.IntVar(&cfg.Parallel, "parallel", 16, "conns: parallel dialers; churn: loops")
	fs.StringVar(&cfg.Topic, "topic", "", "conns: a `topic` every session subscribes to besides its own")
	fs.DurationVar(&cfg.Hold, "hold", 0, "conns with -topic: after reading the memory, wait this long at most for an event on the topic to reach every session")
	fs.IntVar(&cfg.Events, "events", 1, "conns with -topic and -hold: events on the topic to wait for (each reported)")
	fs.IntVar(&cfg.Window, "window", 64, "publications in flight per publisher (W); at most the smallest router queue (nexus: 64)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "publications or calls per second per publisher or caller (0: window flow control)")
	fs.IntVar(&cfg.Payload, "payload", 0, "extra payload bytes per publication or call")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "conns: wait before reading the router's memory")
	fs.DurationVar(&cfg.Drain, "drain", 2*time.Second, "wait for messages in flight after the window")
	fs.DurationVar(&cfg.Stall, "stall", 2*time.Second, "end a run whose window stays full this long")
	fs.IntVar(&cfg.RouterPID, "pid", 0, "router process id (0: find it by the URL's port, -1: none)")
	fs.IntVar(&cfg.ReadBufferSize, "rbuf", 0, "read buffer per session in bytes (0: 32 KiB, conns 4 KiB)")
	var lp bench.LongPollConfig
	fs.StringVar(&lp.URL, "lp-url", "", "longpoll: `URL` of the long-poll endpoint (default http://HOST:PORT/lp of -url)")
	fs.BoolVar(&lp.Unbatched, "unbatched", false, "longpoll: speak wamp.2.SER, one message per receive (AutobahnJS), not wamp.2.SER.batched")
	fs.StringVar(&lp.Mode, "mode", bench.LongPollEvents, "longpoll: "+bench.LongPollEvents+" (events/s to one long-poll subscriber) or "+bench.LongPollSessions+" (-sessions N held, memory per session)")
	var soak bench.SoakConfig
	fs.StringVar(&soak.MetricsURL, "metrics-url", "", "soak: the router's Prometheus `URL` (default http://HOST:PORT/metrics of a ws:// -url)")
	fs.IntVar(&soak.Slow, "slow", 2, "soak: subscribers that read slowly")
	fs.IntVar(&soak.Stalled, "stalled", 2, "soak: subscribers that stop reading (the router must close them)")
	fs.IntVar(&soak.Cancelers, "cancelers", 2, "soak: callers of canceled and expiring calls")
	fs.IntVar(&soak.MaxMessageSize, "max-message", 16<<20, "soak: the router's max_message_size in bytes; the misbehaving client sends more")
	jsonOut := fs.Bool("json", false, "print one JSON line instead of the table")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's CPU profile to `FILE`")
	var rep bench.Report
	fs.StringVar(&rep.Label, "label", "", "label copied into the report (compare.sh)")
	fs.StringVar(&rep.Router, "router", "", "router name copied into the report (compare.sh)")
	fs.StringVar(&rep.Target, "target", "", "target copied into the report, as METRIC>=RATIO or METRIC<=RATIO (compare.sh)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchboard-bench %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	s, ok := wamp.ParseSerialization(*ser)
	if !ok {
		fmt.Fprintf(stderr, "switchboard-bench %s: unknown serializer %q\n", name, *ser)
		return 2
	}
	cfg.Serialization = s
	if name == "longpoll" && lp.Mode != bench.LongPollEvents && lp.Mode != bench.LongPollSessions {
		fmt.Fprintf(stderr, "switchboard-bench %s: unknown mode %q (want %s or %s)\n", name, lp.Mode, bench.LongPollEvents, bench.LongPollSessions)
		return 2
	}

	cfg.Ready = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if name == "soak" {
		soak.Load = cfg
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "settle" { // else the soak's own default, not conns'
				soak.Settle = cfg.Settle
			}
		})
		return soakCmd(ctx, soak, *jsonOut, stdout, stderr)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "switchboard-bench %s: %v\n", name, err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	var (
		r   *bench.Report
		out any // what -json prints
		lpr *bench.LongPollReport
		err error
	)
	if name == "longpoll" {
		if lpr, err = bench.RunLongPoll(ctx, cfg, lp); err == nil {
			r, out = &lpr.Report, lpr
		}
	} else if r, err = bench.Run(ctx, cfg); err == nil {
		out = r
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchboard-bench %s: %v\n", name, err)
		return 1
	}
	r.Label, r.Router, r.Target = rep.Label, rep.Router, rep.Target
	if *jsonOut {
		b, _ := json.Marshal(out)
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	var extra []string
	if lpr != nil && lp.Mode == bench.LongPollEvents {
		extra = append(extra, fmt.Sprintf("long-poll\t%s\t%.0f receives/s, %.1f events per receive (%d receives with messages, %d empty)",
			lpr.Protocol, lpr.ReceiveRate, lpr.EventsPerReceive, lpr.Receives, lpr.EmptyReceives))
	}
	printReport(stdout, r, extra...)
	return 0
}

// soakCmd runs a soak and prints its report; it exits 1 when a check
// failed.
func soakCmd(ctx context.Context, cfg bench.SoakConfig, jsonOut bool, stdout, stderr io.Writer) int {
	r, err := bench.RunSoak(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "switchboard-bench soak: %v\n", err)
		return 1
	}
	if jsonOut {
		b, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		for _, s := range r.Scenarios {
			if s != nil {
				printReport(stdout, s)
				fmt.Fprintln(stdout)
			}
		}
		printSoak(stdout, r)
	}
	if !r.OK() {
		fmt.Fprintf(stderr, "switchboard-bench soak: %d checks failed\n", len(r.Failures))
		return 1
	}
	return 0
}

func printSoak(w io.Writer, r *bench.SoakReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	b, a := r.Before, r.After
	fmt.Fprintf(tw, "soak	%.1f s of load, settled in %.1f s\t\n", r.Seconds, r.SettleSeconds)
	fmt.Fprintf(tw, "router	before	after\n")
	fmt.Fprintf(tw, "goroutines	%.0f	%.0f\n", b.Goroutines, a.Goroutines)
	fmt.Fprintf(tw, "open files	%.0f	%.0f\n", b.OpenFDs, a.OpenFDs)
	fmt.Fprintf(tw, "heap	%.1f MiB	%.1f MiB\n", b.HeapBytes/(1<<20), a.HeapBytes/(1<<20))
	fmt.Fprintf(tw, "sessions	%d	%d\n", b.Sessions, a.Sessions)
	fmt.Fprintf(tw, "slow consumers closed	%.0f	%.0f\n", b.SlowClosed, a.SlowClosed)
	fmt.Fprintf(tw, "protocol violations	%.0f	%.0f\n", b.ProtocolViolations, a.ProtocolViolations)
	fmt.Fprintf(tw, "calls	canceled %d of %d, timed out %d of %d	other answer %d, none %d\n",
		r.Canceled, r.CancelCalls, r.TimedOut, r.TimeoutCalls, r.Answered, r.Unanswered)
	fmt.Fprintf(tw, "subscribers	stalled closed %d of %d	slow: %d of %d events, %d closed\n",
		r.StalledClosed, r.Stalled, r.SlowReceived, r.SlowPublished*int64(r.Slow), r.SlowClosed)
	fmt.Fprintf(tw, "misbehaving	%d of %d sessions closed	\n", r.MisbehaverClosed, r.Misbehaved)
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note	%s	\n", n)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(tw, "FAILED	%s	\n", f)
	}
	if r.OK() {
		fmt.Fprintf(tw, "PASS		\n")
	}
	_ = tw.Flush()
}

// printReport prints r as a table; extra rows (tab-separated cells) go
// after its figures, before its notes.
func printReport(w io.Writer, r *bench.Report, extra ...string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	unit := strings.TrimSuffix(r.Unit, "/s")
	fmt.Fprintf(tw, "scenario\t%s %s\t%s %s\n", r.Scenario, r.Params, r.URL, r.Serializer)
	fmt.Fprintf(tw, "window\t%.2f s\t\n", r.Seconds)
	fmt.Fprintf(tw, "throughput\t%.0f %s\t(%.0f sent/s)\n", r.Throughput, r.Unit, r.SentRate)
	fmt.Fprintf(tw, "counts\tsent %d, received %d %s\tlost %d of %d, errors %d\n", r.Sent, r.Received, unit, r.Lost, r.Expected, r.Errors)
	fmt.Fprintf(tw, "latency\tp50 %s  p99 %s  p999 %s\tmax %s  mean %s\n", us(r.P50), us(r.P99), us(r.P999), us(r.Max), us(r.Mean))
	if r.RouterPID > 0 {
		fmt.Fprintf(tw, "router\tpid %d  cpu %.1f%%\t%.2f µs and %.3f syscalls per %s; rss %.1f MiB (peak %.1f)\n",
			r.RouterPID, r.RouterCPU, r.RouterCPUPerMsg, r.RouterSyscallsPerMsg, strings.TrimSuffix(unit, "s"),
			float64(r.RouterRSSKiB)/1024, float64(r.RouterHWMKiB)/1024)
	}
	if r.MemPerSession != 0 {
		fmt.Fprintf(tw, "memory\t%.1f KiB per session\t\n", r.MemPerSession/1024)
	}
	fmt.Fprintf(tw, "generator\tcpu %.1f%%\tothers on the machine %.1f%%\n", r.GenCPU, r.OtherCPU)
	for _, row := range extra {
		fmt.Fprintln(tw, row)
	}
	if r.Stalled {
		fmt.Fprintf(tw, "STALLED\t\t\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\t\n", n)
	}
	_ = tw.Flush()
}

func us(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fms", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fµs", v)
	}
	return fmt.Sprintf("%.1fµs", v)
}

func publishCmd(args []string, stdout, stderr io.Writer) int {
	var cfg bench.Config
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "router `URL`")
	fs.StringVar(&cfg.Realm, "realm", "realm1", "realm to join")
	topic := fs.String("topic", "bench.broadcast", "`topic` to publish on")
	count := fs.Int("count", 1, "events to publish, each from a session of its own")
	rate := fs.Float64("rate", 1, "events per second with -count (each starts on time unless the one before is late)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *count < 1 || *rate <= 0 {
		fmt.Fprintln(stderr, "switchboard-bench publish: -count must be at least 1 and -rate above 0")
		return 2
	}
	every := time.Duration(float64(time.Second) / *rate)
	t0 := time.Now()
	for i := range *count {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * every)))
		sent, err := bench.Broadcast(cfg, *topic)
		if err != nil {
			fmt.Fprintf(stderr, "switchboard-bench publish: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "published on %s at %s (acknowledged, left after %v)\n", *topic, sent.UTC().Format(time.RFC3339Nano), time.Since(sent).Round(time.Microsecond))
	}
	return 0
}

func stubCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("stub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsAddr := fs.String("ws", "127.0.0.1:8080", "WebSocket listen `address` (every path), empty for none")
	tcpAddr := fs.String("tcp", "", "RawSocket TCP listen `address`, empty for none")
	unixPath := fs.String("unix", "", "RawSocket Unix socket `path`, empty for none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	s := stub.New()
	errc := make(chan error, 3)
	listen := func(addr string, serve func(net.Listener) error, url string) bool {
		ln, err := transport.Listen(addr, nil)
		if err != nil {
			fmt.Fprintf(stderr, "switchboard-bench stub: %v\n", err)
			return false
		}
		fmt.Fprintf(stderr, "stub listening on %s\n", strings.Replace(url, "ADDR", ln.Addr().String(), 1))
		go func() { errc <- serve(ln) }()
		return true
	}
	ok := true
	if *wsAddr != "" {
		ok = ok && listen(*wsAddr, s.ServeWebSocket, "ws://ADDR/ws")
	}
	if *tcpAddr != "" {
		ok = ok && listen(*tcpAddr, s.ServeRawSocket, "tcp://ADDR")
	}
	if *unixPath != "" {
		ok = ok && listen("unix:"+*unixPath, s.ServeRawSocket, "unix://ADDR")
	}
	if !ok {
		s.Close()
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	code := 0
	select {
	case <-sig:
	case err := <-errc:
		if err != nil {
			fmt.Fprintf(stderr, "switchboard-bench stub: %v\n", err)
			code = 1
		}
	}
	s.Close()
	return code
}

func summarizeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	md := fs.Bool("md", false, "print Markdown tables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var reports []*bench.Report
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "switchboard-bench summarize: %v\n", err)
			return 1
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			r := new(bench.Report)
			if err := json.Unmarshal([]byte(line), r); err != nil {
				fmt.Fprintf(stderr, "switchboard-bench summarize: %s:%d: %v\n", name, i+1, err)
				return 1
			}
			reports = append(reports, r)
		}
	}
	if len(reports) == 0 {
		fmt.Fprintln(stderr, "switchboard-bench summarize: no reports")
		return 1
	}
	bench.Summarize(stdout, reports, *md)
	return 0
}
