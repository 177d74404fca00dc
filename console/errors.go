package console

import "errors"

// ErrNotFound is what a Backend's Kill returns for a realm or session that
// is not on this node; the console answers 404.
var ErrNotFound = errors.New("console: not found")
