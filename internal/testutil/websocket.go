package testutil

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// upgradeTimeout bounds the dial and the exchange of WebSocketUpgrade; it
// only ends a test that would hang.
const upgradeTimeout = 10 * time.Second

// WebSocketUpgrade sends a WebSocket upgrade for wamp.2.json to wsURL
// (ws://host:port/path) with origin ("" for none), written by hand so
// that the test controls every header, and returns the HTTP status. A
// connection that was upgraded stays open until the test ends, so that
// it counts against a per-address limit meanwhile.
func WebSocketUpgrade(t testing.TB, wsURL, origin string) int {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, upgradeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(upgradeTimeout))
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
