package bridge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard/switchboard/config"
)

// TestTwoSubscribersOneTopic: two HTTP subscribers on the same topic and
// match share one subscription id on the bridge's session; each still gets
// every event.
func TestTwoSubscribersOneTopic(t *testing.T) {
	got := make(chan string, 16)
	srv := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			got <- name
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := srv("a"), srv("b")
	br := &config.Bridge{Publish: "/publish", Unsigned: config.UnsignedAny, Subscribers: []config.BridgeSubscriber{
		{Topic: "com.example.two", URL: a.URL},
		{Topic: "com.example.two", URL: b.URL},
	}}
	n := start(t, br, nil)
	if r := n.post(t, "/publish", `{"topic": "com.example.two", "args": [1]}`); r.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.Status, r.Raw)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		seen[receive(t, got, "POST to both subscribers (got "+keys(seen)+")")] = true
	}
}

func keys(m map[string]bool) string {
	s := ""
	for k := range m {
		s += k + " "
	}
	return s
}
