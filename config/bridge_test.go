package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBridge(t *testing.T) {
	t.Setenv("SB_TEST_BRIDGE_SECRET", "from-env")
	src := `transports:
  - type: websocket
    listen: 127.0.0.1:0
    bridge:
      realm: realm1
      authid: web
      role: frontend
      publish: /publish
      call: /call
      unsigned: loopback
      max_body: 64KiB
      timestamp_window: 1m
      max_nonces: 5000
      call_timeout: 5s
      keys:
        - {key: django, secret: {env: SB_TEST_BRIDGE_SECRET}, role: backend}
        - {key: cron, secret: plain-secret}
      webhooks:
        - {path: /hooks/github, topic: com.example.github, headers: [X-GitHub-Event]}
      subscribers:
        - {topic: com.example.orders., match: prefix, url: "http://127.0.0.1:9000/events", timeout: 2s, retries: 3, backoff: 100ms, queue: 10}
realms:
  - name: realm1
    roles:
      frontend: [{uri: com.example., match: prefix, allow: [subscribe]}]
      backend: [{uri: com.example., match: prefix, allow: [publish, call]}]
`
	c, err := Parse("bridge.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Transports[0].Bridge
	if b == nil || b.Realm != "realm1" || b.AuthID != "web" || b.Role != "frontend" || b.Publish != "/publish" || b.Call != "/call" ||
		b.Unsigned != UnsignedLoopback || b.MaxBody != 64<<10 || b.TimestampWindow != time.Minute || b.MaxNonces != 5000 || b.CallTimeout != 5*time.Second {
		t.Fatalf("bridge %+v", b)
	}
	if len(b.Keys) != 2 || b.Keys[0].Key != "django" || b.Keys[0].Role != "backend" || b.Keys[0].Secret.Env != "SB_TEST_BRIDGE_SECRET" || b.Keys[1].Secret.Plain != "plain-secret" {
		t.Fatalf("keys %+v", b.Keys)
	}
	if len(b.Webhooks) != 1 || b.Webhooks[0].Path != "/hooks/github" || b.Webhooks[0].Topic != "com.example.github" || b.Webhooks[0].Headers[0] != "X-GitHub-Event" {
		t.Fatalf("webhooks %+v", b.Webhooks)
	}
	s := b.Subscribers
	if len(s) != 1 || s[0].Match != "prefix" || s[0].URL != "http://127.0.0.1:9000/events" || s[0].Timeout != 2*time.Second || s[0].Retries != 3 || s[0].Backoff != 100*time.Millisecond || s[0].Queue != 10 {
		t.Fatalf("subscribers %+v", s)
	}

	head := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    bridge:\n      realm: realm1\n      publish: /publish\n      unsigned: any\n"
	roles := "realms:\n  - name: realm1\n    roles:\n      backend: [{uri: com., match: prefix, allow: [publish]}]\n"
	for _, tc := range []struct {
		name, src string
		line      int
		want      string
		is        error
	}{
		{"unknown key", head + "      secret: x\n", 8, `unknown key "secret"`, ErrUnknownKey},
		{"no realm", strings.Replace(head, "realm: realm1", "realm: nope", 1), 5, `no realm "nope" in realms`, ErrBridge},
		{"missing realm", strings.Replace(head, "      realm: realm1\n", "", 1), 4, "missing realm", ErrMissing},
		{"bad unsigned", strings.Replace(head, "unsigned: any", "unsigned: sometimes", 1), 7, `unknown value "sometimes"`, ErrBridge},
		{"no keys and none unsigned", strings.Replace(head, "unsigned: any", "unsigned: none", 1), 4, "no keys, and unsigned requests are refused", ErrBridge},
		{"bad path", strings.Replace(head, "publish: /publish", "publish: publish", 1), 6, `bad path "publish"`, ErrBadPath},
		{"path pattern", strings.Replace(head, "publish: /publish", "publish: /p/{x}", 1), 6, `bad path "/p/{x}"`, ErrBadPath},
		{"path of the endpoint", strings.Replace(head, "publish: /publish", "publish: /ws", 1), 6, `path "/ws" is taken`, ErrBadPath},
		{"healthz", strings.Replace(head, "publish: /publish", "publish: /healthz", 1), 6, `path "/healthz" is taken by the health check`, ErrBadPath},
		{"readyz", head + "      call: /readyz\n", 8, `path "/readyz" is taken by the readiness check`, ErrBadPath},
		{"metrics", head + "      webhooks:\n        - {path: /metrics, topic: com.t}\n", 9, `path "/metrics" is taken by the metrics endpoint`, ErrBadPath},
		{"custom metrics path", head + "      call: /prom\nmetrics:\n  path: /prom\n", 8, `path "/prom" is taken by the metrics endpoint`, ErrBadPath},
		{"status", head + "      call: /status\n", 8, `path "/status" is taken by the status endpoint`, ErrBadPath},
		{"static root", strings.Replace(head, "publish: /publish", "publish: /", 1) + "    static: " + t.TempDir() + "\n", 6, `path "/" is taken by the static files`, ErrBadPath},
		{"same path twice", head + "      call: /publish\n", 8, `path "/publish" is taken (first at line 6)`, ErrBadPath},
		{"bad max_body", head + "      max_body: lots\n", 8, `bad size "lots"`, ErrBadSize},
		{"bad window", head + "      timestamp_window: soon\n", 8, `bad duration "soon"`, ErrBadDuration},
		{"bad max_nonces", head + "      max_nonces: -5\n", 8, "must not be negative", ErrBadNumber},
		{"negative call timeout", head + "      call_timeout: -1s\n", 8, "must not be negative", ErrBadDuration},
		{"key without secret", head + "      keys:\n        - {key: k}\n", 9, "missing secret", ErrMissing},
		{"key without name", head + "      keys:\n        - {secret: s}\n", 9, "missing key name", ErrMissing},
		{"duplicate key", head + "      keys:\n        - {key: k, secret: s}\n        - {key: k, secret: t}\n", 10, `duplicate key "k" (first at line 9)`, ErrBridge},
		{"hashed secret", head + "      keys:\n        - {key: k, secret: {bcrypt: \"$2a$10$abc\"}}\n", 9, "cannot be a hash", ErrSecret},
		{"secret env unset", head + "      keys:\n        - {key: k, secret: {env: SB_TEST_NO_SUCH_VAR}}\n", 9, "SB_TEST_NO_SUCH_VAR", ErrSecret},
		{"unknown role", head + "      keys:\n        - {key: k, secret: s, role: admin}\n" + roles, 9, `no role "admin" in realm realm1`, ErrRole},
		{"unknown bridge role", head + "      role: admin\n" + roles, 8, `no role "admin" in realm realm1`, ErrRole},
		{"webhook without path", head + "      webhooks:\n        - {topic: com.example.t}\n", 9, "missing path", ErrMissing},
		{"webhook bad topic", head + "      webhooks:\n        - {path: /h, topic: \"com..t\"}\n", 9, `bad topic "com..t"`, ErrBridge},
		{"subscriber bad url", head + "      subscribers:\n        - {topic: com.t, url: \"ftp://x\"}\n", 9, `bad url "ftp://x"`, ErrBridge},
		{"subscriber bad match", head + "      subscribers:\n        - {topic: com.t, match: fuzzy, url: \"http://x\"}\n", 9, `bad match "fuzzy"`, ErrBridge},
		{"subscriber negative retries", head + "      subscribers:\n        - {topic: com.t, url: \"http://x\", retries: -1}\n", 9, "must not be negative", ErrBadNumber},
		{"bridge on rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    bridge:\n      realm: realm1\n", 4, "bridge is for websocket transports only", ErrNotAllowed},
		{"bridge not a mapping", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    bridge: yes\n", 4, "expected a mapping", ErrType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one with\n %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line != tc.line {
				t.Errorf("error %v: want it on line %d", err, tc.line)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// The shipped config.yaml opens /publish and /call unsigned to loopback
// clients only.
func TestRepoConfigBridge(t *testing.T) {
	c, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Transports[0].Bridge
	if b == nil || b.Realm != "realm1" || b.Publish != "/publish" || b.Call != "/call" || b.Unsigned != UnsignedLoopback || len(b.Keys) != 0 {
		t.Fatalf("bridge %+v: want /publish and /call, unsigned from loopback only", b)
	}
}
