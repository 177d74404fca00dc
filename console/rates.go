package console

import (
	"sync"
	"time"
)

// Rate history defaults.
const (
	// DefaultInterval is the shortest time between two rate samples: the
	// page polls once a second, and several open pages must not make the
	// samples finer (and noisier) than that.
	DefaultInterval = time.Second
	// DefaultHistory is how many samples the charts keep: five minutes at
	// one a second, 300 points, which a 600-pixel chart still draws one
	// per two pixels.
	DefaultHistory = 300
)

// rates keeps the per-second rates of the Counters over the last samples.
// It is sampled when a page asks for data, never in the background: the
// first sample after a quiet spell covers the whole spell, and its rate is
// the average over it.
type rates struct {
	interval time.Duration
	max      int

	mu     sync.Mutex
	prev   [8]uint64
	prevAt time.Time
	points []point // oldest first, at most max
}

type point struct {
	at    time.Time
	rates [8]float64
}

// Rates are the charts' data: Times (Unix milliseconds) and, for each
// series, the rate per second at each time.
type Rates struct {
	IntervalSeconds float64              `json:"interval_seconds"`
	Times           []int64              `json:"times"`
	Series          map[string][]float64 `json:"series"`
}

// sample records the reading c taken at now if the last one recorded is
// at least interval old, and returns the history.
func (r *rates) sample(now time.Time, c Counters) Rates {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prevAt.IsZero() || now.Sub(r.prevAt) >= r.interval {
		cur := c.values()
		if !r.prevAt.IsZero() {
			dt := now.Sub(r.prevAt).Seconds()
			var p point
			p.at = now
			for i := range cur {
				// A counter never goes back; if one did (a realm's
				// counters replaced), a zero is truer than a negative
				// rate.
				if cur[i] >= r.prev[i] {
					p.rates[i] = float64(cur[i]-r.prev[i]) / dt
				}
			}
			if len(r.points) == r.max {
				copy(r.points, r.points[1:])
				r.points = r.points[:r.max-1]
			}
			r.points = append(r.points, p)
		}
		r.prev, r.prevAt = cur, now
	}
	out := Rates{
		IntervalSeconds: r.interval.Seconds(),
		Times:           make([]int64, len(r.points)),
		Series:          make(map[string][]float64, len(series)),
	}
	for i, name := range series {
		vs := make([]float64, len(r.points))
		for j := range r.points {
			vs[j] = r.points[j].rates[i]
		}
		out.Series[name] = vs
	}
	for j := range r.points {
		out.Times[j] = r.points[j].at.UnixMilli()
	}
	return out
}
