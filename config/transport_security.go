package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/auth"
)

// Validation of the transport security settings: allowed_origins,
// max_connections_per_address, auth_methods and the client certificates
// of tls.

// originPattern is what allowed_origins takes besides "*": a scheme, "://",
// a host (with "*" for any characters, an IPv6 address in brackets), and an
// optional port (digits or "*"). No path.
var originPattern = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://(\[[0-9a-f:.*]+\]|[a-z0-9*._~%-]+)(:([0-9]+|\*))?$`)

func (v *validator) transportSecurity(t *Transport, path string) {
	if t.AllowedOrigins != nil && t.Type != WebSocket {
		v.failf(path+".allowed_origins", ErrNotAllowed, "allowed_origins is for websocket transports only")
	}
	if t.AllowedOrigins != nil && len(t.AllowedOrigins) == 0 {
		v.failf(path+".allowed_origins", ErrOrigin, "no origins: give \"*\" to allow every origin, or drop the key for localhost only")
	}
	for i, o := range t.AllowedOrigins {
		if o != "*" && !originPattern.MatchString(strings.ToLower(o)) {
			v.failf(fmt.Sprintf("%s.allowed_origins[%d]", path, i), ErrOrigin,
				"bad origin %q: want \"*\" or scheme://host[:port], such as https://app.example.com or http://localhost:*", o)
		}
	}
	if t.MaxConnectionsPerAddress < 0 {
		v.failf(path+".max_connections_per_address", ErrBadNumber, "must not be negative (0: no bound)")
	}
	if t.AuthMethods != nil && len(t.AuthMethods) == 0 {
		v.failf(path+".auth_methods", ErrAuth, "no methods: drop the key to allow every method")
	}
	for i, m := range t.AuthMethods {
		mp := fmt.Sprintf("%s.auth_methods[%d]", path, i)
		switch {
		case !slices.Contains(auth.Methods, m):
			v.failf(mp, ErrAuth, "unknown method %q: want one of %s", m, strings.Join(auth.Methods, ", "))
		case m == auth.MethodTLS && (t.TLS == nil || t.TLS.ClientCA == ""):
			v.failf(mp, ErrAuth, "tls needs client certificates: set tls.client_ca")
		}
	}
}

// clientCA loads TLS.ClientCA into cfg and checks ClientAuth. It reports
// whether all is well.
func (v *validator) clientCA(t *TLS, path string, cfg *tls.Config) bool {
	switch t.ClientAuth {
	case "", ClientAuthOptional, ClientAuthRequired:
	default:
		v.failf(path+".client_auth", ErrTLS, "bad client_auth %q: want optional or required", t.ClientAuth)
		return false
	}
	if t.ClientCA == "" {
		if t.ClientAuth != "" {
			v.failf(path+".client_auth", ErrTLS, "client_auth needs client_ca")
			return false
		}
		return true
	}
	if err := regularFile(t.ClientCA); err != nil {
		v.failf(path+".client_ca", ErrTLS, "client_ca file %q: %v", t.ClientCA, err)
		return false
	}
	pem, err := os.ReadFile(t.ClientCA)
	if err != nil {
		v.failf(path+".client_ca", ErrTLS, "client_ca file %q: %v", t.ClientCA, err)
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		v.failf(path+".client_ca", ErrTLS, "client_ca file %q holds no PEM certificate", t.ClientCA)
		return false
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if t.ClientAuth == ClientAuthRequired {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return true
}
