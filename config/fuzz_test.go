package config_test

import (
	"errors"
	"testing"

	"github.com/switchboard/switchboard/config"
)

// FuzzParse checks that no input makes Parse panic, that every error is
// placed in the file, and that what Parse accepts Validate accepts too.
// Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if ce.File != "fuzz.yaml" {
				t.Fatalf("error names file %q: %v", ce.File, err)
			}
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither config nor error")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
	})
}
