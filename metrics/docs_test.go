package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// exported lists the metric names m's collector describes.
func exported(t *testing.T) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 64)
	New().Collector().Describe(ch)
	close(ch)
	var names []string
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// docs/monitoring.md lists every metric the collector exports, and no
// other.
func TestDocsListEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(switchboard_[a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	if got := exported(t); !slices.Equal(got, documented) {
		t.Errorf("docs/monitoring.md lists\n%v\nthe collector exports\n%v", documented, got)
	}
}

// The Grafana dashboard is valid JSON and queries only metrics that exist.
func TestDashboardMetrics(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	known := exported(t)
	reg, err := New().Registry()
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		known = append(known, mf.GetName())
	}
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range regexp.MustCompile(`\b((?:switchboard|go|process)_[a-z_]+)\{`).FindAllStringSubmatch(tg.Expr, -1) {
				n := name[1]
				used++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
				if !slices.Contains(known, n) && !slices.Contains(known, base) {
					t.Errorf("panel %q queries %s, which no collector exports", p.Title, n)
				}
			}
		}
	}
	if used < 15 {
		t.Errorf("only %d metric references found in the dashboard", used)
	}
}
