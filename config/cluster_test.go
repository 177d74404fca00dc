package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClusterParse(t *testing.T) {
	c, err := Parse("config.yaml", []byte(`cluster:
  name: prod
  node: n1
  failure_timeout: 2s
  embedded:
    listen: 127.0.0.1:4223
    cluster_listen: 127.0.0.1:6223
    routes: [nats://127.0.0.1:6224, nats://127.0.0.1:6225]
    advertise: node1.example.com:16223
`))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if cl == nil || cl.Name != "prod" || cl.Node != "n1" || cl.FailureTimeout != 2*time.Second ||
		cl.Embedded == nil || cl.Embedded.Listen != "127.0.0.1:4223" || len(cl.Embedded.Routes) != 2 ||
		cl.Embedded.Advertise != "node1.example.com:16223" {
		t.Fatalf("cluster = %+v", cl)
	}

	c, err = Parse("config.yaml", []byte("cluster:\n  embedded: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cl := c.Cluster; cl.Name != DefaultClusterName || cl.FailureTimeout != DefaultFailureTimeout ||
		cl.Embedded.Listen != DefaultNATSListen || cl.Embedded.ClusterListen != DefaultNATSRoutes || cl.Node == "" {
		t.Fatalf("defaults = %+v %+v", cl, cl.Embedded)
	}

	creds := filepath.Join(t.TempDir(), "n.creds")
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Parse("config.yaml", []byte("cluster:\n  nats:\n    urls: [nats://10.0.0.1:4222, tls://10.0.0.2:4222]\n    credentials: "+creds+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Cluster.NATS; n == nil || len(n.URLs) != 2 || n.Credentials != creds {
		t.Fatalf("nats = %+v", n)
	}

	if c, err := Parse("config.yaml", []byte("log: {level: info}\n")); err != nil || c.Cluster != nil {
		t.Fatalf("no cluster key: %+v %v", c, err)
	}
}

func TestClusterErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		is              error
	}{
		{"neither", "cluster:\n  name: a\n",
			`config.yaml:1:1: cluster: give either embedded (a NATS server in this node) or nats (an external NATS)`, ErrCluster},
		{"both", "cluster:\n  embedded: {}\n  nats:\n    urls: [nats://a:1]\n",
			`config.yaml:3:3: cluster.nats: embedded and nats exclude each other`, ErrCluster},
		{"unknown key", "cluster:\n  embeded: {}\n",
			`config.yaml:2:3: cluster: unknown key "embeded" (did you mean "embedded"?)`, ErrUnknownKey},
		{"bad name", "cluster:\n  name: a.b\n  embedded: {}\n",
			`config.yaml:2:9: cluster.name: bad cluster name "a.b": letters, digits, '-' and '_' only (it becomes a NATS subject token)`, ErrCluster},
		{"short timeout", "cluster:\n  failure_timeout: 10ms\n  embedded: {}\n",
			`config.yaml:2:20: cluster.failure_timeout: failure_timeout 10ms is too short (at least 100ms)`, ErrCluster},
		{"bad duration", "cluster:\n  failure_timeout: soon\n  embedded: {}\n",
			`config.yaml:2:20: cluster.failure_timeout: bad duration "soon": want a Go duration such as "30s" or "1m30s"`, ErrBadDuration},
		{"bad listen", "cluster:\n  embedded:\n    listen: nowhere\n",
			`config.yaml:3:13: cluster.embedded.listen: bad address "nowhere": want host:port`, ErrBadAddress},
		{"bad advertise", "cluster:\n  embedded:\n    advertise: nats://a:1\n",
			`config.yaml:3:16: cluster.embedded.advertise: bad address "nats://a:1": want host:port`, ErrBadAddress},
		{"bad route", "cluster:\n  embedded:\n    routes: [\"http://a:1\"]\n",
			`config.yaml:3:14: cluster.embedded.routes[0]: bad NATS URL "http://a:1": want nats://host:port or tls://host:port`, ErrBadAddress},
		{"no urls", "cluster:\n  nats:\n    token: x\n",
			`config.yaml:2:3: cluster.nats.urls: no NATS server URLs`, ErrCluster},
		{"user without password", "cluster:\n  nats:\n    urls: [nats://a:1]\n    user: u\n",
			`config.yaml:4:11: cluster.nats.user: user and password go together`, ErrCluster},
		{"two auths", "cluster:\n  nats:\n    urls: [nats://a:1]\n    token: t\n    user: u\n    password: p\n",
			`config.yaml:2:3: cluster.nats: credentials, user/password and token exclude each other`, ErrCluster},
		{"missing creds", "cluster:\n  nats:\n    urls: [nats://a:1]\n    credentials: /nonexistent/x.creds\n",
			`config.yaml:4:18: cluster.nats.credentials: cannot read /nonexistent/x.creds: no such file or directory`, ErrCluster},
		{"cert without key", "cluster:\n  nats:\n    urls: [nats://a:1]\n    tls: {cert: /etc/hostname}\n",
			`config.yaml:4:10: cluster.nats.tls: cert and key go together`, ErrCluster},
		{"unknown tls key", "cluster:\n  nats:\n    urls: [nats://a:1]\n    tls: {cafile: x}\n",
			`config.yaml:4:11: cluster.nats.tls: unknown key "cafile"`, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}
