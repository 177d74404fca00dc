package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Validate checks c and returns nil, an *Error, or Errors listing every
// problem found, in file order. It never logs or exits.
//
// Zero values pass where SetDefaults would replace them. Validate also
// loads each TLS key pair, the only way to know it is usable, and keeps
// it in TLS.Config where that is nil.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.log()
	v.transports()
	v.realms()
	v.limits()
	v.metrics()
	v.cluster()
	v.console()
	// Report in the order of the file, which is how the operator reads it;
	// errors without a line (a Config built in Go) keep the order found.
	slices.SortStableFunc(v.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(sortLine(a), sortLine(b)), cmp.Compare(a.Col, b.Col))
	})
	return v.errs.err()
}

func sortLine(e *Error) int {
	if e.Line == 0 {
		return math.MaxInt
	}
	return e.Line
}

type validator struct {
	c    *Config
	errs Errors
}

// at places path in the file: where its value stands, or failing that
// (a key the file left out) where its nearest enclosing value does.
func (v *validator) at(path string) position {
	for {
		if p, ok := v.c.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return v.c.pos[""]
		}
		path = path[:i]
	}
}

func (v *validator) failf(path string, sentinel error, format string, args ...any) {
	if len(v.errs) >= maxErrors {
		return
	}
	p := v.at(path)
	v.errs = append(v.errs, &Error{File: v.c.File, Line: p.line, Col: p.col, Key: path,
		Err: &detail{fmt.Sprintf(format, args...), sentinel}})
}

// first describes where an earlier, clashing value stands.
func (v *validator) first(path string) string {
	if p := v.at(path); p.line > 0 {
		return fmt.Sprintf("first at line %d", p.line)
	}
	return "first at " + path
}

func (v *validator) size(path string, n int) {
	switch {
	case n < 0:
		v.failf(path, ErrBadSize, "must not be negative")
	case n > MaxSize:
		v.failf(path, ErrBadSize, "%s is too large (at most %s)", formatSize(int64(n)), formatSize(MaxSize))
	}
}
