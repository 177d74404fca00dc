package wamp

import (
	"math/rand/v2"
	"sync/atomic"
)

// ID is a WAMP id: an integer in [0, 2^53] so that every JSON peer can hold
// it in a double.
type ID uint64

// MaxID is the largest id the specification allows.
const MaxID = 1 << 53

// GlobalID returns a random id in [1, 2^53] for the global scope (session and
// publication ids). math/rand/v2's top-level source is seeded from the
// operating system, safe for concurrent use and does not allocate.
func GlobalID() ID { return ID(rand.Uint64N(MaxID)) + 1 }

// IDGen hands out ids of the router or session scope: 1, 2, 3, ... wrapping
// back to 1 after 2^53. The zero value is ready to use and safe for
// concurrent use.
type IDGen struct{ n atomic.Uint64 }

// Next returns the next id.
func (g *IDGen) Next() ID {
	for {
		v := g.n.Add(1)
		if v <= MaxID {
			return ID(v)
		}
		g.n.CompareAndSwap(v, 0)
	}
}
