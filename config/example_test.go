package config_test

import (
	"fmt"

	"github.com/switchboard/switchboard/config"
)

func ExampleParse() {
	cfg, err := config.Parse("config.yaml", []byte(`
transports:
  - type: websocket
    listen: 127.0.0.1:8080
realms:
  - name: com.example.app
    strict_uris: true
limits:
  outbound_queue:
    slow_consumer: disconnect
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	t := cfg.Transports[0]
	fmt.Println(t.Type, t.Listen, t.Path, t.Serializers, t.MaxMessageSize, t.PingInterval)
	fmt.Println(cfg.Realms[0].Name, cfg.Realms[0].StrictURIs)
	fmt.Println(cfg.Limits.Queue.SlowConsumer, cfg.Limits.Queue.Messages, cfg.Limits.Queue.Bytes)

	// Errors are placed in the file.
	_, err = config.Parse("config.yaml", []byte(`
realms:
  - name: realm1
  - name: realm1
`))
	fmt.Println(err)
	// Output:
	// websocket 127.0.0.1:8080 /ws [json msgpack cbor] 16777216 30s
	// com.example.app true
	// disconnect 1024 4194304
	// config.yaml:4:11: realms[1].name: duplicate realm "realm1" (first at line 3)
}
