package config

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

// strip drops what a loaded Config has and a built one does not, so the
// two can be compared.
func strip(c *Config) *Config {
	cc := *c
	cc.File, cc.pos = "", nil
	// The shipped file serves the demo in web/, a directory beside it,
	// which a node without a file has no way to name.
	cc.Transports = append([]Transport(nil), c.Transports...)
	for i := range cc.Transports {
		cc.Transports[i].Static = ""
		// And the HTTP bridge for loopback clients, which a node without
		// a file leaves off, so that only a file can open it.
		cc.Transports[i].Bridge = nil
	}
	return &cc
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	want := &Config{
		Log: Log{Level: slog.LevelInfo, Format: FormatText},
		Transports: []Transport{
			{Type: WebSocket, Listen: "127.0.0.1:8080", Path: "/ws", Serializers: wamp.Serializations,
				MaxMessageSize: 16 << 20, PingInterval: 30 * time.Second, PingTimeout: 10 * time.Second,
				LongPoll: &LongPoll{Path: "/lp", RequestTimeout: 10 * time.Second, SessionTimeout: 30 * time.Second}},
			{Type: RawSocket, Listen: "127.0.0.1:8081", Serializers: wamp.Serializations,
				MaxMessageSize: 16 << 20, PingTimeout: 10 * time.Second},
		},
		Realms: []Realm{{Name: "realm1"}},
		Limits: Limits{MaxMessageSize: 16 << 20, Queue: Queue{
			Messages: 1024, Bytes: 4 << 20, SlowConsumer: SlowConsumerDrop, DisconnectAfter: 10 * time.Second}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}
}

// The shipped config.yaml must load and spell out the defaults, so that
// what users read there is what a node without a file does.
func TestLoadRepoConfig(t *testing.T) {
	c, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "../config.yaml" {
		t.Errorf("File = %q", c.File)
	}
	if got, want := strip(c), Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.yaml =\n%+v\nwant Default()\n%+v", got, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "\n", "# nothing but comments\n# here\n", "---\n", "~\n"} {
		c, err := Parse("config.yaml", []byte(src))
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if !reflect.DeepEqual(strip(c), Default()) {
			t.Errorf("Parse(%q) = %+v, want Default()", src, c)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if got, want := errString(err), "testdata/nope.yaml: no such file or directory"; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *Config)
	}{
		{"partial keeps other defaults", `
log:
  level: debug
  format: json
realms:
  - name: com.example.app
    strict_uris: true
`, func(t *testing.T, c *Config) {
			if c.Log.Level != slog.LevelDebug || c.Log.Format != FormatJSON {
				t.Errorf("Log = %+v", c.Log)
			}
			if !reflect.DeepEqual(c.Realms, []Realm{{Name: "com.example.app", StrictURIs: true}}) {
				t.Errorf("Realms = %+v", c.Realms)
			}
			if !reflect.DeepEqual(c.Transports, Default().Transports) {
				t.Errorf("Transports = %+v, want the defaults", c.Transports)
			}
		}},
		{"sizes and durations", `
transports:
  - type: websocket
    listen: ":0"
    path: /wamp
    serializers: [cbor]
    max_message_size: 64KiB
    ping_interval: 1m30s
    ping_timeout: 500ms
  - type: rawsocket
    listen: "[::1]:0"
    max_message_size: 1048576
limits:
  max_message_size: 1MB
  outbound_queue:
    messages: 16
    bytes: "2 mib"
    slow_consumer: disconnect
    disconnect_after: 1s
`, func(t *testing.T, c *Config) {
			ws, rs := c.Transports[0], c.Transports[1]
			if ws.Path != "/wamp" || ws.MaxMessageSize != 64<<10 || ws.PingInterval != 90*time.Second ||
				ws.PingTimeout != 500*time.Millisecond || !reflect.DeepEqual(ws.Serializers, []wamp.Serialization{wamp.CBOR}) {
				t.Errorf("websocket = %+v", ws)
			}
			if rs.MaxMessageSize != 1<<20 || rs.PingInterval != 0 || rs.Path != "" {
				t.Errorf("rawsocket = %+v", rs)
			}
			want := Limits{MaxMessageSize: 1000000, Queue: Queue{Messages: 16, Bytes: 2 << 20,
				SlowConsumer: SlowConsumerDisconnect, DisconnectAfter: time.Second}}
			if c.Limits != want {
				t.Errorf("Limits = %+v, want %+v", c.Limits, want)
			}
		}},
		{"transport inherits limit, rawsocket capped", `
limits:
  max_message_size: 32MiB
`, func(t *testing.T, c *Config) {
			if c.Transports[0].MaxMessageSize != 32<<20 || c.Transports[1].MaxMessageSize != 16<<20 {
				t.Errorf("MaxMessageSize = %d, %d", c.Transports[0].MaxMessageSize, c.Transports[1].MaxMessageSize)
			}
		}},
		{"zero means default, pings off", `
transports:
  - type: websocket
    listen: localhost:9000
    max_message_size: 0
    ping_interval: 0s
`, func(t *testing.T, c *Config) {
			if tr := c.Transports[0]; tr.MaxMessageSize != DefaultMaxMessageSize || tr.PingInterval != 0 {
				t.Errorf("transport = %+v", tr)
			}
		}},
		{"port 0 twice, distinct addresses on one port", `
transports:
  - {type: websocket, listen: "127.0.0.1:0"}
  - {type: rawsocket, listen: "127.0.0.1:0"}
  - {type: rawsocket, listen: "127.0.0.2:9000"}
  - {type: rawsocket, listen: "127.0.0.1:9000"}
  - {type: rawsocket, listen: "unix:relative.sock"}
`, func(t *testing.T, c *Config) {
			if got := c.Transports[4].Listen; got != "unix:"+filepath.Join("etc", "relative.sock") {
				t.Errorf("unix listen = %q, want it relative to the file", got)
			}
			if n, a := c.Transports[4].Network(); n != "unix" || a != filepath.Join("etc", "relative.sock") {
				t.Errorf("Network() = %q, %q", n, a)
			}
			if n, a := c.Transports[0].Network(); n != "tcp" || a != "127.0.0.1:0" {
				t.Errorf("Network() = %q, %q", n, a)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("etc/config.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	c, err := Parse("config.yaml", []byte(`
transports:
  - &ws
    type: websocket
    listen: 127.0.0.1:9001
    serializers: &sers [json, msgpack]
  - <<: *ws
    listen: 127.0.0.1:9002
  - type: rawsocket
    listen: 127.0.0.1:9003
    serializers: *sers
realms:
  - {name: realm1}
  - {name: !!str 2024}
`))
	if err != nil {
		t.Fatal(err)
	}
	sers := []wamp.Serialization{wamp.JSON, wamp.MsgPack}
	for i, want := range []Transport{
		{Type: WebSocket, Listen: "127.0.0.1:9001", Serializers: sers},
		{Type: WebSocket, Listen: "127.0.0.1:9002", Serializers: sers},
		{Type: RawSocket, Listen: "127.0.0.1:9003", Serializers: sers},
	} {
		got := c.Transports[i]
		if got.Type != want.Type || got.Listen != want.Listen || !reflect.DeepEqual(got.Serializers, want.Serializers) {
			t.Errorf("transports[%d] = %+v, want %+v", i, got, want)
		}
	}
	if c.Realms[1].Name != "2024" {
		t.Errorf("realms[1] = %+v", c.Realms[1])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
		is   error
	}{
		{"unknown top-level key", "log:\n  level: info\nrealmz:\n  - name: realm1\n",
			`config.yaml:3:1: unknown key "realmz" (did you mean "realms"?)`, ErrUnknownKey},
		{"unknown nested key", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    serialisers: [json]\n",
			`config.yaml:4:5: transports[0]: unknown key "serialisers" (did you mean "serializers"?)`, ErrUnknownKey},
		{"unknown key far from any", "limits:\n  outbound_queue:\n    frobnicate: 1\n",
			`config.yaml:3:5: limits.outbound_queue: unknown key "frobnicate"`, ErrUnknownKey},
		{"unknown tls key", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    tls: {cert: a, ky: b}\n",
			`config.yaml:4:20: transports[0].tls: unknown key "ky" (did you mean "key"?)`, ErrUnknownKey},
		{"bad port", "transports:\n  - type: websocket\n    listen: 127.0.0.1:8080\n  - type: rawsocket\n    listen: \"127.0.0.1:99999\"\n",
			`config.yaml:5:13: transports[1].listen: bad address "127.0.0.1:99999": port out of range`, ErrBadAddress},
		{"port not a number", "transports:\n  - {type: rawsocket, listen: \"127.0.0.1:http\"}\n",
			`config.yaml:2:31: transports[0].listen: bad address "127.0.0.1:http": port must be a number`, ErrBadAddress},
		{"no port", "transports:\n  - {type: rawsocket, listen: 127.0.0.1}\n",
			`config.yaml:2:31: transports[0].listen: bad address "127.0.0.1": missing port in address (want host:port)`, ErrBadAddress},
		{"host name", "transports:\n  - {type: rawsocket, listen: \"example.com:80\"}\n",
			`config.yaml:2:31: transports[0].listen: bad address "example.com:80": host must be an IP address, "localhost" or empty`, ErrBadAddress},
		{"missing listen", "transports:\n  - type: rawsocket\n",
			`config.yaml:2:5: transports[0].listen: missing listen address: want host:port`, ErrMissing},
		{"unix websocket", "transports:\n  - {type: websocket, listen: \"unix:/tmp/x.sock\"}\n",
			`config.yaml:2:31: transports[0].listen: unix sockets are for rawsocket transports only`, ErrNotAllowed},
		{"duplicate listen", "transports:\n  - type: websocket\n    listen: 127.0.0.1:9000\n  - type: rawsocket\n    listen: 127.0.0.1:9000\n",
			`config.yaml:5:13: transports[1].listen: duplicate listen address "127.0.0.1:9000" (first at line 3)`, ErrDuplicateListen},
		{"overlapping listen", "transports:\n  - {type: websocket, listen: \":9000\"}\n  - {type: rawsocket, listen: \"127.0.0.1:9000\"}\n",
			`config.yaml:3:31: transports[1].listen: listen address "127.0.0.1:9000" overlaps ":9000" (first at line 2)`, ErrDuplicateListen},
		{"duplicate unix", "transports:\n  - {type: rawsocket, listen: \"unix:/tmp/a.sock\"}\n  - {type: rawsocket, listen: \"unix:/tmp/./a.sock\"}\n",
			`config.yaml:3:31: transports[1].listen: listen address "unix:/tmp/./a.sock" overlaps "unix:/tmp/a.sock" (first at line 2)`, ErrDuplicateListen},
		{"duplicate realm", "realms:\n  - name: realm1\n  - name: realm2\n  - name: realm1\n",
			`config.yaml:4:11: realms[2].name: duplicate realm "realm1" (first at line 2)`, ErrDuplicateRealm},
		{"bad realm", "realms:\n  - name: \"my realm\"\n",
			`config.yaml:2:11: realms[0].name: bad realm name "my realm": want a URI such as "realm1" or "com.example.app"`, ErrBadRealm},
		{"missing realm name", "realms:\n  - strict_uris: true\n",
			`config.yaml:2:5: realms[0].name: missing realm name`, ErrMissing},
		{"bad serializer", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    serializers: [json, xml]\n",
			`config.yaml:4:25: transports[0].serializers[1]: unknown serializer "xml": want json, msgpack or cbor`, ErrBadSerializer},
		{"duplicate serializer", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    serializers:\n      - cbor\n      - cbor\n",
			`config.yaml:6:9: transports[0].serializers[1]: duplicate serializer cbor (first at line 5)`, ErrDuplicateSerializer},
		{"no serializers", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    serializers: []\n",
			`config.yaml:4:18: transports[0].serializers: no serializers: give at least one of json, msgpack, cbor, or drop the key for all three`, ErrBadSerializer},
		{"bad size unit", "limits:\n  max_message_size: 16MiBs\n",
			`config.yaml:2:21: limits.max_message_size: bad size "16MiBs": unknown unit "MiBs": want B, KB, KiB, MB, MiB, GB or GiB`, ErrBadSize},
		{"bad size junk", "limits:\n  outbound_queue:\n    bytes: lots\n",
			`config.yaml:3:12: limits.outbound_queue.bytes: bad size "lots": want bytes or a number with a unit: B, KB, KiB, MB, MiB, GB or GiB`, ErrBadSize},
		{"negative size", "limits:\n  max_message_size: -1\n",
			`config.yaml:2:21: limits.max_message_size: bad size -1: must not be negative`, ErrBadSize},
		{"size too large", "limits:\n  max_message_size: 2GiB\n",
			`config.yaml:2:21: limits.max_message_size: 2GiB is too large (at most 1GiB)`, ErrBadSize},
		{"float size", "limits:\n  max_message_size: 1.5\n",
			`config.yaml:2:21: limits.max_message_size: expected a size such as 1048576 or "16MiB", got a number`, ErrBadSize},
		{"rawsocket size", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    max_message_size: 17MiB\n",
			`config.yaml:4:23: transports[0].max_message_size: 17MiB is too large for rawsocket, whose frames carry at most 16MiB`, ErrBadSize},
		{"bad duration", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    ping_interval: 30\n",
			`config.yaml:4:20: transports[0].ping_interval: bad duration "30": want a Go duration such as "30s" or "1m30s"`, ErrBadDuration},
		{"negative duration", "limits:\n  outbound_queue:\n    disconnect_after: -1s\n",
			`config.yaml:3:23: limits.outbound_queue.disconnect_after: must not be negative`, ErrBadDuration},
		{"bad transport type", "transports:\n  - type: http\n    listen: 127.0.0.1:0\n",
			`config.yaml:2:11: transports[0].type: unknown transport type "http": want websocket or rawsocket`, ErrTransportType},
		{"missing transport type", "transports:\n  - listen: 127.0.0.1:0\n",
			`config.yaml:2:5: transports[0].type: missing transport type: want websocket or rawsocket`, ErrMissing},
		{"path on rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    path: /ws\n",
			`config.yaml:4:11: transports[0].path: path is for websocket transports only`, ErrNotAllowed},
		{"bad path", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    path: ws\n",
			`config.yaml:4:11: transports[0].path: bad path "ws": want an HTTP path starting with "/"`, ErrBadPath},
		{"wrong type: mapping for list", "transports:\n  type: websocket\n",
			`config.yaml:2:3: transports: expected a list, got a mapping`, ErrType},
		{"wrong type: list for mapping", "log: [info]\n",
			`config.yaml:1:6: log: expected a mapping, got a list`, ErrType},
		{"wrong type: list for string", "transports:\n  - type: [websocket]\n",
			`config.yaml:2:11: transports[0].type: expected a string, got a list`, ErrType},
		{"wrong type: bool", "realms:\n  - name: realm1\n    strict_uris: \"yes\"\n",
			`config.yaml:3:18: realms[0].strict_uris: expected true or false, got a string`, ErrType},
		{"wrong type: document", "just a string\n",
			`config.yaml:1:1: expected a mapping, got a string`, ErrType},
		{"bad count", "limits:\n  outbound_queue:\n    messages: 1k\n",
			`config.yaml:3:15: limits.outbound_queue.messages: expected a whole number, got a string`, ErrBadNumber},
		{"negative count", "limits:\n  outbound_queue:\n    messages: -5\n",
			`config.yaml:3:15: limits.outbound_queue.messages: -5: must not be negative`, ErrBadNumber},
		{"bad log level", "log:\n  level: verbose\n",
			`config.yaml:2:10: log.level: unknown log level "verbose": want debug, info, warn or error`, ErrBadLogLevel},
		{"bad log format", "log:\n  format: xml\n",
			`config.yaml:2:11: log.format: unknown log format "xml": want text or json`, ErrBadLogFormat},
		{"bad policy", "limits:\n  outbound_queue:\n    slow_consumer: block\n",
			`config.yaml:3:20: limits.outbound_queue.slow_consumer: unknown slow-consumer policy "block": want drop or disconnect`, ErrBadPolicy},
		{"empty transports", "transports: []\n",
			`config.yaml:1:13: transports: no transports: give at least one, or drop the key for the defaults`, ErrNoTransports},
		{"null transports", "transports:\nrealms: [{name: a}]\n",
			`config.yaml:1:12: transports: no transports: give at least one, or drop the key for the defaults`, ErrNoTransports},
		{"empty realms", "realms: []\n",
			`config.yaml:1:9: realms: no realms: give at least one, or drop the key for the default realm1`, ErrNoRealms},
		{"tls files missing", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    tls:\n      cert: nope.crt\n      key: nope.key\n",
			`config.yaml:5:13: transports[0].tls.cert: cert file "nope.crt": no such file or directory` + "\n" +
				`config.yaml:6:12: transports[0].tls.key: key file "nope.key": no such file or directory`, ErrTLS},
		{"tls key missing", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    tls:\n      cert: config_test.go\n",
			`config.yaml:4:5: transports[0].tls.key: missing key file`, ErrTLS},
		{"tls on unix", "transports:\n  - type: rawsocket\n    listen: unix:/tmp/x.sock\n    tls: {cert: a, key: b}\n",
			`config.yaml:4:10: transports[0].tls: tls is not for unix sockets`, ErrNotAllowed},
		{"syntax", "transports:\n  - type: websocket\n   listen: x\n",
			`config.yaml:3:4: value is not allowed in this context`, ErrSyntax},
		{"duplicate key", "log:\n  level: info\n  level: debug\n",
			`config.yaml:3:3: mapping key "level" already defined at [2:3]`, ErrSyntax},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n",
			`config.yaml:3:1: more than one YAML document`, ErrSyntax},
		{"undefined alias", "realms:\n  - name: *nope\n",
			`config.yaml:2:11: realms[0].name: undefined alias "nope"`, ErrSyntax},
		{"custom tag", "realms:\n  - name: !env REALM\n",
			`config.yaml:2:11: realms[0].name: unsupported tag !env`, ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("config.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse = %+v, want error %q", c, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "config.yaml" || ce.Line == 0 {
				t.Errorf("errors.As(*Error) = %+v", ce)
			}
		})
	}
}

func TestParseReportsAll(t *testing.T) {
	_, err := Parse("c.yaml", []byte(`
realms:
  - name: a
  - name: a
transports:
  - {type: websocket, listen: "127.0.0.1:8080"}
  - {type: rawsocket, listen: "127.0.0.1:8080"}
log: {format: yaml}
`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %#v, want Errors", err)
	}
	want := []string{
		`c.yaml:4:11: realms[1].name: duplicate realm "a" (first at line 3)`,
		`c.yaml:7:31: transports[1].listen: duplicate listen address "127.0.0.1:8080" (first at line 6)`,
		`c.yaml:8:15: log.format: unknown log format "yaml": want text or json`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrDuplicateRealm) || !errors.Is(err, ErrDuplicateListen) || !errors.Is(err, ErrBadLogFormat) {
		t.Errorf("errors.Is misses a member of %v", err)
	}
}

// A Config built in Go has no file: its errors carry the key alone.
func TestValidateBuilt(t *testing.T) {
	c := Default()
	c.Transports = append(c.Transports, Transport{Type: "websocket", Listen: "localhost:8080"})
	c.Realms = append(c.Realms, Realm{Name: "realm1"})
	c.Limits.Queue.Messages = -1
	err := c.Validate()
	want := `transports[2].listen: listen address "localhost:8080" overlaps "127.0.0.1:8080" (first at transports[0].listen)` + "\n" +
		`realms[1].name: duplicate realm "realm1" (first at realms[0].name)` + "\n" +
		`limits.outbound_queue.messages: must not be negative`
	if got := errString(err); got != want {
		t.Errorf("Validate:\n%s\nwant:\n%s", got, want)
	}

	c = &Config{}
	if got, want := errString(c.Validate()), "transports: no transports\nrealms: no realms"; got != want {
		t.Errorf("Validate(empty) = %q, want %q", got, want)
	}
}

func TestListenClash(t *testing.T) {
	tests := []struct {
		a, b  string
		clash bool
	}{
		{"127.0.0.1:80", "127.0.0.1:80", true},
		{"127.0.0.1:80", "127.0.0.1:81", false},
		{"127.0.0.1:80", "127.0.0.2:80", false},
		{"127.0.0.1:0", "127.0.0.1:0", false},
		{":80", "10.0.0.1:80", true},
		{"0.0.0.0:80", "[::1]:80", true},
		{"localhost:80", "[::1]:80", true},
		{"localhost:80", "127.0.0.1:80", true},
		{"localhost:80", "10.0.0.1:80", false},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1:80", true},
		{"unix:/a", "unix:/a/", true},
		{"unix:/a", "unix:/b", false},
		{"unix:/a", "127.0.0.1:80", false},
	}
	for _, tt := range tests {
		c := Default()
		c.Transports = []Transport{{Type: RawSocket, Listen: tt.a}, {Type: RawSocket, Listen: tt.b}}
		c.SetDefaults()
		err := c.Validate()
		if got := errors.Is(err, ErrDuplicateListen); got != tt.clash {
			t.Errorf("%s vs %s: clash = %v (%v), want %v", tt.a, tt.b, got, err, tt.clash)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"64KiB", 64 << 10, false},
		{"64kib", 64 << 10, false},
		{"16 MiB", 16 << 20, false},
		{"1MB", 1000000, false},
		{"1KB", 1000, false},
		{"2GiB", 2 << 30, false},
		{"1gb", 1e9, false},
		{"10B", 10, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"1.5MiB", 0, true},
		{"-1", 0, true},
		{"16M", 0, true},
		{"16 MiB extra", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1: "1B", 1000: "1000B", 1024: "1KiB", 3 << 20: "3MiB", 1 << 30: "1GiB", 1536: "1536B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// writeKeyPair writes a self-signed certificate and its key into dir as
// name.crt and name.key.
func writeKeyPair(t *testing.T, dir, name string) {
	t.Helper()
	c := testutil.NewCert(t, testutil.CertSpec{CommonName: "localhost", Hosts: []string{"localhost"}})
	c.WriteCert(t, dir, name+".crt")
	c.WriteKey(t, dir, name+".key")
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, filepath.Join(dir, "certs"), "a")
	writeKeyPair(t, filepath.Join(dir, "certs"), "b")
	file := filepath.Join(dir, "config.yaml")

	// Paths relative to the config file, not to the working directory.
	src := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    tls:\n      cert: certs/a.crt\n      key: certs/a.key\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.Transports[0].TLS
	if tc.Cert != filepath.Join(dir, "certs", "a.crt") || tc.Config == nil ||
		tc.Config.MinVersion != tls.VersionTLS12 || len(tc.Config.Certificates) != 1 {
		t.Errorf("TLS = %+v", tc)
	}

	// A key that does not match its certificate.
	src = strings.Replace(src, "certs/a.key", "certs/b.key", 1)
	_, err = Parse(file, []byte(src))
	want := file + ":4:5: transports[0].tls: cannot load key pair: tls: private key does not match public key"
	if got := errString(err); got != want {
		t.Errorf("mismatched pair:\n got %s\nwant %s", got, want)
	}

	// A directory is no certificate.
	src = strings.Replace(src, "certs/a.crt", "certs", 1)
	_, err = Parse(file, []byte(src))
	want = file + ":5:13: transports[0].tls.cert: cert file \"" + filepath.Join(dir, "certs") + "\": not a regular file"
	if got := errString(err); got != want {
		t.Errorf("directory:\n got %s\nwant %s", got, want)
	}
}

func TestErrorFormat(t *testing.T) {
	sentinel := errors.New("boom")
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "c.yaml", Line: 3, Col: 5, Key: "a.b", Err: sentinel}, "c.yaml:3:5: a.b: boom"},
		{Error{File: "c.yaml", Line: 3, Err: sentinel}, "c.yaml:3: boom"},
		{Error{File: "c.yaml", Err: sentinel}, "c.yaml: boom"},
		{Error{Key: "a", Err: sentinel}, "a: boom"},
		{Error{Line: 2, Col: 1, Key: "a", Err: sentinel}, "2:1: a: boom"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(&tt.e, sentinel) {
			t.Errorf("Unwrap lost the sentinel")
		}
	}
}

func TestRealmOptions(t *testing.T) {
	good := `realms:
  - name: realm1
    disclose_publisher: always
    disclose_caller: never
    retained_topics: 5
    retained_bytes: 1MiB
    history:
      - topic: com.example.
        match: prefix
        limit: 10
      - topic: com.example.chat
        limit: 3
`
	c, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := c.Realms[0]
	if r.DisclosePublisher != DiscloseAlways || r.DiscloseCaller != DiscloseNever || r.RetainedTopics != 5 || r.RetainedBytes != 1<<20 {
		t.Errorf("realm options = %+v", r)
	}
	if len(r.History) != 2 || r.History[0] != (History{Topic: "com.example.", Match: "prefix", Limit: 10}) || r.History[1].Limit != 3 {
		t.Errorf("history = %+v", r.History)
	}
	bad := []struct{ yaml, want string }{
		{"realms:\n  - name: r\n    disclose_caller: sometimes\n", `bad.yaml:3:22: realms[0].disclose_caller: bad disclose_caller "sometimes"`},
		{"realms:\n  - name: r\n    history:\n      - topic: a..b\n        limit: 2\n", `bad.yaml:4:16: realms[0].history[0].topic: bad topic "a..b" for match exact`},
		{"realms:\n  - name: r\n    history:\n      - topic: a.b\n        limit: 0\n", `bad.yaml:5:16: realms[0].history[0].limit: limit must be a positive`},
		{"realms:\n  - name: r\n    history:\n      - topic: a.b\n        match: fuzzy\n        limit: 1\n", `bad.yaml:5:16: realms[0].history[0].match: bad match "fuzzy"`},
		{"realms:\n  - name: r\n    history:\n      - topik: a.b\n", `bad.yaml:4:9: realms[0].history[0]: unknown key "topik"`},
	}
	for _, b := range bad {
		_, err := Parse("bad.yaml", []byte(b.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), b.want) {
			t.Errorf("Parse(%q) = %v, want an error starting %q", b.yaml, err, b.want)
		}
	}
}
