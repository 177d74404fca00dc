package router_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// router stops in t.Cleanup and every client is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
