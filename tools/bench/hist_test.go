package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantiles compares the histogram's quantiles with the exact
// ones of the same samples: they must agree within the bucket precision.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var samples []int64
	for range 100000 {
		// Log-uniform from 1 ns to 10 s, as latencies spread.
		v := int64(math.Exp(rng.Float64() * math.Log(1e10)))
		samples = append(samples, v)
		h.Record(v)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999} {
		exact := float64(samples[int(math.Ceil(q*float64(len(samples))))-1])
		got := float64(h.Quantile(q))
		if rel := math.Abs(got-exact) / exact; rel > 1.0/subCount && math.Abs(got-exact) > 1 {
			t.Errorf("q%v = %v, exact %v: relative error %.4f > 1/%d", q, got, exact, rel, subCount)
		}
	}
	if h.Quantile(1) != time.Duration(samples[len(samples)-1]) || h.Max() != time.Duration(samples[len(samples)-1]) {
		t.Errorf("q1 %v, max %v, want the exact maximum %v", h.Quantile(1), h.Max(), samples[len(samples)-1])
	}
	if h.Count() != uint64(len(samples)) {
		t.Errorf("count %d, want %d", h.Count(), len(samples))
	}
}

func TestHistogramExactSmallValues(t *testing.T) {
	h := NewHistogram()
	for v := int64(0); v < 2*subCount; v++ {
		h.Record(v)
	}
	if got := h.Quantile(0.5); got != time.Duration(subCount-1) {
		t.Errorf("median of 0..%d = %v, want %d", 2*subCount-1, got, subCount-1)
	}
}

// TestHistogramBuckets checks the bucket arithmetic at every power of two:
// a value lies in its bucket's range and buckets are contiguous.
func TestHistogramBuckets(t *testing.T) {
	var values []uint64
	for e := range 64 {
		values = append(values, 1<<e-1, 1<<e, 1<<e+1)
	}
	slices.Sort(values)
	prev := -1
	for _, v := range slices.Compact(values) {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", v, i, prev)
		}
		prev = i
		if i >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d, past the %d buckets", v, i, nBuckets)
		}
		if mid := bucketMid(i); math.Abs(float64(mid)-float64(v)) > float64(v)/subCount+1 {
			t.Errorf("value %d in bucket %d with middle %d: off by more than 1/%d", v, i, mid, subCount)
		}
	}
	if i := bucketOf(math.MaxUint64); i != nBuckets-1 {
		t.Errorf("bucketOf(MaxUint64) = %d, want the last bucket %d", i, nBuckets-1)
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for v := int64(1); v <= 1000; v++ {
		if v%2 == 0 {
			a.Record(v * 1000)
		} else {
			b.Record(v * 1000)
		}
		all.Record(v * 1000)
	}
	a.Merge(b)
	a.Merge(NewHistogram())
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged q%v = %v, want %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Mean() != all.Mean() || a.Max() != all.Max() || a.Count() != all.Count() {
		t.Errorf("merged mean %v max %v count %d, want %v %v %d", a.Mean(), a.Max(), a.Count(), all.Mean(), all.Max(), all.Count())
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Errorf("empty histogram: q50 %v mean %v max %v, want 0", h.Quantile(0.5), h.Mean(), h.Max())
	}
	h.Record(-5)
	if h.Max() != 0 || h.Count() != 1 {
		t.Errorf("negative sample: max %v count %d, want it counted as 0", h.Max(), h.Count())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	b.ReportAllocs()
	for i := range b.N {
		h.Record(int64(i) * 997)
	}
}
