//go:build !linux

package transport

// poller: without epoll an idle connection keeps its reader goroutine.
var poller noPoller

type noPoller struct{}

func (noPoller) usable() bool    { return false }
func (noPoller) park(*conn) bool { return false }
func (noPoller) wake(*conn)      {}
func (noPoller) count() int      { return 0 }
