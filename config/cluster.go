package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"
)

// ErrCluster marks a bad cluster setting.
var ErrCluster = errors.New("bad cluster setting")

// Cluster defaults.
const (
	DefaultClusterName = "switchboard"
	// DefaultFailureTimeout is generous: it only bounds silent failures
	// (a node stopped, or cut off while its connections stay open); a node
	// that dies is known from NATS within a second whatever it is.
	DefaultFailureTimeout = 10 * time.Second
	// MinFailureTimeout keeps heartbeats (a quarter of the timeout) from
	// flooding NATS.
	MinFailureTimeout = 100 * time.Millisecond
	// MaxReplicas is the largest JetStream replica count (RAFT groups of
	// more than 5 only cost).
	MaxReplicas       = 5
	DefaultNATSListen = "127.0.0.1:4222"
	DefaultNATSRoutes = "127.0.0.1:6222"
)

// Cluster links this node to others over NATS (docs/cluster.md). A nil
// Config.Cluster is a node on its own, which never touches NATS.
type Cluster struct {
	// Name prefixes every NATS subject and names the embedded NATS
	// cluster, so that two Switchboard clusters may share one NATS. Zero
	// value: "switchboard". Letters, digits, '-' and '_' only.
	Name string
	// Node names this node in logs. Zero value: the host name.
	Node string
	// FailureTimeout is how long a node may stay silent before the others
	// take it for dead. Nodes heartbeat four times per timeout. Zero
	// value: 3s.
	FailureTimeout time.Duration
	// Replicas is the number of copies JetStream keeps of the cluster's
	// state (registrations, retained events); a write needs a majority of
	// them. Zero value: in embedded mode min(3, nodes), nodes counted as
	// this one and its routes; with an external NATS, 3 when it is a
	// cluster and 1 when it is a single server.
	Replicas int
	// DataDir is where the embedded NATS server keeps JetStream's files
	// (its RAFT logs, and the state when Storage is "file"). Zero value: a
	// temporary directory removed at stop. Unused with an external NATS.
	DataDir string
	// Storage is "file" (the state survives a restart of every node) or
	// "memory". Zero value: "file" when DataDir is set or the NATS is
	// external, "memory" otherwise.
	Storage string
	// Exactly one of Embedded and NATS is set.
	Embedded *EmbeddedNATS
	NATS     *ExternalNATS
}

// EmbeddedNATS runs a NATS server inside the node, routed to its peers.
type EmbeddedNATS struct {
	// Listen is the client address of the embedded server (host:port, port
	// 0 for a random one). Zero value: 127.0.0.1:4222.
	Listen string
	// ClusterListen is where the server takes routes from its peers. Zero
	// value: 127.0.0.1:6222.
	ClusterListen string
	// Routes are the peers' cluster addresses (nats://host:port). A node
	// needs a route to at least one peer; NATS gossips the rest.
	Routes []string
	// Advertise is the host:port the peers reach ClusterListen at, where
	// that differs from ClusterListen (NAT, containers, a proxy): NATS
	// gossips it to the peers that have no route of their own to this
	// node. Zero value: ClusterListen's address.
	Advertise string
}

// ExternalNATS is an existing NATS deployment.
type ExternalNATS struct {
	URLs []string
	// Credentials is a NATS .creds file (JWT and NKey seed).
	Credentials string
	// User and Password, or Token, authenticate without a creds file.
	User, Password string
	Token          string
	// TLS, when set, verifies the servers against CA and presents Cert
	// and Key (both or neither).
	TLS *NATSTLS
}

// NATSTLS is the client TLS of an external NATS connection.
type NATSTLS struct {
	CA, Cert, Key string
}

var (
	clusterKeys  = []string{"name", "node", "failure_timeout", "replicas", "data_dir", "storage", "embedded", "nats"}
	embeddedKeys = []string{"listen", "cluster_listen", "routes", "advertise"}
	natsKeys     = []string{"urls", "credentials", "user", "password", "token", "tls"}
	natsTLSKeys  = []string{"ca", "cert", "key"}
)

func (d *decoder) cluster(me entry) *Cluster {
	c := &Cluster{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "name":
			c.Name, _ = d.str(e.val, e.path)
		case "node":
			c.Node, _ = d.str(e.val, e.path)
		case "failure_timeout":
			c.FailureTimeout = d.duration(e.val, e.path)
		case "replicas":
			c.Replicas = d.integer(e.val, e.path)
		case "data_dir":
			c.DataDir, _ = d.str(e.val, e.path)
			c.DataDir = d.localPath(c.DataDir)
		case "storage":
			c.Storage, _ = d.str(e.val, e.path)
		case "embedded":
			c.Embedded = &EmbeddedNATS{}
			ees, _ := d.mapping(e.val, e.path)
			for _, ee := range ees {
				switch ee.name {
				case "listen":
					c.Embedded.Listen, _ = d.str(ee.val, ee.path)
				case "cluster_listen":
					c.Embedded.ClusterListen, _ = d.str(ee.val, ee.path)
				case "routes":
					c.Embedded.Routes = d.strings(ee)
				case "advertise":
					c.Embedded.Advertise, _ = d.str(ee.val, ee.path)
				default:
					d.unknown(ee, e.path, embeddedKeys)
				}
			}
		case "nats":
			c.NATS = d.externalNATS(e)
		default:
			d.unknown(e, me.path, clusterKeys)
		}
	}
	return c
}

func (d *decoder) externalNATS(me entry) *ExternalNATS {
	n := &ExternalNATS{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "urls":
			n.URLs = d.strings(e)
		case "credentials":
			n.Credentials, _ = d.str(e.val, e.path)
			n.Credentials = d.localPath(n.Credentials)
		case "user":
			n.User, _ = d.str(e.val, e.path)
		case "password":
			n.Password, _ = d.str(e.val, e.path)
		case "token":
			n.Token, _ = d.str(e.val, e.path)
		case "tls":
			n.TLS = &NATSTLS{}
			tes, _ := d.mapping(e.val, e.path)
			for _, te := range tes {
				s, _ := d.str(te.val, te.path)
				switch te.name {
				case "ca":
					n.TLS.CA = d.localPath(s)
				case "cert":
					n.TLS.Cert = d.localPath(s)
				case "key":
					n.TLS.Key = d.localPath(s)
				default:
					d.unknown(te, e.path, natsTLSKeys)
				}
			}
		default:
			d.unknown(e, me.path, natsKeys)
		}
	}
	return n
}

// setDefaults fills the zero values documented on Cluster.
func (c *Cluster) setDefaults() {
	if c.Name == "" {
		c.Name = DefaultClusterName
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	if c.FailureTimeout == 0 {
		c.FailureTimeout = DefaultFailureTimeout
	}
	if c.Storage == "" {
		c.Storage = "memory"
		if c.DataDir != "" || c.NATS != nil {
			c.Storage = "file"
		}
	}
	if e := c.Embedded; e != nil {
		if e.Listen == "" {
			e.Listen = DefaultNATSListen
		}
		if e.ClusterListen == "" {
			e.ClusterListen = DefaultNATSRoutes
		}
	}
}

func validToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func (v *validator) cluster() {
	c := v.c.Cluster
	if c == nil {
		return
	}
	if c.Name != "" && !validToken(c.Name) {
		v.failf("cluster.name", ErrCluster, "bad cluster name %q: letters, digits, '-' and '_' only (it becomes a NATS subject token)", c.Name)
	}
	if c.FailureTimeout != 0 && c.FailureTimeout < MinFailureTimeout {
		v.failf("cluster.failure_timeout", ErrCluster, "failure_timeout %v is too short (at least %v)", c.FailureTimeout, MinFailureTimeout)
	}
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		v.failf("cluster.replicas", ErrCluster, "replicas %d out of range: 1 to %d (0 for the default)", c.Replicas, MaxReplicas)
	}
	if c.Storage != "" && c.Storage != "file" && c.Storage != "memory" {
		v.failf("cluster.storage", ErrCluster, "storage %q: want file or memory", c.Storage)
	}
	if c.DataDir != "" && c.NATS != nil {
		v.failf("cluster.data_dir", ErrCluster, "data_dir is for the embedded NATS server; an external NATS keeps JetStream's files itself")
	}
	switch {
	case c.Embedded == nil && c.NATS == nil:
		v.failf("cluster", ErrCluster, "give either embedded (a NATS server in this node) or nats (an external NATS)")
	case c.Embedded != nil && c.NATS != nil:
		v.failf("cluster.nats", ErrCluster, "embedded and nats exclude each other")
	case c.Embedded != nil:
		e := c.Embedded
		v.hostPort("cluster.embedded.listen", e.Listen)
		v.hostPort("cluster.embedded.cluster_listen", e.ClusterListen)
		v.hostPort("cluster.embedded.advertise", e.Advertise)
		for i, r := range e.Routes {
			v.natsURL(fmt.Sprintf("cluster.embedded.routes[%d]", i), r)
		}
	default:
		n := c.NATS
		if len(n.URLs) == 0 {
			v.failf("cluster.nats.urls", ErrCluster, "no NATS server URLs")
		}
		for i, u := range n.URLs {
			v.natsURL(fmt.Sprintf("cluster.nats.urls[%d]", i), u)
		}
		auths := 0
		for _, set := range []bool{n.Credentials != "", n.User != "" || n.Password != "", n.Token != ""} {
			if set {
				auths++
			}
		}
		if auths > 1 {
			v.failf("cluster.nats", ErrCluster, "credentials, user/password and token exclude each other")
		}
		if (n.User == "") != (n.Password == "") {
			v.failf("cluster.nats.user", ErrCluster, "user and password go together")
		}
		v.readable("cluster.nats.credentials", n.Credentials)
		if t := n.TLS; t != nil {
			if (t.Cert == "") != (t.Key == "") {
				v.failf("cluster.nats.tls", ErrCluster, "cert and key go together")
			}
			v.readable("cluster.nats.tls.ca", t.CA)
			v.readable("cluster.nats.tls.cert", t.Cert)
			v.readable("cluster.nats.tls.key", t.Key)
		}
	}
}

func (v *validator) hostPort(path, s string) {
	if s == "" {
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		var p int
		p, err = strconv.Atoi(port)
		if err == nil && (p < 0 || p > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil || host == "" {
		v.failf(path, ErrBadAddress, "bad address %q: want host:port", s)
	}
}

func (v *validator) natsURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
		v.failf(path, ErrBadAddress, "bad NATS URL %q: want nats://host:port or tls://host:port", s)
	}
}

func (v *validator) readable(path, file string) {
	if file == "" {
		return
	}
	if _, err := os.Stat(file); err != nil {
		v.failf(path, ErrCluster, "cannot read %s: %v", file, errors.Unwrap(err))
	}
}
