package session

import "errors"

// Errors returned by Send and reported as close causes.
var (
	// ErrClosed: the session is closing or closed; nothing more is queued.
	ErrClosed = errors.New("session closed")
	// ErrSlowConsumer: the peer does not read fast enough and was closed.
	ErrSlowConsumer = errors.New("slow consumer")
	// ErrTooLarge: the encoded message is larger than the peer accepts.
	ErrTooLarge = errors.New("message larger than the peer accepts")
)
