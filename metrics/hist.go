package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// hist is a histogram of integer observations kept in atomics: Observe is
// a short scan of the bounds and two adds, no lock and no allocation.
// Bounds are in the observation's own unit (nanoseconds, messages); scale
// converts them and the sum to the exported unit (seconds) at scrape.
type hist struct {
	bounds []uint64        // upper bounds, ascending
	counts []atomic.Uint64 // one per bound, plus +Inf
	sum    atomic.Uint64
	scale  float64
}

func newHist(bounds []uint64, scale float64) *hist {
	return &hist{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1), scale: scale}
}

func (h *hist) observe(v uint64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
}

// into adds h's cumulative bucket counts to buckets (keyed by the scaled
// upper bound) and returns its count and scaled sum.
func (h *hist) into(buckets map[float64]uint64) (count uint64, sum float64) {
	for i := range h.counts {
		n := h.counts[i].Load()
		count += n
		if i < len(h.bounds) {
			buckets[float64(h.bounds[i])*h.scale] += count
		}
	}
	return count, float64(h.sum.Load()) * h.scale
}

func constHist(desc *prometheus.Desc, hs []*hist, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64)
	var count uint64
	var sum float64
	for _, h := range hs {
		c, s := h.into(buckets)
		count += c
		sum += s
	}
	return prometheus.MustNewConstHistogram(desc, count, sum, buckets, labels...)
}

// Call durations from 100µs to 30s, roughly ×2.5 per step: the range of a
// local RPC on a fast path to a slow backend's timeout.
var callBounds = []uint64{
	100e3, 250e3, 500e3, 1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6, 1e9, 2.5e9, 5e9, 10e9, 30e9,
}
