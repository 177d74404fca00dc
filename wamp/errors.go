package wamp

import "errors"

// Error is a WAMP error: a URI for the peer and a message for people. It is
// how packages report a failure that the router answers with ERROR or ABORT;
// the edge that sends it puts Msg into Details.message.
type Error struct {
	URI URI
	Msg string
}

// NewError returns an *Error for uri with a message.
func NewError(uri URI, msg string) *Error { return &Error{URI: uri, Msg: msg} }

func (e *Error) Error() string {
	if e.Msg == "" {
		return string(e.URI)
	}
	return string(e.URI) + ": " + e.Msg
}

// Is makes errors.Is match two *Error values with the same URI.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.URI == e.URI
}

// Details returns the Details dict that carries Msg to the peer, or nil.
func (e *Error) Details() Dict {
	if e.Msg == "" {
		return nil
	}
	return Dict{"message": e.Msg}
}

// AsError returns err as a WAMP error: err itself, or the *Error it wraps,
// or else a new one with the fallback URI and err's text as its message,
// for the errors of a library or of the router's own code that reach a
// peer. It returns nil for nil.
func AsError(err error, fallback URI) *Error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	return &Error{URI: fallback, Msg: err.Error()}
}

// Reply returns the ERROR message that answers request id, of type req,
// with e.
func (e *Error) Reply(req Type, id ID) *Message {
	return &Message{Type: ERROR, ErrType: req, Request: id, URI: e.URI, Details: e.Details()}
}

// ErrorReply returns the ERROR message that answers request id, of type
// req, with uri and msg.
func ErrorReply(req Type, id ID, uri URI, msg string) *Message {
	return (&Error{URI: uri, Msg: msg}).Reply(req, id)
}

// HasURI reports whether err is, or wraps, a WAMP error of uri.
func HasURI(err error, uri URI) bool {
	var we *Error
	return errors.As(err, &we) && we.URI == uri
}
