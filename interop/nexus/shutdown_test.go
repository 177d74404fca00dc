package nexus_test

import (
	"context"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/router"
)

// shutdownAsync runs r.Shutdown with a bound and returns its result channel.
func shutdownAsync(r *router.Router) <-chan error {
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		errc <- r.Shutdown(ctx)
	}()
	return errc
}

// TestRouterShutdown: Router.Shutdown says GOODBYE wamp.close.system_shutdown
// to a nexus client over every transport and serializer. Nexus takes the
// GOODBYE as the end of its session (Done closes, RouterGoodbye holds it)
// without echoing it; once it closes its connection, Shutdown returns
// within its context, and the router accepts no new session.
func TestRouterShutdown(t *testing.T) {
	for _, kind := range transportKinds {
		for _, ser := range serializers {
			t.Run(kind+"/"+ser.name, func(t *testing.T) {
				t.Parallel()
				r := startRouter(t, nil)
				url := urlOf(t, r, kind)
				c := connect(t, url, ser)
				errc := shutdownAsync(r)
				receive(t, c.Done(), "end of the nexus session")
				g := c.RouterGoodbye()
				if g == nil {
					t.Fatalf("nexus got no GOODBYE from the router")
				}
				if g.Reason != "wamp.close.system_shutdown" {
					t.Fatalf("GOODBYE reason %q, want wamp.close.system_shutdown", g.Reason)
				}
				_ = c.Close()
				if err := receive(t, errc, "Shutdown to return"); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				if c2, err := dial(url, ser, "realm1"); err == nil {
					_ = c2.Close()
					t.Fatalf("joined after Shutdown")
				}
			})
		}
	}
}

// TestRouterShutdownRaw follows the closing handshake frame by frame: a peer
// that echoes GOODBYE is disconnected by the router at once, and one that
// never answers is disconnected after the router's GOODBYE timeout, so that
// Shutdown returns in both cases.
func TestRouterShutdownRaw(t *testing.T) {
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := startRouter(t, nil)
			url := urlOf(t, r, kind)
			polite := dialRaw(t, url, serJSON)
			polite.join()
			silent := dialRaw(t, url, serMsgpack)
			silent.join()
			errc := shutdownAsync(r)
			for _, c := range []*rawClient{polite, silent} {
				m := c.recv()
				if g, ok := m.(*wamp.Goodbye); !ok || g.Reason != "wamp.close.system_shutdown" {
					t.Fatalf("got %v %+v, want GOODBYE wamp.close.system_shutdown", m.MessageType(), m)
				}
			}
			polite.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: "wamp.close.goodbye_and_out"})
			polite.expectClosed()
			silent.expectClosed()
			if err := receive(t, errc, "Shutdown to return"); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		})
	}
}

// TestShutdownWithUnjoinedConnection: a peer that has completed the
// transport handshake but not sent HELLO is no session, so no GOODBYE goes
// to it. Shutdown must not wait for it (its HELLO timeout is 10s): it
// should close the connection and return nil well within a 5s context.
func TestShutdownWithUnjoinedConnection(t *testing.T) {
	for _, kind := range transportKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := startRouter(t, nil)
			c := dialRaw(t, urlOf(t, r, kind), serJSON)
			joined := connect(t, urlOf(t, r, kind), serJSON)
			errc := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				errc <- r.Shutdown(ctx)
			}()
			receive(t, joined.Done(), "GOODBYE to the joined session")
			_ = joined.Close()
			c.expectClosed()
			if err := receive(t, errc, "Shutdown to return"); err != nil {
				t.Fatalf("Shutdown: %v: a connection that never sent HELLO held it up", err)
			}
		})
	}
}
