package dealer

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: call
// timeouts, internal calls and their answers must all end with the call
// or the dealer, whatever way the call ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
