package transport

import (
	"net/url"
	"strings"
)

// DefaultAllowedOrigins are the web origins allowed when Config gives none:
// pages served from this machine, on any port.
var DefaultAllowedOrigins = []string{
	"http://localhost:*", "https://localhost:*",
	"http://127.0.0.1:*", "https://127.0.0.1:*",
	"http://[::1]:*", "https://[::1]:*",
}

// originPolicy decides which browser pages may open a WebSocket: the
// defence against cross-site WebSocket hijacking, where a page of another
// site uses the visitor's browser (and its cookies or network position) to
// reach the router.
type originPolicy struct {
	any  bool
	pats []originPattern
}

// originPattern is one "scheme://host[:port]" pattern; host may hold "*"
// (any characters), port is "" (none given), "*" (any or none) or digits.
type originPattern struct {
	scheme, host, port string
}

// compileOrigins parses patterns. A pattern it cannot read matches nothing;
// config validation reports those.
func compileOrigins(patterns []string) originPolicy {
	if patterns == nil {
		patterns = DefaultAllowedOrigins
	}
	var p originPolicy
	for _, s := range patterns {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "*" {
			p.any = true
			continue
		}
		scheme, hostport, ok := strings.Cut(s, "://")
		if !ok || scheme == "" || hostport == "" {
			continue
		}
		host, port := hostport, ""
		if strings.HasPrefix(host, "[") {
			end := strings.IndexByte(host, ']')
			if end < 0 {
				continue
			}
			host, port = hostport[1:end], strings.TrimPrefix(hostport[end+1:], ":")
		} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host, port = hostport[:i], hostport[i+1:]
		}
		p.pats = append(p.pats, originPattern{scheme, host, port})
	}
	return p
}

// allows reports whether a handshake with these Origin header values may
// proceed. A request without Origin comes from no browser (browsers always
// send it on WebSocket handshakes), so it cannot be a cross-site request
// and is allowed.
func (p originPolicy) allows(values []string) bool {
	if len(values) == 0 || p.any {
		return true
	}
	if len(values) != 1 {
		return false
	}
	u, err := url.Parse(strings.ToLower(values[0]))
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.User != nil {
		return false // "null" (sandboxed pages, file://) among them
	}
	host, port := u.Hostname(), u.Port()
	for _, pat := range p.pats {
		if pat.scheme != u.Scheme || !glob(pat.host, host) {
			continue
		}
		if pat.port == "*" || pat.port == port {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where "*" stands for any run of
// characters.
func glob(pattern, s string) bool {
	star, next := -1, 0 // last "*" in pattern, and where in s it resumes
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && pattern[i] == '*':
			star, next = i, j
			i++
		case i < len(pattern) && pattern[i] == s[j]:
			i++
			j++
		case star >= 0:
			i, next = star+1, next+1
			j = next
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}
