package bridge

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// TestRefusedForGood: an HTTP subscriber gives up only on refusals no
// retry can change; a transient WAMP error (an ended session's ABORT, a
// failed authorizer, a realm not there yet) is retried.
func TestRefusedForGood(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{wamp.NewError(wamp.ErrNotAuthorized, "no"), true},
		{wamp.NewError(wamp.ErrInvalidURI, "bad"), true},
		{fmt.Errorf("%w: %w", ErrClosed, wamp.NewError(wamp.ErrSystemShutdown, "")), false},
		{wamp.NewError(wamp.ErrAuthorizationFailed, "authorizer down"), false},
		{wamp.NewError(wamp.ErrNoSuchRealm, ""), false},
		{fmt.Errorf("%w: %w", ErrNotJoined, context.DeadlineExceeded), false},
		{nil, false},
	} {
		if got := refusedForGood(tc.err); got != tc.want {
			t.Errorf("refusedForGood(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
