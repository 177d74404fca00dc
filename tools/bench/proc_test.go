package bench

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestSampleProc(t *testing.T) {
	// Burn a little CPU so that utime is not zero at tick resolution.
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	s := sampleProc(os.Getpid())
	if !s.ok || s.cpu <= 0 || s.rssKiB <= 0 || s.hwmKiB < s.rssKiB {
		t.Errorf("sampleProc(self) = %+v: want ok with CPU, RSS and peak >= RSS", s)
	}
	if s.syscr <= 0 {
		t.Logf("no /proc/self/io read count: %+v", s)
	}
	if s := sampleProc(-1); s.ok {
		t.Errorf("sampleProc(-1) = %+v, want nothing", s)
	}
	if selfCPU() <= 0 {
		t.Error("selfCPU() = 0 after a busy loop")
	}
	if machineBusy() <= 0 {
		t.Error("machineBusy() = 0")
	}
}

// TestFindPID finds this process by the port it listens on, over TCP and a
// Unix socket.
func TestFindPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, err := FindPID("ws://" + ln.Addr().String() + "/ws")
	if err != nil || pid != os.Getpid() {
		t.Errorf("FindPID(tcp listener) = %d, %v; want %d", pid, err, os.Getpid())
	}

	path := filepath.Join(t.TempDir(), "s.sock")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	pid, err = FindPID("unix://" + path)
	if err != nil || pid != os.Getpid() {
		t.Errorf("FindPID(unix listener) = %d, %v; want %d", pid, err, os.Getpid())
	}

	// A port nobody listens on: take one and give it back.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	if pid, err := FindPID("tcp://" + addr); err == nil {
		t.Errorf("FindPID(closed port) = %d, want an error", pid)
	}
}
