package config

import (
	"errors"
	"strings"
	"testing"
)

func TestConsoleConfig(t *testing.T) {
	t.Setenv("SB_TEST_CONSOLE_PW", "from-env")
	c, err := Parse("config.yaml", []byte(`
console:
  users:
    - {name: admin, password: plain-pw}
    - name: ops
      password: {env: SB_TEST_CONSOLE_PW}
    - name: hashed
      password: {bcrypt: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}
`))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Console
	if cc == nil || cc.ConsolePath() != DefaultConsolePath || len(cc.Users) != 3 {
		t.Fatalf("console %+v", cc)
	}
	if cc.Users[0].Name != "admin" || cc.Users[0].Password.Plain != "plain-pw" || cc.Users[1].Password.Env != "SB_TEST_CONSOLE_PW" || cc.Users[2].Password.Bcrypt == "" {
		t.Errorf("users %+v %+v %+v", cc.Users[0], cc.Users[1].Password, cc.Users[2].Password)
	}
	s, err := cc.Users[1].Password.Resolve()
	if err != nil || !s.Verify("from-env") {
		t.Errorf("env password: %v", err)
	}
	c, err = Parse("config.yaml", []byte("metrics:\n  listen: 127.0.0.1:9100\nconsole:\n  path: /admin\n  users: [{name: a, password: b}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Console.ConsolePath() != "/admin" {
		t.Errorf("path %q", c.Console.ConsolePath())
	}
	if d := Default(); d.Console != nil {
		t.Errorf("Default() has a console: %+v", d.Console)
	}
}

func TestConsoleConfigErrors(t *testing.T) {
	user := "  users: [{name: admin, password: pw}]\n"
	tests := []struct {
		name, src, want string
		is              error
	}{
		{"unknown key", "console:\n  user: []\n",
			`config.yaml:2:3: console: unknown key "user" (did you mean "users"?)`, ErrUnknownKey},
		{"unknown user key", "console:\n  users:\n    - {name: a, pasword: b}\n",
			`config.yaml:3:17: console.users[0]: unknown key "pasword" (did you mean "password"?)`, ErrUnknownKey},
		{"no users", "console:\n  path: /console\n",
			`config.yaml:1:1: console.users: missing users: the console is never served without a credential; give at least one {name, password}`, ErrMissing},
		{"null console", "console:\n",
			`config.yaml:1:10: console.users: missing users: the console is never served without a credential; give at least one {name, password}`, ErrMissing},
		{"no password", "console:\n  users:\n    - name: admin\n",
			`config.yaml:3:7: console.users[0].password: missing password: plain, {bcrypt: ...}, {argon2id: ...}, {env: VAR} or {file: path}`, ErrMissing},
		{"no name", "console:\n  users:\n    - password: x\n",
			`config.yaml:3:7: console.users[0].name: missing name`, ErrMissing},
		{"colon in name", "console:\n  users:\n    - {name: \"a:b\", password: x}\n",
			`config.yaml:3:14: console.users[0].name: bad name "a:b": no colon or line break (HTTP Basic authentication cannot carry them)`, ErrAuth},
		{"duplicate name", "console:\n  users:\n    - {name: a, password: x}\n    - {name: a, password: y}\n",
			`config.yaml:4:14: console.users[1].name: user "a" is listed twice (first at line 3)`, ErrAuth},
		{"bad hash", "console:\n  users:\n    - {name: a, password: {argon2id: nope}}\n",
			`config.yaml:3:38: console.users[0].password.argon2id: argon2id hash: not a PHC string of argon2id (want $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>)`, ErrSecret},
		{"unset env", "console:\n  users:\n    - {name: a, password: {env: SB_TEST_CONSOLE_UNSET}}\n",
			`config.yaml:3:33: console.users[0].password.env: environment variable SB_TEST_CONSOLE_UNSET is not set`, ErrSecret},
		{"relative path", "console:\n  path: console\n" + user,
			`config.yaml:2:9: console.path: bad path "console": want an HTTP path such as /console (no trailing "/")`, ErrBadPath},
		{"trailing slash", "console:\n  path: /console/\n" + user,
			`config.yaml:2:9: console.path: bad path "/console/": want an HTTP path such as /console (no trailing "/")`, ErrBadPath},
		{"ops path", "console:\n  path: /status\n" + user,
			`config.yaml:2:9: console.path: path "/status" is reserved for the operations endpoints`, ErrBadPath},
		{"metrics path", "console:\n  path: /metrics\n" + user,
			`config.yaml:2:9: console.path: console path "/metrics" is the metrics path`, ErrBadPath},
		{"websocket path", "console:\n  path: /ws\n" + user,
			`config.yaml:2:9: console.path: console path "/ws" clashes with the WebSocket path "/ws" of transports[0]`, ErrBadPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.TrimSpace(err.Error()); got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// With metrics.listen the console has an address of its own, where the
// WebSocket path does not clash.
func TestConsoleOnMetricsListen(t *testing.T) {
	_, err := Parse("config.yaml", []byte("metrics:\n  listen: 127.0.0.1:9100\nconsole:\n  path: /ws\n  users: [{name: a, password: b}]\n"))
	if err != nil {
		t.Fatal(err)
	}
}
