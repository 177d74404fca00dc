package cluster_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
)

func ctlJSON(t *testing.T, typ string, node uint64, name string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"t": typ, "node": node, "name": name, "seq": 1})
	must(t, err)
	return b
}

func alive(st cluster.Status, id uint64) bool {
	for _, m := range st.Members {
		if m.ID == strconv.FormatUint(id, 16) {
			return m.Alive
		}
	}
	return false
}

// TestLateMessageAfterGoodbyeIgnored: a heartbeat of a node that said
// goodbye, arriving after the goodbye, must not bring it back as a new
// node (which kept the survivors unready until the failure timeout).
func TestLateMessageAfterGoodbyeIgnored(t *testing.T) {
	// Two nodes: JetStream's quorum needs them.
	rs := startCluster(t, 2, 3*time.Second)
	n := rs[0].Cluster()
	nc, err := nats.Connect(n.ClientURL())
	must(t, err)
	defer nc.Close()
	const gone, marker = 0xdead, 0xbeef
	subj := "sb.test.ctl"
	must(t, nc.Publish(subj, ctlJSON(t, "hb", gone, "gone")))
	testutil.Eventually(t, bound, func() bool { return alive(n.Status(), gone) }, "the node that will leave is known")
	must(t, nc.Publish(subj, ctlJSON(t, "bye", gone, "gone")))
	must(t, nc.Publish(subj, ctlJSON(t, "hb", gone, "gone")))
	must(t, nc.Publish(subj, ctlJSON(t, "state", gone, "gone")))
	// One connection, one subject: the marker is applied after them.
	must(t, nc.Publish(subj, ctlJSON(t, "hb", marker, "marker")))
	testutil.Eventually(t, bound, func() bool { return alive(n.Status(), marker) }, "the marker node is known")
	if alive(n.Status(), gone) {
		t.Fatal("a heartbeat sent before its goodbye brought the node back")
	}
}

// TestGoodbyeIsLastControlMessage: a closing node sends nothing on the
// control subject after its goodbye, not even the leave of its sessions.
func TestGoodbyeIsLastControlMessage(t *testing.T) {
	srv := runNATS(t, -1)
	defer srv.Shutdown()
	a := externalNode(t, "a", srv.ClientURL(), 2*time.Second, nil)
	b := externalNode(t, "b", srv.ClientURL(), 2*time.Second, nil)
	waitMesh(t, []*router.Router{a, b})
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()
	sub, err := nc.SubscribeSync("sb.ext.ctl")
	must(t, err)
	must(t, nc.Flush())
	bid := b.Cluster().ID()
	for range 5 {
		connect(t, b) // their leaves are queued as b closes
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	must(t, b.Shutdown(ctx))
	must(t, nc.Flush()) // b's connection is closed: all it sent is here
	var types []string
	for {
		msg, err := sub.NextMsg(10 * time.Millisecond)
		if err != nil {
			break
		}
		var m struct {
			T    string `json:"t"`
			Node uint64 `json:"node"`
		}
		must(t, json.Unmarshal(msg.Data, &m))
		if m.Node == bid {
			types = append(types, m.T)
		}
	}
	t.Logf("b sent %v", types)
	if len(types) == 0 || types[len(types)-1] != "bye" {
		t.Fatalf("b's control messages: %v, want bye last", types)
	}
}
