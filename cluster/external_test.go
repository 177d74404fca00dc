package cluster_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files in a temp dir.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCA signed none of them.
	OtherCA string
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testutil.NewCA(t, "switchboard test CA")
	leaf := func(name string, usage x509.ExtKeyUsage) (string, string) {
		c := ca.Issue(t, testutil.CertSpec{CommonName: name, Hosts: []string{"127.0.0.1"}, Usage: []x509.ExtKeyUsage{usage}})
		return c.WriteCert(t, dir, name+".pem"), c.WriteKey(t, dir, name+"-key.pem")
	}
	p := testPKI{
		CA:      ca.WriteCert(t, dir, "ca.pem"),
		OtherCA: testutil.NewCA(t, "another CA").WriteCert(t, dir, "other-ca.pem"),
	}
	p.ServerCert, p.ServerKey = leaf("server", x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = leaf("client", x509.ExtKeyUsageClientAuth)
	return p
}

// startNATSServer runs the nats-server binary with args on a random port
// of 127.0.0.1 and returns its client URL.
func startNATSServer(t *testing.T, args ...string) string {
	t.Helper()
	bin := natsServerBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, "-js", "-sd", filepath.Join(dir, "js")}, args...)...)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// nats-server writes the ports it listens on once it is ready.
	ports := filepath.Join(dir, fmt.Sprintf("nats-server_%d.ports", cmd.Process.Pid))
	var info struct{ Nats []string }
	testutil.Eventually(t, bound, func() bool {
		b, err := os.ReadFile(ports)
		return err == nil && json.Unmarshal(b, &info) == nil && len(info.Nats) > 0
	}, "nats-server ports file")
	u, err := url.Parse(info.Nats[0])
	if err != nil {
		t.Fatalf("nats-server url %q: %v", info.Nats[0], err)
	}
	return "nats://" + u.Host
}

// startErr is the error of starting a node configured by auth on url.
func startErr(t *testing.T, url string, auth func(*config.ExternalNATS)) error {
	t.Helper()
	cfg := routertest.Config()
	cfg.Cluster = &config.Cluster{Name: "ext", NATS: &config.ExternalNATS{URLs: []string{url}}}
	if auth != nil {
		auth(cfg.Cluster.NATS)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	r, err := router.New(cfg, router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start()
	if err == nil {
		_ = r.Shutdown(context.Background())
	}
	return err
}

// crossEvent checks that an event published on rs[0] reaches a
// subscriber on rs[1].
func crossEvent(t *testing.T, rs []*router.Router) {
	t.Helper()
	waitMesh(t, rs)
	sub := connect(t, rs[1])
	events := make(chan *nwamp.Event, 1)
	must(t, sub.Subscribe("com.ext.secure", func(ev *nwamp.Event) { events <- ev }, nil))
	waitSubscribers(t, rs, "com.ext.secure", "exact", 1)
	pub := connect(t, rs[0])
	must(t, pub.Publish("com.ext.secure", nil, nwamp.List{"crossed"}, nil))
	select {
	case ev := <-events:
		if ev.Arguments[0] != "crossed" {
			t.Fatalf("event %v", ev.Arguments)
		}
	case <-time.After(bound):
		t.Fatal("no event through the external NATS")
	}
	_, err := pub.Call(context.Background(), "wamp.session.count", nil, nil, nil, nil)
	must(t, err)
}

// TestExternalNATSTLSUserPassword runs two nodes through a nats-server
// process that requires TLS with client certificates and a user and
// password; a wrong password, a missing client certificate and an
// untrusted server certificate each fail the start with a clear error.
func TestExternalNATSTLSUserPassword(t *testing.T) {
	pki := newPKI(t)
	url := startNATSServer(t, "--tls", "--tlscert", pki.ServerCert, "--tlskey", pki.ServerKey,
		"--tlsverify", "--tlscacert", pki.CA, "--user", "sb", "--pass", "s3cret")
	good := func(n *config.ExternalNATS) {
		n.User, n.Password = "sb", "s3cret"
		n.TLS = &config.NATSTLS{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}
	}
	crossEvent(t, []*router.Router{
		externalNode(t, "a", url, 3*time.Second, good),
		externalNode(t, "b", url, 3*time.Second, good),
	})

	for _, c := range []struct {
		name string
		auth func(*config.ExternalNATS)
		want string
	}{
		{"wrong password", func(n *config.ExternalNATS) { good(n); n.Password = "wrong" }, "authorization violation"},
		{"no client certificate", func(n *config.ExternalNATS) { good(n); n.TLS.Cert, n.TLS.Key = "", "" }, "tls"},
		{"untrusted server", func(n *config.ExternalNATS) { good(n); n.TLS.CA = pki.OtherCA }, "certificate"},
	} {
		err := startErr(t, url, c.auth)
		t.Logf("%s: %v", c.name, err)
		if err == nil || !strings.Contains(err.Error(), "cluster: connect to NATS") || !strings.Contains(strings.ToLower(err.Error()), c.want) {
			t.Errorf("%s: start error %v, want a cluster connect error about %q", c.name, err, c.want)
		}
	}
}

// operatorCreds sets up NATS decentralized auth: an operator, an account
// and a user signed by it, a nats-server config that trusts the operator
// and preloads the account, and the user's .creds file. It returns the
// config path and the creds path; other is the creds of a user of an
// account the server does not know.
func operatorCreds(t *testing.T) (conf, creds, other string) {
	t.Helper()
	dir := t.TempDir()
	fail := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	opKP, err := nkeys.CreateOperator()
	fail(err)
	opPub, err := opKP.PublicKey()
	fail(err)
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(opKP)
	fail(err)
	account := func(js bool) (nkeys.KeyPair, string, string) {
		kp, err := nkeys.CreateAccount()
		fail(err)
		pub, err := kp.PublicKey()
		fail(err)
		claims := jwt.NewAccountClaims(pub)
		if js {
			// The cluster keeps its state in JetStream: the account needs it.
			claims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		j, err := claims.Encode(opKP)
		fail(err)
		return kp, pub, j
	}
	userCreds := func(accKP nkeys.KeyPair, name string) string {
		kp, err := nkeys.CreateUser()
		fail(err)
		pub, err := kp.PublicKey()
		fail(err)
		j, err := jwt.NewUserClaims(pub).Encode(accKP)
		fail(err)
		seed, err := kp.Seed()
		fail(err)
		b, err := jwt.FormatUserConfig(j, seed)
		fail(err)
		p := filepath.Join(dir, name)
		fail(os.WriteFile(p, b, 0o600))
		return p
	}
	accKP, accPub, accJWT := account(true)
	strangerKP, _, _ := account(true)
	// JetStream in operator mode needs a system account.
	_, sysPub, sysJWT := account(false)
	conf = filepath.Join(dir, "nats.conf")
	fail(os.WriteFile(conf, fmt.Appendf(nil, "operator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
		opJWT, sysPub, accPub, accJWT, sysPub, sysJWT), 0o600))
	return conf, userCreds(accKP, "user.creds"), userCreds(strangerKP, "stranger.creds")
}

// TestExternalNATSCredsFile runs two nodes through a nats-server process
// in operator (JWT) mode, authenticated by a .creds file; creds of an
// account the server does not trust fail the start.
func TestExternalNATSCredsFile(t *testing.T) {
	conf, creds, stranger := operatorCreds(t)
	url := startNATSServer(t, "-c", conf)
	auth := func(n *config.ExternalNATS) { n.Credentials = creds }
	crossEvent(t, []*router.Router{
		externalNode(t, "a", url, 3*time.Second, auth),
		externalNode(t, "b", url, 3*time.Second, auth),
	})
	err := startErr(t, url, func(n *config.ExternalNATS) { n.Credentials = stranger })
	t.Logf("stranger: %v", err)
	if err == nil || !strings.Contains(err.Error(), "cluster: connect to NATS") || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("start with the creds of an unknown account: %v, want a cluster connect error about authorization", err)
	}
}

// syncBuf collects a process's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
