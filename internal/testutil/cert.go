package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a test certificate and its private key.
type Cert struct {
	Leaf *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// CertSpec describes a certificate for NewCert. The zero value is a
// self-signed certificate for no host with CommonName "switchboard test",
// valid for any key usage.
type CertSpec struct {
	CommonName string
	// Hosts are IP addresses and DNS names the certificate is valid for.
	Hosts []string
	// Usage restricts the extended key usage; nil allows any, which Go's
	// verifier accepts for both ends of a connection.
	Usage []x509.ExtKeyUsage
	// CA makes a certificate that may sign others. A self-signed CA is
	// also its own root, which OpenSSL (nginx, nats-server) requires of a
	// self-signed server certificate.
	CA bool
	// Parent signs the certificate; nil makes it self-signed.
	Parent *Cert
}

// NewCert makes a certificate with a fresh P-256 key, valid from an hour
// ago (clock skew between test processes) for a day.
func NewCert(t testing.TB, spec CertSpec) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Random serials: TLS stacks may refuse two certificates of one
	// issuer with the same serial.
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	cn := spec.CommonName
	if cn == "" {
		cn = "switchboard test"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.Usage,
	}
	for _, h := range spec.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if spec.CA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	parent, signer := tmpl, key
	if spec.Parent != nil {
		parent, signer = spec.Parent.Leaf, spec.Parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Leaf: leaf, Key: key}
}

// NewCA makes a self-signed certificate authority named cn.
func NewCA(t testing.TB, cn string) *Cert {
	t.Helper()
	return NewCert(t, CertSpec{CommonName: cn, CA: true})
}

// Issue makes a certificate signed by c.
func (c *Cert) Issue(t testing.TB, spec CertSpec) *Cert {
	t.Helper()
	spec.Parent = c
	return NewCert(t, spec)
}

// TLS returns c as a certificate for tls.Config.Certificates.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw}, PrivateKey: c.Key, Leaf: c.Leaf}
}

// Pool returns a pool that trusts c.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// CertPEM returns the certificate PEM-encoded.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw})
}

// KeyPEM returns the private key PEM-encoded in SEC 1 form, which both
// Go's tls.LoadX509KeyPair and OpenSSL read.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// WriteCert writes the certificate as PEM to dir/name and returns the path.
func (c *Cert) WriteCert(t testing.TB, dir, name string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, name), c.CertPEM())
}

// WriteKey writes the private key as PEM to dir/name and returns the path.
func (c *Cert) WriteKey(t testing.TB, dir, name string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, name), c.KeyPEM(t))
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TLSConfigs returns a server config with a self-signed certificate for
// 127.0.0.1 and localhost, and a client config that trusts it.
func TLSConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	c := NewCert(t, CertSpec{Hosts: []string{"127.0.0.1", "localhost"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c.TLS()}}
	return server, &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.Pool()}
}
