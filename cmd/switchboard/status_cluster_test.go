package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/router"
)

// `switchboard status` prints the cluster's link and members after the
// realms, and nothing of a cluster for a node alone.
func TestPrintStatusCluster(t *testing.T) {
	st := router.Status{Ready: false, Reason: "cluster: not synchronised yet with b (9a)", Realms: []router.RealmStatus{{Name: "realm1", Sessions: 3}}}
	var alone bytes.Buffer
	printStatus(&alone, &st)
	if strings.Contains(alone.String(), "cluster") && !strings.Contains(alone.String(), "not ready: cluster") {
		t.Errorf("a node alone prints a cluster:\n%s", alone.String())
	}
	st.Cluster = &cluster.Status{
		Cluster: "prod", Node: "a", ID: "3f", Connected: true, Reason: "not synchronised yet with b (9a)", RTT: 0.000182,
		Members: []cluster.Member{
			{ID: "3f", Name: "a", Self: true, Alive: true, Synced: true, Sessions: 3},
			{ID: "9a", Name: "b", Alive: true, Sessions: 7},
			{ID: "c4", Name: "c"},
		},
	}
	var out bytes.Buffer
	printStatus(&out, &st)
	want := []string{
		"cluster   prod, node a (3f): not linked: not synchronised yet with b (9a), NATS round trip 182µs",
		"MEMBER                 ID                  ALIVE  SYNCED  SESSIONS",
		"a (this node)          3f                  yes    yes            3",
		"b                      9a                  yes    no             7",
		"c                      c4                  no     no             0",
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < len(want) || strings.Join(lines[len(lines)-len(want):], "\n") != strings.Join(want, "\n") {
		t.Errorf("status output:\n%s\nwant it to end with:\n%s", out.String(), strings.Join(want, "\n"))
	}
}
