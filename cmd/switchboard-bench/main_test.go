package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/tools/bench"
)

// TestMain fails when a goroutine outlives the tests; os/signal's watcher,
// started by the first NotifyContext, lives as long as the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("os/signal.signal_recv"))
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"nosuch"}, 2},
		{[]string{"help"}, 0},
		{[]string{"fanout", "-ser", "xml"}, 2},
		{[]string{"fanout", "-nosuchflag"}, 2},
		{[]string{"fanout", "stray"}, 2},
		{[]string{"fanout", "-url", "ws://127.0.0.1:1/ws", "-pid", "-1"}, 1},
		{[]string{"longpoll", "-mode", "nosuch"}, 2},
		{[]string{"longpoll", "-url", "tcp://127.0.0.1:1", "-pid", "-1"}, 1},
		{[]string{"summarize"}, 1},
		{[]string{"soak", "-url", "tcp://127.0.0.1:1", "-pid", "-1"}, 1}, // no -metrics-url
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != c.code {
			t.Errorf("run(%q) = %d, want %d; stderr %q", c.args, code, c.code, errb.String())
		}
	}
}

// TestScenarioJSONAndSummarize runs a scenario against an in-process router
// with -json, then summarizes the line it printed.
func TestScenarioJSONAndSummarize(t *testing.T) {
	r := routertest.Run(t, nil)
	var out, errb bytes.Buffer
	code := run([]string{"rpc", "-url", r.URL("rawsocket"), "-ser", "cbor", "-d", "100ms", "-pid", "-1",
		"-json", "-label", "rpc-x", "-router", "switchboard", "-target", "throughput>=3"}, &out, &errb)
	if code != 0 {
		t.Fatalf("rpc exited %d: %s", code, errb.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output %q: %v", out.String(), err)
	}
	if rep.Label != "rpc-x" || rep.Router != "switchboard" || rep.Target != "throughput>=3" || rep.Serializer != "cbor" || rep.Throughput <= 0 {
		t.Errorf("report %+v: want the tags, cbor and a throughput", rep)
	}

	file := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"summarize", "-md", file}, &out, &errb); code != 0 {
		t.Fatalf("summarize exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "| rpc-x | calls/s |") {
		t.Errorf("summary lacks the rpc-x row:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"fanout", "-url", r.URL("websocket"), "-subscribers", "2", "-d", "100ms", "-pid", "-1"}, &out, &errb); code != 0 {
		t.Fatalf("fanout exited %d: %s", code, errb.String())
	}
	for _, want := range []string{"throughput", "events/s", "latency", "generator"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLongPoll runs both modes of longpoll against an in-process router:
// events with -json (the long-poll figures among the report's), sessions
// as a table.
func TestLongPoll(t *testing.T) {
	r := routertest.Run(t, nil)
	var out, errb bytes.Buffer
	if code := run([]string{"longpoll", "-url", r.URL("websocket"), "-d", "100ms", "-pid", "-1", "-json", "-label", "lp"}, &out, &errb); code != 0 {
		t.Fatalf("longpoll exited %d: %s", code, errb.String())
	}
	var rep bench.LongPollReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output %q: %v", out.String(), err)
	}
	if rep.Label != "lp" || rep.Scenario != "longpoll" || rep.Protocol != "wamp.2.json.batched" || rep.Throughput <= 0 || rep.ReceiveRate <= 0 || rep.Lost != 0 {
		t.Errorf("report %+v: want the label, batched json, events and receives, none lost", rep)
	}

	out.Reset()
	code := run([]string{"longpoll", "-url", r.URL("websocket"), "-mode", "sessions", "-sessions", "20", "-unbatched",
		"-settle", "10ms", "-pid", "-1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("longpoll -mode sessions exited %d: %s", code, errb.String())
	}
	for _, want := range []string{"sessions/s", "unbatched", "20 of 20 sessions received it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSoak runs a short soak against an in-process router that closes
// stalled subscribers after 300ms and takes messages of 64 KiB at most:
// once as a table, once with -json.
func TestSoak(t *testing.T) {
	rc := routertest.Config()
	for i := range rc.Transports { // Config() applied the defaults already
		rc.Transports[i].MaxMessageSize = 64 << 10
	}
	rc.Limits.Queue.DisconnectAfter = 300 * time.Millisecond
	r := routertest.Run(t, rc)
	args := []string{"soak", "-url", r.URL("websocket"), "-d", "1s", "-subscribers", "3", "-pairs", "2", "-callers", "2",
		"-parallel", "2", "-max-message", "65536", "-pid", "-1"}
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("soak exited %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{"scenario", "fanout", "churn", "goroutines", "stalled closed 2 of 2", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := run(append(args, "-json", "-stalled", "1", "-settle", "5s"), &out, &errb); code != 0 {
		t.Fatalf("soak -json exited %d: %s\n%s", code, errb.String(), out.String())
	}
	var rep bench.SoakReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output %q: %v", out.String(), err)
	}
	if len(rep.Scenarios) != 4 || rep.Stalled != 1 || rep.StalledClosed != 1 || !rep.OK() {
		t.Errorf("report %+v: want 4 scenarios, 1 stalled subscriber closed, no failure", rep)
	}
}
