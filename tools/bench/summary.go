package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Router names as compare.sh tags its runs. The first is compared with the
// second; the stub is the load generator's ceiling.
const (
	RouterSwitchboard = "switchboard"
	RouterNexus       = "nexus"
	RouterStub        = "stub"
)

// metric extracts one figure of a report; higher reports whether more is
// better.
type metric struct {
	name   string
	get    func(*Report) float64
	format func(float64) string
	higher bool
}

var metrics = map[string]metric{
	"throughput": {"throughput", func(r *Report) float64 { return r.Throughput }, fmtRate, true},
	"p50":        {"p50 µs", func(r *Report) float64 { return r.P50 }, fmtFloat, false},
	"p99":        {"p99 µs", func(r *Report) float64 { return r.P99 }, fmtFloat, false},
	"p999":       {"p999 µs", func(r *Report) float64 { return r.P999 }, fmtFloat, false},
	"mem":        {"KiB/session", func(r *Report) float64 { return r.MemPerSession / 1024 }, fmtFloat, false},
	"cpu":        {"router CPU %", func(r *Report) float64 { return r.RouterCPU }, fmtFloat, false},
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// target is a parsed Report.Target: "throughput>=10" means Switchboard's
// median throughput must be at least 10 times nexus's.
type target struct {
	m     metric
	ge    bool
	ratio float64
	text  string
}

func parseTarget(s string) (target, bool) {
	for _, op := range []string{">=", "<="} {
		name, v, ok := strings.Cut(s, op)
		if !ok {
			continue
		}
		m, known := metrics[name]
		f, err := strconv.ParseFloat(v, 64)
		if !known || err != nil {
			return target{}, false
		}
		return target{m: m, ge: op == ">=", ratio: f, text: op + v}, true
	}
	return target{}, false
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell is the runs of one scenario on one router.
type cell []*Report

func (c cell) median(get func(*Report) float64) float64 {
	v := make([]float64, len(c))
	for i, r := range c {
		v[i] = get(r)
	}
	return median(v)
}

func (c cell) max(get func(*Report) float64) float64 {
	var m float64
	for _, r := range c {
		m = max(m, get(r))
	}
	return m
}

func (c cell) sum(get func(*Report) int64) int64 {
	var n int64
	for _, r := range c {
		n += get(r)
	}
	return n
}

// Summarize prints, for reports tagged by compare.sh with Label and Router,
// the median of each metric over the runs, the ratio Switchboard/nexus
// against each scenario's target, and Switchboard's fraction of the stub.
// With md the tables are Markdown.
func Summarize(w io.Writer, reports []*Report, md bool) {
	var labels, routers []string
	cells := make(map[[2]string]cell)
	for _, r := range reports {
		if !slices.Contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
		if !slices.Contains(routers, r.Router) {
			routers = append(routers, r.Router)
		}
		k := [2]string{r.Label, r.Router}
		cells[k] = append(cells[k], r)
	}
	rank := func(s string) int {
		switch s {
		case RouterSwitchboard:
			return 0
		case RouterNexus:
			return 1
		case RouterStub:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(routers, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })

	head := [][]string{{"scenario", "metric", RouterSwitchboard, RouterNexus, "ratio", "target", "met", "stub", "of stub"}}
	for _, l := range labels {
		sb, nx, st := cells[[2]string{l, RouterSwitchboard}], cells[[2]string{l, RouterNexus}], cells[[2]string{l, RouterStub}]
		first := firstOf(sb, nx, st)
		t, hasTarget := parseTarget(first.Target)
		m := metrics["throughput"]
		if hasTarget {
			m = t.m
		}
		name := m.name
		if m.name == "throughput" {
			name = first.Unit
		}
		row := []string{l, name, "-", "-", "-", "-", "-", "-", "-"}
		var vs, vn, vst float64
		if len(sb) > 0 {
			vs = sb.median(m.get)
			row[2] = m.format(vs)
		}
		if len(nx) > 0 {
			vn = nx.median(m.get)
			row[3] = m.format(vn)
		}
		if len(st) > 0 {
			vst = st.median(m.get)
			row[7] = m.format(vst)
		}
		if vs > 0 && vn > 0 {
			ratio := vs / vn
			row[4] = fmt.Sprintf("%.2f", ratio)
			if hasTarget {
				row[5] = t.text
				met := ratio >= t.ratio
				if !t.ge {
					met = ratio <= t.ratio
				}
				row[6] = map[bool]string{true: "met", false: "NOT met"}[met]
				if lost := sb.sum(func(r *Report) int64 { return r.Lost }); lost > 0 && m.higher {
					row[6] = fmt.Sprintf("NOT met (%d lost)", lost)
				}
			}
		}
		if vs > 0 && vst > 0 {
			row[8] = fmt.Sprintf("%.0f%%", 100*vs/vst)
		}
		head = append(head, row)
	}
	table(w, head, md)
	fmt.Fprintln(w)

	detail := [][]string{{"scenario", "router", "runs", "throughput", "p50 µs", "p99 µs", "p999 µs", "lost", "errors",
		"router CPU %", "router µs/msg", "syscalls/msg", "gen CPU %", "others CPU % (max)", "router peak RSS MiB", "KiB/session"}}
	for _, l := range labels {
		for _, rt := range routers {
			c := cells[[2]string{l, rt}]
			if len(c) == 0 {
				continue
			}
			stalled := ""
			for _, r := range c {
				if r.Stalled {
					stalled = " (stalled)"
				}
			}
			row := []string{l, rt, strconv.Itoa(len(c)),
				fmtRate(c.median(func(r *Report) float64 { return r.Throughput })) + " " + c[0].Unit,
				fmtFloat(c.median(func(r *Report) float64 { return r.P50 })),
				fmtFloat(c.median(func(r *Report) float64 { return r.P99 })),
				fmtFloat(c.median(func(r *Report) float64 { return r.P999 })),
				strconv.FormatInt(c.sum(func(r *Report) int64 { return r.Lost }), 10) + stalled,
				strconv.FormatInt(c.sum(func(r *Report) int64 { return r.Errors }), 10),
				fmtFloat(c.median(func(r *Report) float64 { return r.RouterCPU })),
				fmtFloat(c.median(func(r *Report) float64 { return r.RouterCPUPerMsg })),
				fmtFloat(c.median(func(r *Report) float64 { return r.RouterSyscallsPerMsg })),
				fmtFloat(c.median(func(r *Report) float64 { return r.GenCPU })),
				fmtFloat(c.max(func(r *Report) float64 { return r.OtherCPU })),
				fmtFloat(c.median(func(r *Report) float64 { return float64(r.RouterHWMKiB) / 1024 })),
				"-",
			}
			if kib := c.median(func(r *Report) float64 { return r.MemPerSession / 1024 }); kib != 0 {
				row[15] = fmtFloat(kib)
			}
			detail = append(detail, row)
		}
	}
	table(w, detail, md)
}

func firstOf(cells ...cell) *Report {
	for _, c := range cells {
		if len(c) > 0 {
			return c[0]
		}
	}
	return &Report{}
}

// table prints rows, the first a header, aligned or as Markdown.
func table(w io.Writer, rows [][]string, md bool) {
	if md {
		for i, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
			if i == 0 {
				seps := make([]string, len(r))
				for j := range seps {
					seps[j] = "---"
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
			}
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}
