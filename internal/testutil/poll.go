package testutil

import (
	"fmt"
	"testing"
	"time"
)

// maxPollInterval caps the backoff between two looks at a condition: short
// enough that a test waits little past the moment it holds, long enough
// that a condition which scrapes /metrics or makes a WAMP call does not
// load the router it watches.
const maxPollInterval = 20 * time.Millisecond

// Poll evaluates cond until it holds or timeout has passed, and reports
// whether it held. It is the building block of Eventually and CheckFor
// for callers that report failure their own way (or measure how long a
// condition took). cond is always evaluated at least once, and once more
// after the deadline, so a slow machine cannot fail a condition that held.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(wait)
		wait = min(2*wait, maxPollInterval)
	}
	return true
}

// Eventually polls cond until it holds and fails t after timeout with the
// message format and args describe. The timeout only ends a test that
// would hang: it is never a measurement.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("not within %v: %s", timeout, fmt.Sprintf(format, args...))
	}
}

// CheckFor polls fn until it returns nil and fails t after timeout with
// fn's last error, which should say what it saw (nats-server's checkFor).
func CheckFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	var err error
	if !Poll(timeout, func() bool { err = fn(); return err == nil }) {
		t.Fatalf("not within %v: %v", timeout, err)
	}
}
