package router_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/console"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router/routertest"
)

const consoleConfig = opsConfig + `
console:
  users:
    - {name: admin, password: console-pw}
`

// consoleDo sends one request to the console with the admin's HTTP Basic
// credentials (none when pw is ""), and the CSRF header on POST.
func consoleDo(t *testing.T, method, url, pw, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if pw != "" {
		req.SetBasicAuth("admin", pw)
	}
	if method == http.MethodPost {
		req.Header.Set(console.CSRFHeader, "1")
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func consoleData(t *testing.T, base string) console.Data {
	t.Helper()
	code, body := consoleDo(t, http.MethodGet, base+"/console/api/state", "console-pw", "")
	if code != http.StatusOK {
		t.Fatalf("api/state: %d %s", code, body)
	}
	var d console.Data
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func findSession(d console.Data, realm, authid string) (console.Session, bool) {
	for _, r := range d.Realms {
		for _, s := range r.Sessions {
			if r.Name == realm && s.AuthID == authid {
				return s, true
			}
		}
	}
	return console.Session{}, false
}

// TestConsoleAbsent: without console: in the config nothing answers at
// its path.
func TestConsoleAbsent(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, opsConfig))
	for _, p := range []string{"/console", "/console/", "/console/login", "/console/api/state"} {
		if code, _, body := get(t, httpBase(r)+p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404", p, code, body)
		}
	}
	if r.Console() != nil {
		t.Error("router has a console")
	}
}

// TestConsole drives the console's data and actions against a real
// router: a session of a client appears with its details, the data
// endpoint refuses requests without a credential, killing the session
// ends the client's, and a reload applies the file.
func TestConsole(t *testing.T) {
	cfg := parseConfig(t, consoleConfig)
	r := routertest.Run(t, cfg)
	base := httpBase(r)

	if code, body := consoleDo(t, http.MethodGet, base+"/console/api/state", "", ""); code != http.StatusUnauthorized || strings.Contains(body, "realm1") {
		t.Errorf("api/state without credential: %d %s", code, body)
	}
	if code, _ := consoleDo(t, http.MethodGet, base+"/console/api/state", "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("api/state with a wrong password: %d", code)
	}

	c := mustDial(t, r.URL("websocket"), "secure", serialize.JSON, ticket("alice", "alice-ticket"))
	if err := c.Subscribe("com.example.topic", func(*nexuswamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	var s console.Session
	testutil.Eventually(t, bound, func() bool {
		var ok bool
		s, ok = findSession(consoleData(t, base), "secure", "alice")
		return ok
	}, "alice's session on the console")
	if s.ID != uint64(c.ID()) || s.AuthRole != "user" || s.AuthMethod != "ticket" || s.Transport != "websocket" ||
		s.Serializer != "json" || !strings.HasPrefix(s.Remote, "127.0.0.1:") || s.Joined.IsZero() {
		t.Errorf("session %+v (client id %d)", s, c.ID())
	}
	d := consoleData(t, base)
	var subs []console.Subscription
	for _, rl := range d.Realms {
		if rl.Name == "secure" {
			subs = rl.Subscriptions
		}
	}
	if len(subs) != 1 || subs[0].URI != "com.example.topic" || subs[0].Subscribers != 1 {
		t.Errorf("subscriptions of secure: %+v", subs)
	}
	cfgShown, _ := json.Marshal(d.Config)
	if strings.Contains(string(cfgShown), "alice-ticket") || strings.Contains(string(cfgShown), "console-pw") {
		t.Errorf("config shows a secret: %s", cfgShown)
	}

	code, body := consoleDo(t, http.MethodPost, base+"/console/api/kill", "console-pw",
		`{"realm":"secure","session":`+jsonID(s.ID)+`,"reason":"test kill"}`)
	if code != http.StatusOK {
		t.Fatalf("kill: %d %s", code, body)
	}
	testutil.Eventually(t, bound, func() bool {
		select {
		case <-c.Done():
			return true
		default:
			return false
		}
	}, "the client's session to end")
	testutil.Eventually(t, bound, func() bool {
		_, ok := findSession(consoleData(t, base), "secure", "alice")
		return !ok
	}, "the killed session gone from the console")

	// Reload: the file gains a realm and changes the admin's password.
	updated := strings.Replace(consoleConfig, "console-pw", "new-pw", 1)
	updated = strings.Replace(updated, "realms:\n", "realms:\n  - name: added\n", 1)
	if err := os.WriteFile(cfg.File, []byte(updated), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := consoleDo(t, http.MethodPost, base+"/console/api/reload", "console-pw", ""); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if r.Realm("added") == nil {
		t.Error("reload did not add the realm")
	}
	if code, _ := consoleDo(t, http.MethodGet, base+"/console/api/state", "console-pw", ""); code != http.StatusUnauthorized {
		t.Errorf("old password after reload: %d", code)
	}
	if code, _ := consoleDo(t, http.MethodGet, base+"/console/api/state", "new-pw", ""); code != http.StatusOK {
		t.Errorf("new password after reload: %d", code)
	}
}

func jsonID(id uint64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// TestConsoleOnMetricsListen: with metrics.listen the console is served
// there and not where clients connect.
func TestConsoleOnMetricsListen(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, consoleConfig+"metrics:\n  listen: 127.0.0.1:0\n"))
	var ops string
	for _, l := range r.Listeners() {
		if l.Type == "metrics" {
			ops = l.URL
		}
	}
	if ops == "" {
		t.Fatal("no metrics listener")
	}
	if code, _, _ := get(t, httpBase(r)+"/console/api/state"); code != http.StatusNotFound {
		t.Errorf("console on the websocket listener: %d, want 404", code)
	}
	if code, _ := consoleDo(t, http.MethodGet, ops+"/console/api/state", "", ""); code != http.StatusUnauthorized {
		t.Errorf("console on metrics.listen without credential: %d, want 401", code)
	}
	if d := consoleData(t, ops); len(d.Realms) != 2 {
		t.Errorf("realms %+v", d.Realms)
	}
}

// TestConsoleCluster: a clustered node shows its link and itself as a
// member.
func TestConsoleCluster(t *testing.T) {
	cfg := parseConfig(t, consoleConfig+`cluster:
  node: n1
  embedded:
    listen: 127.0.0.1:0
    cluster_listen: 127.0.0.1:0
`)
	r := routertest.Run(t, cfg)
	base := httpBase(r)
	var d console.Data
	testutil.Eventually(t, bound, func() bool {
		d = consoleData(t, base)
		return d.Cluster != nil && d.Cluster.Connected
	}, "the cluster on the console")
	c := d.Cluster
	if c.Node != "n1" || len(c.Members) == 0 || !c.Members[0].Self || c.Members[0].Name != "n1" {
		t.Errorf("cluster %+v", c)
	}
}
