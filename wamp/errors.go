package wamp

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
