package config

import (
	"fmt"
	"strings"
)

// DefaultConsolePath is where the admin console is served when
// console.path is not set.
const DefaultConsolePath = "/console"

// Console configures the admin console (docs/console.md): a live web page
// of the node's sessions, rates, cluster and config, with actions to kill
// a session and reload the config. It is served on the operations address
// (metrics.listen, or the websocket listeners when that is not set) and
// only to its users.
type Console struct {
	// Path is where the page is served; its data and actions live under
	// it. Zero value: DefaultConsolePath.
	Path string
	// Users may log in; there is at least one, as the console is never
	// served without a credential.
	Users []ConsoleUser
}

// ConsoleUser is one login of the console.
type ConsoleUser struct {
	// Name is the login name; HTTP Basic authentication forbids a colon
	// in it.
	Name string
	// Password is checked as ticket secrets are: plain, a bcrypt or
	// argon2id hash, or read from an environment variable or file.
	Password *Secret
}

// ConsolePath returns the console's path with its default.
func (c *Console) ConsolePath() string {
	if c.Path == "" {
		return DefaultConsolePath
	}
	return c.Path
}

var (
	consoleKeys     = []string{"path", "users"}
	consoleUserKeys = []string{"name", "password"}
)

func (d *decoder) console(me entry) *Console {
	c := &Console{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "path":
			c.Path, _ = d.str(e.val, e.path)
		case "users":
			c.Users = records(d, e, func(u *ConsoleUser, e entry, path string) {
				switch e.name {
				case "name":
					u.Name, _ = d.str(e.val, e.path)
				case "password":
					u.Password = d.secret(e)
				default:
					d.unknown(e, path, consoleUserKeys)
				}
			})
		default:
			d.unknown(e, me.path, consoleKeys)
		}
	}
	return c
}

func (v *validator) console() {
	c := v.c.Console
	if c == nil {
		return
	}
	p := c.ConsolePath()
	switch {
	case !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#* \t\r\n{}"):
		v.failf("console.path", ErrBadPath, "bad path %q: want an HTTP path such as %s (no trailing \"/\")", p, DefaultConsolePath)
	case p == v.c.Metrics.MetricsPath():
		v.failf("console.path", ErrBadPath, "console path %q is the metrics path", p)
	default:
		for _, o := range opsPaths {
			if p == o {
				v.failf("console.path", ErrBadPath, "path %q is reserved for the operations endpoints", p)
			}
		}
		// Without metrics.listen the console shares the websocket
		// listeners' mux, where one path cannot serve two things.
		for i := range v.c.Transports {
			t := &v.c.Transports[i]
			if t.Type != WebSocket || v.c.Metrics.Listen != "" {
				continue
			}
			if t.Path == p || strings.HasPrefix(t.Path, p+"/") {
				v.failf("console.path", ErrBadPath, "console path %q clashes with the WebSocket path %q of transports[%d]", p, t.Path, i)
			}
			if t.LongPollEnabled() && (t.LongPoll.Path == p || strings.HasPrefix(t.LongPoll.Path, p+"/")) {
				v.failf("console.path", ErrBadPath, "console path %q clashes with the long-poll path %q of transports[%d]", p, t.LongPoll.Path, i)
			}
		}
	}
	if len(c.Users) == 0 {
		v.failf("console.users", ErrMissing, "missing users: the console is never served without a credential; give at least one {name, password}")
	}
	names := map[string]string{}
	for i := range c.Users {
		u := &c.Users[i]
		up := fmt.Sprintf("console.users[%d]", i)
		switch {
		case u.Name == "":
			v.failf(up+".name", ErrMissing, "missing name")
		case strings.ContainsAny(u.Name, ":\r\n"):
			v.failf(up+".name", ErrAuth, "bad name %q: no colon or line break (HTTP Basic authentication cannot carry them)", u.Name)
		case names[u.Name] != "":
			v.failf(up+".name", ErrAuth, "user %q is listed twice (%s)", u.Name, v.first(names[u.Name]))
		default:
			names[u.Name] = up + ".name"
		}
		if u.Password == nil {
			v.failf(up+".password", ErrMissing, "missing password: plain, {bcrypt: ...}, {argon2id: ...}, {env: VAR} or {file: path}")
			continue
		}
		v.secret(up+".password", u.Password, true)
	}
}
