package testutil

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseMetrics reads the Prometheus text exposition in text into a map
// from series to value, failing t if it is not valid exposition. A series
// is spelled as in the text: name{label="value",...} with the labels in
// name order (name alone when there are none); a histogram gives
// name_bucket{...,le="bound"}, name_sum and name_count, a summary
// name{...,quantile="q"}, name_sum and name_count.
func ParseMetrics(t testing.TB, text string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics exposition: %v\n%s", err, text)
	}
	m := make(map[string]float64)
	for name, mf := range families {
		for _, s := range mf.GetMetric() {
			labels := s.GetLabel()
			slices.SortFunc(labels, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			series := func(suffix, extra, v string) string {
				return seriesName(name+suffix, labels, extra, v)
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				m[series("", "", "")] = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				m[series("", "", "")] = s.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				m[series("", "", "")] = s.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := s.GetHistogram()
				for _, b := range h.GetBucket() {
					m[series("_bucket", "le", formatFloat(b.GetUpperBound()))] = float64(b.GetCumulativeCount())
				}
				m[series("_bucket", "le", "+Inf")] = float64(h.GetSampleCount())
				m[series("_sum", "", "")] = h.GetSampleSum()
				m[series("_count", "", "")] = float64(h.GetSampleCount())
			case dto.MetricType_SUMMARY:
				sm := s.GetSummary()
				for _, q := range sm.GetQuantile() {
					m[series("", "quantile", formatFloat(q.GetQuantile()))] = q.GetValue()
				}
				m[series("_sum", "", "")] = sm.GetSampleSum()
				m[series("_count", "", "")] = float64(sm.GetSampleCount())
			default:
				t.Fatalf("metrics exposition: %s has type %v", name, mf.GetType())
			}
		}
	}
	return m
}

// seriesName spells a series as the exposition does, with the extra label
// (le, quantile) last as client_golang writes it.
func seriesName(name string, labels []*dto.LabelPair, extra, v string) string {
	if len(labels) == 0 && extra == "" {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		writeLabel(&b, l.GetName(), l.GetValue())
	}
	if extra != "" {
		if len(labels) > 0 {
			b.WriteByte(',')
		}
		writeLabel(&b, extra, v)
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func writeLabel(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(`="`)
	labelEscaper.WriteString(b, value)
	b.WriteByte('"')
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Scrape GETs url, fails t unless it answers 200, and returns its
// exposition parsed by ParseMetrics.
func Scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return ParseMetrics(t, string(body))
}
