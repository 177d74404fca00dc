//go:build !unix

package nexus_test

// setRecvBuf leaves the buffer alone where there is no SO_RCVBUF to set;
// the slow consumer test then only needs more events to fill the path.
func setRecvBuf(uintptr, int) error { return nil }
