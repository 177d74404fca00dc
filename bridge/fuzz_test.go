package bridge

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// FuzzRequest feeds arbitrary bodies through the checks a /publish body
// passes before anything is sent to the realm: a body either is refused
// with a 4xx problem, or yields a valid topic, a JSON list or nothing for
// args, a JSON dict or nothing for kwargs, and decoded options.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"topic": "com.example.t", "args": [1, "x"], "kwargs": {"a": null}, "options": {"exclude": [1]}}`,
		`{"topic": "com.example.t", "args": null}`,
		`{"topic": 1}`, `[]`, `{`, `{"topic": "a b"}`, `{"args": {}}`, `{"topic": "t", "options": {"timeout": 1e309}}`,
		`{"topic": "t", "args": ["\u0000AAEC"]}`,
	} {
		f.Add([]byte(s))
	}
	b, err := New(Config{Realm: "realm1", Unsigned: UnsignedAny, Join: func(*Peer, string, string) {}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(b.Close)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/publish", bytes.NewReader(body))
		w := httptest.NewRecorder()
		_, _, req, p := b.accept(w, r)
		if p == nil && req.Topic == nil {
			return
		}
		if p == nil {
			p = checkURI(*req.Topic, "topic")
		}
		var opts wamp.Dict
		var args, kwargs []byte
		if p == nil {
			opts, args, kwargs, p = b.payload(req)
		}
		if p != nil {
			if p.status < 400 || p.status > 499 || p.uri == "" || p.msg == "" {
				t.Fatalf("problem %+v", p)
			}
			return
		}
		if opts == nil || args != nil && args[0] != '[' || kwargs != nil && kwargs[0] != '{' {
			t.Fatalf("accepted %q: opts %v args %q kwargs %q", body, opts, args, kwargs)
		}
	})
}
