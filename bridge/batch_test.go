package bridge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/bridge"
)

// TestPublishBatch: a JSON list of publications is published in order,
// each as a single request would be; a bad entry fails alone, with the
// error object a single request would get, and the others go out.
func TestPublishBatch(t *testing.T) {
	n := start(t, loopback(), nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.example.t", nil)

	a := n.post(t, "/publish", `[
		{"topic": "com.example.t", "args": [1]},
		{"topic": "bad topic", "args": [2]},
		{"args": [3]},
		{"topic": "com.example.t", "args": [4], "options": {"exclude": "x"}},
		{"topic": "com.example.t", "kwargs": {"n": 5}, "options": {"exclude_me": null}}
	]`)
	if a.Status != http.StatusOK {
		t.Fatalf("batch: %d %s", a.Status, a.Raw)
	}
	var got struct {
		Results []struct {
			ID      uint64 `json:"id"`
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(a.Raw), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"", "wamp.error.invalid_uri", "switchboard.bridge.missing_topic", "wamp.error.invalid_argument", ""}
	if len(got.Results) != len(want) {
		t.Fatalf("results %s, want %d", a.Raw, len(want))
	}
	for i, r := range got.Results {
		if r.Error != want[i] || (want[i] == "") != (r.ID != 0) || (want[i] != "") != (r.Message != "") {
			t.Fatalf("result %d: %+v, want error %q (all: %s)", i, r, want[i], a.Raw)
		}
	}
	if e := receive(t, ch, "event"); fmt.Sprint(e.Arguments) != "[1]" {
		t.Fatalf("first event %v, want [1]", e.Arguments)
	}
	if e := receive(t, ch, "event"); fmt.Sprint(e.ArgumentsKw) != "map[n:5]" {
		t.Fatalf("second event %v %v, want kwargs n=5", e.Arguments, e.ArgumentsKw)
	}
}

// TestPublishBatchRefused: a batch that is not a list of objects, is
// empty, or is over bridge.MaxBatch is refused whole, and nothing of it
// is published.
func TestPublishBatchRefused(t *testing.T) {
	b := loopback()
	b.MaxBody = 1 << 20
	n := start(t, b, nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.example.t", nil)

	over := "[" + strings.Repeat(`{"topic": "com.example.t"},`, bridge.MaxBatch) + `{"topic": "com.example.t"}]`
	for _, c := range []struct{ name, body, uri string }{
		{"empty", `[]`, "switchboard.bridge.bad_payload"},
		{"not objects", `[1, 2]`, "switchboard.bridge.malformed_json"},
		{"truncated", `[{"topic": "com.example.t"}`, "switchboard.bridge.malformed_json"},
		{"over the bound", over, "switchboard.bridge.bad_payload"},
	} {
		a := n.post(t, "/publish", c.body)
		if a.Status != http.StatusBadRequest || a.Error != c.uri {
			t.Fatalf("%s: %d %s, want 400 %s", c.name, a.Status, a.Raw, c.uri)
		}
	}
	if a := n.post(t, "/publish", `[{"topic": "com.example.t", "args": ["after"]}]`); a.Status != http.StatusOK {
		t.Fatalf("good batch: %d %s", a.Status, a.Raw)
	}
	if e := receive(t, ch, "event"); fmt.Sprint(e.Arguments) != "[after]" {
		t.Fatalf("first event %v: a refused batch published something", e.Arguments)
	}
}
