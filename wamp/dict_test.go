package wamp

import (
	"errors"
	"testing"
)

// TestOptAbsent: an option that is missing or nil (null or undefined on the
// wire) takes its default; one of the wrong type is invalid_argument.
func TestOptAbsent(t *testing.T) {
	d := Dict{"nil": nil, "yes": true, "s": "prefix", "n": int64(1)}
	for _, key := range []string{"missing", "nil"} {
		if b, err := OptBool(d, key, true); !b || err != nil {
			t.Errorf("OptBool(%q, true) = %v, %v; want the default", key, b, err)
		}
		if s, err := OptString(d, key); s != "" || err != nil {
			t.Errorf("OptString(%q) = %q, %v; want \"\"", key, s, err)
		}
	}
	if b, err := OptBool(d, "yes", false); !b || err != nil {
		t.Errorf("OptBool(yes) = %v, %v", b, err)
	}
	if s, err := OptString(d, "s"); s != "prefix" || err != nil {
		t.Errorf("OptString(s) = %q, %v", s, err)
	}
	invalid := NewError(ErrInvalidArgument, "")
	if _, err := OptBool(d, "n", false); !errors.Is(err, invalid) {
		t.Errorf("OptBool(n) error = %v, want invalid_argument", err)
	}
	if _, err := OptString(d, "n"); !errors.Is(err, invalid) {
		t.Errorf("OptString(n) error = %v, want invalid_argument", err)
	}
}
