package realm_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: a realm
// starts goroutines for testaments, meta events and internal calls, and
// every one must end when its session leaves or the realm closes.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
