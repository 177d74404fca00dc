package interop_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// proc is a process a test started (a router, nginx), reaped on its own
// goroutine so that the test can select on its end: exited is closed once
// it has ended, and err is then cmd.Wait's.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// start starts cmd as p, which may have run (and ended) before: a node
// restarted keeps its place in the test's slices.
func (p *proc) start(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	exited := make(chan struct{})
	p.cmd, p.exited, p.err = cmd, exited, nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := cmd.Wait()
		p.err = err
		close(exited)
	}()
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends sig and waits shutdownTimeout for the process to end, then
// kills it. It reports whether the process ended on sig; either way it
// has ended (and err is set) on return.
func (p *proc) stop(sig os.Signal) bool {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return true
	case <-time.After(shutdownTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return false
	}
}

// errExited is waitListening's answer when the process exited first.
var errExited = errors.New("exited")

// waitListening polls until addr accepts a TCP connection, and returns
// nil, errExited once exited is closed (the process died during its
// start), or the last dial error after bound.
func waitListening(addr string, exited <-chan struct{}, bound time.Duration) error {
	var err error
	testutil.Poll(bound, func() bool {
		select {
		case <-exited:
			err = errExited
			return true
		default:
		}
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return true
		}
		return false
	})
	return err
}
