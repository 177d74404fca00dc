package bench

import (
	"context"
	"testing"
)

// RunSoak itself runs against routers in cmd/switchboard-bench's TestSoak
// (in-process, briefly) and interop's TestSoak (the binary, 60 seconds).

func TestSoakBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := RunSoak(ctx, SoakConfig{}); err == nil {
		t.Error("RunSoak without a URL: no error")
	}
	if _, err := RunSoak(ctx, SoakConfig{Load: Config{URL: "tcp://127.0.0.1:1"}}); err == nil {
		t.Error("RunSoak on tcp:// without a metrics URL: no error")
	}
}

func TestResourceFailures(t *testing.T) {
	before := RouterFigures{Goroutines: 20, OpenFDs: 15, HeapBytes: 100 << 20, Sessions: 1}
	for _, c := range []struct {
		name  string
		after RouterFigures
		fails int
	}{
		{"same", before, 0},
		{"within the floors", RouterFigures{Goroutines: 30, OpenFDs: 25, HeapBytes: 104 << 20, Sessions: 1}, 0},
		{"within 10%", RouterFigures{Goroutines: 20, OpenFDs: 15, HeapBytes: 110 << 20, Sessions: 1}, 0},
		{"everything over", RouterFigures{Goroutines: 31, OpenFDs: 26, HeapBytes: 111 << 20, Sessions: 2}, 4},
	} {
		if got := resourceFailures(before, c.after); len(got) != c.fails {
			t.Errorf("%s: %d failures %q, want %d", c.name, len(got), got, c.fails)
		}
	}
}

func TestSamplesSum(t *testing.T) {
	s := samples{
		{`go_goroutines`, 12},
		{`go_goroutines_other`, 100},
		{`switchboard_sessions_closed_total{realm="a",reason="protocol_violation"}`, 3},
		{`switchboard_sessions_closed_total{realm="b",reason="protocol_violation"}`, 4},
		{`switchboard_sessions_closed_total{realm="a",reason="goodbye"}`, 50},
	}
	if got := s.sum("go_goroutines", ""); got != 12 {
		t.Errorf("go_goroutines = %v, want 12", got)
	}
	if got := s.sum("switchboard_sessions_closed_total", `reason="protocol_violation"`); got != 7 {
		t.Errorf("protocol violations = %v, want 7", got)
	}
}
