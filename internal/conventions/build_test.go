package conventions

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildsElsewhere builds the module for systems other than the
// machine's: the router runs on Linux in production, but the files kept
// apart by build tags (transport's epoll set and its stand-in) must all
// compile, and developers on macOS build it too.
func TestBuildsElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, goos := range []string{"darwin", "freebsd"} {
		cmd := exec.Command("go", "build", "./...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s go build ./...: %v\n%s", goos, err, out)
		}
	}
}
