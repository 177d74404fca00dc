package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error that Load, Parse and Validate return is an
// *Error (or Errors, several of them) whose Err wraps one of these, so that
// callers and tests can ask errors.Is without matching message text.
var (
	ErrSyntax              = errors.New("YAML syntax error")
	ErrUnknownKey          = errors.New("unknown key")
	ErrType                = errors.New("wrong YAML type")
	ErrMissing             = errors.New("missing value")
	ErrNotAllowed          = errors.New("setting not allowed here")
	ErrTransportType       = errors.New("unknown transport type")
	ErrBadAddress          = errors.New("bad address")
	ErrDuplicateListen     = errors.New("duplicate listen address")
	ErrBadPath             = errors.New("bad path")
	ErrBadSerializer       = errors.New("unknown serializer")
	ErrDuplicateSerializer = errors.New("duplicate serializer")
	ErrBadSize             = errors.New("bad size")
	ErrBadDuration         = errors.New("bad duration")
	ErrBadNumber           = errors.New("bad number")
	ErrBadLogLevel         = errors.New("unknown log level")
	ErrBadLogFormat        = errors.New("unknown log format")
	ErrBadPolicy           = errors.New("unknown slow-consumer policy")
	ErrTLS                 = errors.New("bad TLS setting")
	ErrBadRealm            = errors.New("bad realm name")
	ErrBadDisclose         = errors.New("bad disclosure policy")
	ErrBadHistory          = errors.New("bad event history rule")
	ErrDuplicateRealm      = errors.New("duplicate realm")
	ErrNoTransports        = errors.New("no transports")
	ErrNoRealms            = errors.New("no realms")
	ErrAuth                = errors.New("bad authentication setting")
	ErrSecret              = errors.New("bad secret")
	ErrRole                = errors.New("bad role or permission")
	ErrOrigin              = errors.New("bad origin pattern")
)

// Error is one problem in a configuration, placed in its file.
//
// Its text reads like a compiler's, "file:line:col: key: message", so that
// editors can jump to it; the parts that are unknown are left out (a Config
// built in Go has no file and no lines).
type Error struct {
	File string // the file as given to Load or Parse; "" for a Config built in Go
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Key  string // path of the offending key, as in "transports[1].listen" (0-based indexes); "" for the document itself
	Err  error  // wraps one of the Err… sentinels
}

var _ error = (*Error)(nil)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is returned instead of a single *Error when a configuration has
// several problems, so that an operator fixes them in one pass rather than
// one per run. errors.As and errors.Is see every member.
type Errors []*Error

var _ error = Errors(nil)

// Error puts each problem on its own line.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// err returns nil, the one *Error, or es itself, so that the common case of
// one problem is a plain *Error.
func (es Errors) err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

// maxErrors bounds what one Parse reports: past a few dozen the rest are
// usually echoes of the first, and a hostile file must not make a huge list.
const maxErrors = 20

// detail is an error whose text is written for the reader while errors.Is
// still finds the sentinel, so the message need not start with the
// sentinel's own words.
type detail struct {
	msg      string
	sentinel error
}

func (d *detail) Error() string { return d.msg }
func (d *detail) Unwrap() error { return d.sentinel }
