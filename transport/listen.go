package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"
)

// Listen opens a listener on address: "host:port" for TCP or
// "unix:/path/to.sock" for a Unix socket. A socket file left behind by a
// process that died is removed first; one that a live process still
// listens on is an error. With tlsCfg the listener speaks TLS, which serves
// both an http.Server for WebSocket and ServeRawSocket.
func Listen(address string, tlsCfg *tls.Config) (net.Listener, error) {
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("transport: listen %q: empty socket path", address)
		}
		if err := removeStaleSocket(path); err != nil {
			return nil, fmt.Errorf("transport: listen %q: %w", address, err)
		}
		ln, err = net.Listen("unix", path)
	} else {
		ln, err = net.Listen("tcp", address)
	}
	if err != nil {
		return nil, fmt.Errorf("transport: listen %q: %w", address, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	// Only a socket nobody answers on is stale; removing a live one would
	// silently steal another process's address.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	return os.Remove(path)
}
