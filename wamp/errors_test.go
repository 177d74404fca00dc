package wamp

import (
	"errors"
	"fmt"
	"testing"
)

func TestAsError(t *testing.T) {
	we := NewError(ErrInvalidURI, "bad uri")
	wrapped := fmt.Errorf("subscribe: %w", we)
	for _, c := range []struct {
		err  error
		uri  URI
		msg  string
		same bool
	}{
		{we, ErrInvalidURI, "bad uri", true},
		{wrapped, ErrInvalidURI, "bad uri", true},
		{errors.New("disk full"), ErrInvalidArgument, "disk full", false},
	} {
		got := AsError(c.err, ErrInvalidArgument)
		if got.URI != c.uri || got.Msg != c.msg || (got == we) != c.same {
			t.Errorf("AsError(%v) = %+v (same as the wrapped one: %v), want %s %q", c.err, got, got == we, c.uri, c.msg)
		}
	}
	if AsError(nil, ErrInvalidArgument) != nil {
		t.Error("AsError(nil) is not nil")
	}
	if !HasURI(wrapped, ErrInvalidURI) || HasURI(wrapped, ErrProtocolViolation) || HasURI(errors.New("x"), ErrInvalidURI) {
		t.Error("HasURI does not tell the wrapped URI")
	}
}

func TestErrorReply(t *testing.T) {
	m := ErrorReply(SUBSCRIBE, 7, ErrNotAuthorized, "no")
	if m.Type != ERROR || m.ErrType != SUBSCRIBE || m.Request != 7 || m.URI != ErrNotAuthorized || String(m.Details, "message") != "no" {
		t.Fatalf("ErrorReply = %+v", m)
	}
	if m := NewError(ErrCanceled, "").Reply(CALL, 3); m.Details != nil || m.ErrType != CALL || m.Request != 3 {
		t.Fatalf("Reply without a message = %+v, want no details", m)
	}
}
