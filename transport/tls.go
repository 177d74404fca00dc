package transport

import "crypto/tls"

// TLSConnectionState returns the TLS state of a connection accepted on a
// TLS listener (its client certificate, channel binding values), and false
// for a plain one. The handshake is complete before a Conn is handed out.
func (c *conn) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}
