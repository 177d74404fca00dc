package router

import (
	"io/fs"
	"strings"
	"testing"
)

// staticName never yields a name that leaves the directory or names a
// dotfile, whatever the URL path.
func FuzzStaticName(f *testing.F) {
	for _, s := range []string{"/", "/index.html", "/a/b/", "/../x", "/a/../../x", "/.git/config", "/a//b", "/%2e%2e/x", "a", "/a\\..\\b", "/a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := staticName(p)
		if !ok {
			return
		}
		if !fs.ValidPath(name) {
			t.Fatalf("staticName(%q) = %q, not a valid fs path", p, name)
		}
		for seg := range strings.SplitSeq(name, "/") {
			if name != "." && strings.HasPrefix(seg, ".") {
				t.Fatalf("staticName(%q) = %q: dot segment", p, name)
			}
		}
	})
}
