package bench

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tg, ok := parseTarget("throughput>=10")
	if !ok || !tg.ge || tg.ratio != 10 || !tg.m.higher {
		t.Errorf("throughput>=10 parsed as %+v, %v", tg, ok)
	}
	tg, ok = parseTarget("p50<=1")
	if !ok || tg.ge || tg.ratio != 1 {
		t.Errorf("p50<=1 parsed as %+v, %v", tg, ok)
	}
	for _, bad := range []string{"", "throughput", "nosuch>=1", "p50<=x"} {
		if _, ok := parseTarget(bad); ok {
			t.Errorf("parseTarget(%q) accepted", bad)
		}
	}
}

// TestSummarize checks medians, ratios and verdicts on made-up runs.
func TestSummarize(t *testing.T) {
	rep := func(label, router, target string, tput, p50 float64, lost int64) *Report {
		return &Report{Label: label, Router: router, Target: target, Unit: "events/s", Throughput: tput, P50: p50, Lost: lost}
	}
	reports := []*Report{
		rep("fan", RouterSwitchboard, "throughput>=3", 300, 10, 0),
		rep("fan", RouterNexus, "throughput>=3", 100, 50, 0),
		rep("fan", RouterStub, "throughput>=3", 600, 5, 0),
		rep("fan", RouterSwitchboard, "throughput>=3", 500, 10, 0),
		rep("fan", RouterNexus, "throughput>=3", 100, 50, 0),
		rep("fan", RouterSwitchboard, "throughput>=3", 400, 10, 0),
		rep("fan", RouterNexus, "throughput>=3", 100, 50, 0),
		rep("rtt", RouterSwitchboard, "p50<=1", 10, 200, 0),
		rep("rtt", RouterNexus, "p50<=1", 10, 100, 0),
		rep("lossy", RouterSwitchboard, "throughput>=1", 1000, 1, 7),
		rep("lossy", RouterNexus, "throughput>=1", 10, 1, 0),
	}
	var b strings.Builder
	Summarize(&b, reports, false)
	out := b.String()
	lines := strings.Split(out, "\n")
	find := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no line starting %q in:\n%s", prefix, out)
		return ""
	}
	// Medians 400 and 100: ratio 4 against >=3; stub median 600.
	if l := find("fan "); !strings.Contains(l, "4.00") || !strings.Contains(l, " met") || !strings.Contains(l, "67%") {
		t.Errorf("fan line %q: want ratio 4.00, met, 67%% of stub", l)
	}
	if l := find("rtt "); !strings.Contains(l, "2.00") || !strings.Contains(l, "NOT met") {
		t.Errorf("rtt line %q: want p50 ratio 2.00 and NOT met", l)
	}
	if l := find("lossy "); !strings.Contains(l, "NOT met (7 lost)") {
		t.Errorf("lossy line %q: want NOT met for lost events", l)
	}

	b.Reset()
	Summarize(&b, reports, true)
	if !strings.Contains(b.String(), "| scenario | metric |") || !strings.Contains(b.String(), "| --- |") {
		t.Errorf("Markdown summary lacks a table header:\n%s", b.String())
	}
}
