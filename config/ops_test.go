package config

import (
	"errors"
	"strings"
	"testing"
)

func TestMetricsConfig(t *testing.T) {
	c, err := Parse("config.yaml", []byte("log:\n  debug_payloads: true\nmetrics:\n  enabled: false\n  listen: 127.0.0.1:9100\n  path: /prom\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Metrics{Disabled: true, Listen: "127.0.0.1:9100", Path: "/prom"}); c.Metrics != want || !c.Log.DebugPayloads {
		t.Errorf("metrics = %+v, debug_payloads %v", c.Metrics, c.Log.DebugPayloads)
	}
	if c.Metrics.MetricsPath() != "/prom" {
		t.Errorf("MetricsPath = %q", c.Metrics.MetricsPath())
	}
	d := Default()
	if d.Metrics.Disabled || d.Metrics.MetricsPath() != DefaultMetricsPath || d.Log.DebugPayloads {
		t.Errorf("defaults: %+v, debug_payloads %v", d.Metrics, d.Log.DebugPayloads)
	}
}

func TestMetricsConfigErrors(t *testing.T) {
	ws := "transports:\n  - {type: websocket, listen: \"127.0.0.1:8080\"}\n"
	tests := []struct {
		name, src, want string
		is              error
	}{
		{"unknown key", "metrics:\n  enable: true\n",
			`config.yaml:2:3: metrics: unknown key "enable" (did you mean "enabled"?)`, ErrUnknownKey},
		{"enabled not bool", "metrics:\n  enabled: yes please\n",
			`config.yaml:2:12: metrics.enabled: expected true or false, got a string`, ErrType},
		{"debug_payloads not bool", "log:\n  debug_payloads: 1\n",
			`config.yaml:2:19: log.debug_payloads: expected true or false, got an integer`, ErrType},
		{"relative path", "metrics:\n  path: metrics\n",
			`config.yaml:2:9: metrics.path: bad path "metrics": want an HTTP path starting with "/" (default /metrics)`, ErrBadPath},
		{"root path", "metrics:\n  path: /\n",
			`config.yaml:2:9: metrics.path: bad path "/": want an HTTP path starting with "/" (default /metrics)`, ErrBadPath},
		{"reserved path", "metrics:\n  path: /healthz\n",
			`config.yaml:2:9: metrics.path: path "/healthz" is reserved for the operations endpoints`, ErrBadPath},
		{"websocket path", ws + "metrics:\n  path: /ws\n",
			`config.yaml:4:9: metrics.path: metrics path "/ws" is the WebSocket path of transports[0]`, ErrBadPath},
		{"websocket on an ops path", "transports:\n  - {type: websocket, listen: \"127.0.0.1:8080\", path: /status}\n",
			`config.yaml:2:55: transports[0].path: path "/status" is reserved for the operations endpoints`, ErrBadPath},
		{"bad listen", "metrics:\n  listen: localhost\n",
			`config.yaml:2:11: metrics.listen: bad address "localhost": missing port in address (want host:port)`, ErrBadAddress},
		{"unix listen", "metrics:\n  listen: unix:/tmp/m.sock\n",
			`config.yaml:2:11: metrics.listen: metrics.listen takes host:port, not a unix socket`, ErrNotAllowed},
		{"listen clash", ws + "metrics:\n  listen: \":8080\"\n",
			`config.yaml:4:11: metrics.listen: listen address ":8080" clashes with transports[0] ("127.0.0.1:8080")`, ErrDuplicateListen},
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
