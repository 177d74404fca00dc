package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// statusTimeout bounds the whole GET /status.
const statusTimeout = 10 * time.Second

// statusCmd prints a running node's GET /status: realms with their
// sessions, subscriptions and registrations, listeners, cluster members.
// The node is found at -url, or from the config: metrics.listen when set,
// else its first websocket transport.
func statusCmd(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("status")
	file := configFlag(flags)
	url := flags.String("url", "", "status `URL` (default: from the config file)")
	asJSON := flags.Bool("json", false, "print the JSON as the node sends it")
	if code, ok := parse(flags, args, 0, stdout, stderr); !ok {
		return code
	}
	if *url == "" {
		cfg, err := config.Load(*file)
		if errors.Is(err, fs.ErrNotExist) && !isSet(flags, "c", "config") {
			cfg, err = config.Default(), nil
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if *url, err = statusURL(cfg); err != nil {
			fmt.Fprintf(stderr, "switchboard status: %v\n", err)
			return 1
		}
	}
	// A node's base URL, as a user types it, means its /status.
	if u, err := neturl.Parse(*url); err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = "/status"
		*url = u.String()
	}
	body, err := getStatus(*url)
	if err != nil {
		fmt.Fprintf(stderr, "switchboard status: %v\n", err)
		return 1
	}
	if *asJSON {
		_, _ = stdout.Write(body)
		return 0
	}
	var st router.Status
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(stderr, "switchboard status: %s: %v\n", *url, err)
		return 1
	}
	printStatus(stdout, &st)
	return 0
}

// statusURL is where the node of cfg answers GET /status.
func statusURL(cfg *config.Config) (string, error) {
	addr := cfg.Metrics.Listen
	scheme := "http"
	if addr == "" {
		for _, t := range cfg.Transports {
			if t.Type == config.WebSocket {
				addr = t.Listen
				if t.TLS != nil {
					scheme = "https"
				}
				break
			}
		}
	}
	if addr == "" {
		return "", errors.New("the config has no websocket transport and no metrics.listen: give -url")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	// A node listening on every interface is reached on this machine.
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/status", nil
}

func getStatus(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func printStatus(w io.Writer, st *router.Status) {
	ready := "ready"
	if !st.Ready {
		ready = "not ready: " + st.Reason
	}
	fmt.Fprintf(w, "%s, up %s\n", ready, (time.Duration(st.Uptime) * time.Second).String())
	for _, l := range st.Listeners {
		fmt.Fprintf(w, "listener  %-9s %s\n", l.Type, l.URL)
	}
	fmt.Fprintf(w, "%-30s %9s %13s %13s %8s\n", "REALM", "SESSIONS", "SUBSCRIPTIONS", "REGISTRATIONS", "PENDING")
	for _, r := range st.Realms {
		fmt.Fprintf(w, "%-30s %9d %13d %13d %8d\n", r.Name, r.Sessions, r.Subscriptions, r.Registrations, r.PendingCalls)
	}
	if c := st.Cluster; c != nil {
		link := "linked"
		if !c.Linked {
			link = "not linked: " + c.Reason
		}
		rtt := time.Duration(c.RTT * float64(time.Second)).Round(time.Microsecond)
		fmt.Fprintf(w, "cluster   %s, node %s (%s): %s, NATS round trip %s\n", c.Cluster, c.Node, c.ID, link, rtt)
		fmt.Fprintf(w, "%-22s %-19s %-6s %-6s %9s\n", "MEMBER", "ID", "ALIVE", "SYNCED", "SESSIONS")
		for _, m := range c.Members {
			name := m.Name
			if m.Self {
				name += " (this node)"
			}
			fmt.Fprintf(w, "%-22s %-19s %-6s %-6s %9d\n", name, m.ID, yesNo(m.Alive), yesNo(m.Synced), m.Sessions)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
