package bench

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits linear buckets, so a recorded value is known to within 1/128
// (0.8%), as an HdrHistogram with two significant digits. Finer buckets
// would only cost cache misses on every recorded event.
const subBits = 7

const (
	subCount = 1 << subBits
	// nBuckets covers every uint64: values below 2*subCount are exact, and
	// each further power of two adds subCount buckets.
	nBuckets = (64-subBits)*subCount + subCount
)

// Histogram is a log-linear histogram of durations in nanoseconds, in the
// manner of HdrHistogram: constant relative error, constant-time Record and
// a fixed size (58 KiB), so each receiving goroutine keeps its own and the
// hot path takes no lock. The zero value is not ready; use NewHistogram.
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64
	min, max uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, nBuckets), min: math.MaxUint64}
}

func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subCount, 2*subCount)
	return e*subCount + int(v>>e)
}

// bucketMid returns the middle of bucket i's range, the value reported for
// every sample in it.
func bucketMid(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	e := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return m<<e + (1<<e)/2
}

// Record adds one sample of d nanoseconds; negative samples (a clock that
// cannot go back, so only a bug) count as zero.
func (h *Histogram) Record(d int64) {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the value at quantile q in [0, 1]: the smallest bucket
// value with at least q of the samples at or below it. The extremes are
// exact (Min, Max); values in between are bucket midpoints, clamped to the
// exact extremes so that p999 never exceeds the maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketMid(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Mean returns the exact mean.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Max returns the largest sample.
func (h *Histogram) Max() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.max)
}
