package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at release with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/switchboard
//
// A binary built without it still reports what the Go toolchain recorded:
// the module version under "go install …@v1.2.3", and the VCS commit.
var version = "dev"

func versionCmd(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("version")
	if code, ok := parse(flags, args, 0, stdout, stderr); !ok {
		return code
	}
	fmt.Fprint(stdout, versionText())
	return 0
}

func versionText() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	s := fmt.Sprintf("switchboard %s\n%s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !ok {
		return s
	}
	var rev, at, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			at = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev != "" {
		s += fmt.Sprintf("commit %s %s%s\n", rev, at, modified)
	}
	return s
}
