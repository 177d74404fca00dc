package config

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/auth"
)

const pubKey = "dd0bd1b5beac2d16f5a8f6e35dfc3a65c33aa73c6e1cf2f67fcc9d8786974614"

func TestAuthGood(t *testing.T) {
	src := `realms:
  - name: realm1
    auth:
      - method: ticket
        principals:
          - authid: alice
            role: frontend
            ticket: alice-ticket
          - authid: carol
            role: frontend
            ticket: {env: CAROL_TICKET}
      - method: wampcra
        principals:
          - authid: bob
            role: backend
            secret: bob-secret
            salt: salt123
            iterations: 100
            keylen: 16
      - method: cryptosign
        principals:
          - {authid: dave, role: backend, pubkeys: [` + pubKey + `]}
      - method: ticket
        dynamic: {realm: mgmt, procedure: com.example.authenticate}
      - method: anonymous
        role: guest
    roles:
      guest:
        - {uri: public., match: prefix, allow: [subscribe]}
      frontend:
        - uri: app.
          match: prefix
          allow: [call, subscribe]
          disclose: {caller: true}
      backend:
        - {uri: app..status, match: wildcard, allow: [register, publish], disclose: {publisher: true}}
    authorizer:
      procedure: com.example.authorize
      timeout: 2s
      cache: 1m
  - name: mgmt
`
	t.Setenv("CAROL_TICKET", "carol-ticket")
	c, err := Parse("auth.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Realms[0]
	want := []AuthMethod{
		{Method: "ticket", Principals: []Principal{
			{AuthID: "alice", Role: "frontend", Ticket: &Secret{Plain: "alice-ticket"}},
			{AuthID: "carol", Role: "frontend", Ticket: &Secret{Env: "CAROL_TICKET"}},
		}},
		{Method: "wampcra", Principals: []Principal{
			{AuthID: "bob", Role: "backend", Secret: &Secret{Plain: "bob-secret"}, Salt: "salt123", Iterations: 100, KeyLen: 16},
		}},
		{Method: "cryptosign", Principals: []Principal{{AuthID: "dave", Role: "backend", PubKeys: []string{pubKey}}}},
		{Method: "ticket", Dynamic: &Dynamic{Realm: "mgmt", Procedure: "com.example.authenticate", Timeout: DefaultDynamicTimeout}},
		{Method: "anonymous", Role: "guest"},
	}
	if !reflect.DeepEqual(r.Auth, want) {
		t.Errorf("Auth =\n%+v\nwant\n%+v", r.Auth, want)
	}
	wantRoles := []Role{
		{Name: "guest", Permissions: []Permission{{URI: "public.", Match: "prefix", Allow: []string{"subscribe"}}}},
		{Name: "frontend", Permissions: []Permission{{URI: "app.", Match: "prefix", Allow: []string{"call", "subscribe"}, DiscloseCaller: true}}},
		{Name: "backend", Permissions: []Permission{{URI: "app..status", Match: "wildcard", Allow: []string{"register", "publish"}, DisclosePublisher: true}}},
	}
	if !reflect.DeepEqual(r.Roles, wantRoles) {
		t.Errorf("Roles =\n%+v\nwant\n%+v", r.Roles, wantRoles)
	}
	// The authorizer's realm defaults to its own.
	if want := (&Dynamic{Realm: "realm1", Procedure: "com.example.authorize", Timeout: 2 * time.Second, Cache: time.Minute}); !reflect.DeepEqual(r.Authorizer, want) {
		t.Errorf("Authorizer = %+v, want %+v", r.Authorizer, want)
	}
	s, err := r.Auth[0].Principals[1].Ticket.Resolve()
	if err != nil || !s.Verify("carol-ticket") {
		t.Errorf("env ticket resolves to %+v, %v", s, err)
	}
	if c.Realms[1].Auth != nil || c.Realms[1].Roles != nil {
		t.Errorf("a realm without auth settings got %+v", c.Realms[1])
	}
}

// The shipped example loads, with the principals and roles its README
// describes.
func TestAuthExample(t *testing.T) {
	c, err := Load("../examples/auth/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Transports) != 2 || c.Transports[0].Listen != "127.0.0.1:8080" || c.Transports[1].Listen != "127.0.0.1:8081" {
		t.Errorf("transports = %+v, want the default ports", c.Transports)
	}
	r := c.Realms[0]
	var got []string
	for _, m := range r.Auth {
		who := m.Role
		for _, p := range m.Principals {
			who = p.AuthID + ":" + p.Role
		}
		got = append(got, m.Method+" "+who)
	}
	want := []string{"ticket alice:frontend", "wampcra bob:backend", "cryptosign carol:admin", "anonymous anonymous"}
	if r.Name != "realm1" || !reflect.DeepEqual(got, want) {
		t.Errorf("realm %s auth %v, want realm1 %v", r.Name, got, want)
	}
	pub, err := os.ReadFile("../examples/auth/cryptosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	if k := r.Auth[2].Principals[0].PubKeys; len(k) != 1 || k[0] != strings.TrimSpace(string(pub)) {
		t.Errorf("carol's key %v is not cryptosign.pub", k)
	}
	for _, role := range []string{"anonymous", "frontend", "backend", "admin"} {
		if !r.HasRole(role) {
			t.Errorf("no role %s", role)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	realm := "realms:\n  - name: realm1\n"
	for _, tc := range []struct {
		name, src, want string
		is              error
	}{
		{"unknown method", realm + "    auth:\n      - method: kerberos\n",
			`bad.yaml:4:17: realms[0].auth[0].method: unknown method "kerberos": want one of anonymous, ticket, wampcra, cryptosign, tls`, ErrAuth},
		{"missing method", realm + "    auth:\n      - role: x\n",
			`bad.yaml:4:9: realms[0].auth[0].method: missing method`, ErrMissing},
		{"empty auth", realm + "    auth: []\n",
			`bad.yaml:3:11: realms[0].auth: no authentication methods`, ErrAuth},
		{"unknown key", realm + "    auth:\n      - method: ticket\n        principal: []\n",
			`bad.yaml:5:9: realms[0].auth[0]: unknown key "principal" (did you mean "principals"?)`, ErrUnknownKey},
		{"no principals", realm + "    auth:\n      - method: ticket\n",
			`bad.yaml:4:9: realms[0].auth[0]: ticket needs principals or dynamic`, ErrAuth},
		{"both", realm + "    auth:\n      - method: ticket\n        principals: [{authid: a, role: r, ticket: t}]\n        dynamic: {procedure: com.x.auth}\n",
			`bad.yaml:4:9: realms[0].auth[0]: give principals or dynamic, not both`, ErrAuth},
		{"listed twice", realm + "    auth:\n      - method: anonymous\n      - method: anonymous\n",
			`bad.yaml:5:9: realms[0].auth[1]: anonymous is listed twice (first at line 4)`, ErrAuth},
		{"anonymous principals", realm + "    auth:\n      - method: anonymous\n        principals: [{authid: a, role: r}]\n",
			`bad.yaml:4:9: realms[0].auth[0]: anonymous takes a role only`, ErrNotAllowed},
		{"role on ticket", realm + "    auth:\n      - method: ticket\n        role: x\n        principals: [{authid: a, role: r, ticket: t}]\n",
			`bad.yaml:5:15: realms[0].auth[0].role: role is for anonymous`, ErrNotAllowed},
		{"missing ticket", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r}\n",
			`bad.yaml:6:13: realms[0].auth[0].principals[0].ticket: missing ticket: ticket principals need one`, ErrMissing},
		{"missing authid", realm + "    auth:\n      - method: ticket\n        principals:\n          - {role: r, ticket: t}\n",
			`bad.yaml:6:13: realms[0].auth[0].principals[0].authid: missing authid`, ErrMissing},
		{"duplicate authid", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: t}\n          - {authid: a, role: r, ticket: u}\n",
			`bad.yaml:7:22: realms[0].auth[0].principals[1].authid: authid "a" is listed twice (first at line 6)`, ErrAuth},
		{"pubkeys on ticket", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: t, pubkeys: [x]}\n",
			`bad.yaml:6:54: realms[0].auth[0].principals[0].pubkeys: pubkeys is not for ticket principals`, ErrNotAllowed},
		{"salt on ticket", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: t, salt: s}\n",
			`bad.yaml:6:51: realms[0].auth[0].principals[0].salt: salt is not for ticket principals`, ErrNotAllowed},
		{"hashed wampcra", realm + "    auth:\n      - method: wampcra\n        principals:\n          - {authid: a, role: r, secret: {bcrypt: x}}\n",
			`bad.yaml:6:42: realms[0].auth[0].principals[0].secret: wampcra signs with the secret itself`, ErrSecret},
		{"iterations without salt", realm + "    auth:\n      - method: wampcra\n        principals:\n          - {authid: a, role: r, secret: s, iterations: 5}\n",
			`bad.yaml:6:13: realms[0].auth[0].principals[0].salt: iterations and keylen need a salt`, ErrMissing},
		{"bad pubkey", realm + "    auth:\n      - method: cryptosign\n        principals:\n          - {authid: a, role: r, pubkeys: [abcd]}\n",
			`bad.yaml:6:44: realms[0].auth[0].principals[0].pubkeys[0]: bad public key "abcd": want 32 bytes as 64 hex digits`, ErrAuth},
		{"shared pubkey", realm + "    auth:\n      - method: cryptosign\n        principals:\n          - {authid: a, role: r, pubkeys: [" + pubKey + "]}\n          - {authid: b, role: r, pubkeys: [" + strings.ToUpper(pubKey) + "]}\n",
			`bad.yaml:7:44: realms[0].auth[0].principals[1].pubkeys[0]: public key listed twice (first at line 6)`, ErrAuth},
		{"bad fingerprint", realm + "    auth:\n      - method: tls\n        principals:\n          - {authid: a, role: r, fingerprints: [zz]}\n",
			`bad.yaml:6:49: realms[0].auth[0].principals[0].fingerprints[0]: bad fingerprint "zz"`, ErrAuth},
		{"two secret sources", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: {env: A, file: b}}\n",
			`bad.yaml:6:42: realms[0].auth[0].principals[0].ticket: give exactly one of bcrypt, argon2id, env, file`, ErrSecret},
		{"unknown secret source", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: {vault: x}}\n",
			`bad.yaml:6:43: realms[0].auth[0].principals[0].ticket: unknown key "vault"`, ErrUnknownKey},
		{"bad bcrypt", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: {bcrypt: nope}}\n",
			`bad.yaml:6:51: realms[0].auth[0].principals[0].ticket.bcrypt: bcrypt hash:`, ErrSecret},
		{"unset env", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: {env: SWITCHBOARD_NO_SUCH_VARIABLE}}\n",
			`bad.yaml:6:48: realms[0].auth[0].principals[0].ticket.env: environment variable SWITCHBOARD_NO_SUCH_VARIABLE is not set`, ErrSecret},
		{"missing file", realm + "    auth:\n      - method: ticket\n        principals:\n          - {authid: a, role: r, ticket: {file: nope.txt}}\n",
			`bad.yaml:6:49: realms[0].auth[0].principals[0].ticket.file: secret file nope.txt: no such file or directory`, ErrSecret},
		{"dynamic realm unknown", realm + "    auth:\n      - method: ticket\n        dynamic: {realm: mgmt, procedure: com.x.auth}\n",
			`bad.yaml:5:26: realms[0].auth[0].dynamic.realm: no realm "mgmt" in this config`, ErrAuth},
		{"dynamic bad procedure", realm + "    auth:\n      - method: ticket\n        dynamic: {procedure: \"a b\"}\n",
			`bad.yaml:5:30: realms[0].auth[0].dynamic.procedure: bad procedure "a b"`, ErrAuth},
		{"dynamic reserved procedure", realm + "    auth:\n      - method: ticket\n        dynamic: {procedure: wamp.session.get}\n",
			`bad.yaml:5:30: realms[0].auth[0].dynamic.procedure: procedure "wamp.session.get": URIs under wamp. are the router's`, ErrAuth},
		{"cache on authenticator", realm + "    auth:\n      - method: ticket\n        dynamic: {procedure: com.x.auth, cache: 1m}\n",
			`bad.yaml:5:42: realms[0].auth[0].dynamic.cache: cache is for authorizers only`, ErrNotAllowed},
		{"role not in roles", realm + "    auth:\n      - method: ticket\n        principals: [{authid: a, role: r, ticket: t}]\n    roles:\n      s:\n        - {uri: x, allow: [call]}\n",
			`bad.yaml:5:40: realms[0].auth[0].principals[0].role: role "r" is not in realms[0].roles`, ErrRole},
		{"anonymous role missing", realm + "    auth:\n      - method: anonymous\n    roles:\n      s:\n        - {uri: x, allow: [call]}\n",
			`bad.yaml:4:9: realms[0].auth[0]: anonymous sessions get the role "anonymous", which is not in realms[0].roles`, ErrRole},
		{"empty roles", realm + "    roles: {}\n",
			`bad.yaml:3:12: realms[0].roles: no roles`, ErrRole},
		{"bad action", realm + "    roles:\n      r:\n        - {uri: x, allow: [call, delete]}\n",
			`bad.yaml:5:34: realms[0].roles.r[0].allow[1]: unknown action "delete"`, ErrRole},
		{"no allow", realm + "    roles:\n      r:\n        - {uri: x}\n",
			`bad.yaml:5:11: realms[0].roles.r[0].allow: missing allow`, ErrMissing},
		{"bad match", realm + "    roles:\n      r:\n        - {uri: x, match: regex, allow: [call]}\n",
			`bad.yaml:5:27: realms[0].roles.r[0].match: bad match "regex"`, ErrRole},
		{"bad uri", realm + "    roles:\n      r:\n        - {uri: a..b, allow: [call]}\n",
			`bad.yaml:5:17: realms[0].roles.r[0].uri: bad uri "a..b" for match exact`, ErrRole},
		{"empty exact uri", realm + "    roles:\n      r:\n        - {allow: [call]}\n",
			`bad.yaml:5:11: realms[0].roles.r[0].uri: missing uri`, ErrMissing},
		{"duplicate permission", realm + "    roles:\n      r:\n        - {uri: x., match: prefix, allow: [call]}\n        - {uri: x., match: prefix, allow: [publish]}\n",
			`bad.yaml:6:11: realms[0].roles.r[1]: prefix "x." is listed twice (first at line 5)`, ErrRole},
		{"disclose against never", "realms:\n  - name: realm1\n    disclose_caller: never\n    roles:\n      r:\n        - {uri: x, allow: [call], disclose: {caller: true}}\n",
			`bad.yaml:6:54: realms[0].roles.r[0].disclose.caller: the realm's disclose_caller is never`, ErrRole},
		{"unknown disclose", realm + "    roles:\n      r:\n        - {uri: x, allow: [call], disclose: {callee: true}}\n",
			`bad.yaml:5:46: realms[0].roles.r[0].disclose: unknown key "callee" (did you mean "caller"?)`, ErrUnknownKey},
		{"authorizer without procedure", realm + "    authorizer: {timeout: 1s}\n",
			`bad.yaml:3:17: realms[0].authorizer.procedure: bad procedure ""`, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one starting\n %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bob.secret"), []byte("bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash := auth.HashArgon2id("alice-ticket")
	src := `realms:
  - name: realm1
    auth:
      - method: ticket
        principals:
          - {authid: alice, role: r, ticket: {argon2id: "` + hash + `"}}
      - method: wampcra
        principals:
          - {authid: bob, role: r, secret: {file: bob.secret}}
`
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// The file is relative to the config's directory, its newline dropped.
	s := c.Realms[0].Auth[1].Principals[0].Secret
	if s.File != filepath.Join(dir, "bob.secret") {
		t.Errorf("File = %q", s.File)
	}
	if v, err := s.Resolve(); err != nil || !v.Verify("bob-secret") {
		t.Errorf("file secret: %v", err)
	} else if k, _ := v.Key(); string(k) != "bob-secret" {
		t.Errorf("file secret key %q", k)
	}
	if v, err := c.Realms[0].Auth[0].Principals[0].Ticket.Resolve(); err != nil || !v.Verify("alice-ticket") || v.Verify("alice") {
		t.Errorf("argon2id ticket: %v", err)
	}
}

func TestTransportSecurity(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir, "server")
	writeKeyPair(t, dir, "ca")
	src := `transports:
  - type: websocket
    listen: 127.0.0.1:0
    allowed_origins: ["https://app.example.com", "http://localhost:*", "*"]
    max_connections_per_address: 10
    auth_methods: [tls, anonymous]
    tls: {cert: server.crt, key: server.key, client_ca: ca.crt, client_auth: required}
  - type: rawsocket
    listen: 127.0.0.1:0
    tls: {cert: server.crt, key: server.key, client_ca: ca.crt}
`
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ws, rs := c.Transports[0], c.Transports[1]
	if !reflect.DeepEqual(ws.AllowedOrigins, []string{"https://app.example.com", "http://localhost:*", "*"}) ||
		ws.MaxConnectionsPerAddress != 10 || !reflect.DeepEqual(ws.AuthMethods, []string{"tls", "anonymous"}) {
		t.Errorf("websocket = %+v", ws)
	}
	if ws.TLS.Config.ClientAuth != tls.RequireAndVerifyClientCert || ws.TLS.Config.ClientCAs == nil {
		t.Errorf("required client certificates: %+v", ws.TLS.Config)
	}
	if rs.TLS.Config.ClientAuth != tls.VerifyClientCertIfGiven || rs.AllowedOrigins != nil || rs.MaxConnectionsPerAddress != 0 {
		t.Errorf("rawsocket = %+v, tls %v", rs, rs.TLS.Config.ClientAuth)
	}

	base := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n"
	for _, tc := range []struct {
		name, src, want string
		is              error
	}{
		{"bad origin", base + "    allowed_origins: [\"example.com\"]\n",
			`bad.yaml:4:23: transports[0].allowed_origins[0]: bad origin "example.com"`, ErrOrigin},
		{"origin with path", base + "    allowed_origins: [\"https://example.com/app\"]\n",
			`bad.yaml:4:23: transports[0].allowed_origins[0]: bad origin "https://example.com/app"`, ErrOrigin},
		{"no origins", base + "    allowed_origins: []\n",
			`bad.yaml:4:22: transports[0].allowed_origins: no origins`, ErrOrigin},
		{"origins on rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    allowed_origins: [\"*\"]\n",
			`bad.yaml:4:22: transports[0].allowed_origins: allowed_origins is for websocket transports only`, ErrNotAllowed},
		{"negative limit", base + "    max_connections_per_address: -1\n",
			`bad.yaml:4:34: transports[0].max_connections_per_address: -1: must not be negative`, ErrBadNumber},
		{"unknown auth method", base + "    auth_methods: [password]\n",
			`bad.yaml:4:20: transports[0].auth_methods[0]: unknown method "password"`, ErrAuth},
		{"tls method without client_ca", base + "    auth_methods: [tls]\n",
			`bad.yaml:4:20: transports[0].auth_methods[0]: tls needs client certificates: set tls.client_ca`, ErrAuth},
		{"client_auth without ca", base + "    tls: {cert: " + filepath.Join(dir, "server.crt") + ", key: " + filepath.Join(dir, "server.key") + ", client_auth: required}\n",
			`: transports[0].tls.client_auth: client_auth needs client_ca`, ErrTLS},
		{"bad client_auth", base + "    tls: {cert: " + filepath.Join(dir, "server.crt") + ", key: " + filepath.Join(dir, "server.key") + ", client_ca: " + filepath.Join(dir, "ca.crt") + ", client_auth: maybe}\n",
			`: transports[0].tls.client_auth: bad client_auth "maybe": want optional or required`, ErrTLS},
		{"client_ca not PEM", base + "    tls: {cert: " + filepath.Join(dir, "server.crt") + ", key: " + filepath.Join(dir, "server.key") + ", client_ca: " + file + "}\n",
			`: transports[0].tls.client_ca: client_ca file "` + file + `" holds no PEM certificate`, ErrTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:4:") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one on line 4 with\n %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}
