package conventions

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// moduleFiles returns the module's non-test Go files, below the module
// root (two levels up from here).
func moduleFiles(t *testing.T) map[string]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found %d Go files below %s; the walk is broken", len(files), root)
	}
	return files
}

// TestOneLogKeyForErrors: an error is logged under the key "error", so
// that one query finds every logged error.
func TestOneLogKeyForErrors(t *testing.T) {
	re := regexp.MustCompile(`\.(Debug|Info|Warn|Error|Log)(Context)?\(.*"err",`)
	for name, src := range moduleFiles(t) {
		for i, line := range strings.Split(src, "\n") {
			if re.MatchString(line) {
				t.Errorf(`%s:%d: log key "err"; use "error": %s`, name, i+1, strings.TrimSpace(line))
			}
		}
	}
}
