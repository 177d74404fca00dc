package cluster

import (
	"encoding/json"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/wamp"
)

// Requests between nodes (subject sb.<cluster>.rpc.<node>): what one node
// asks of every other and waits for, with a bounded wait (gather). Each
// node answers on a subscription of its own.

type rpcReq struct {
	Op     string `json:"op"` // kill_all
	Realm  string `json:"realm"`
	Reason string `json:"reason,omitempty"`
	Msg    string `json:"msg,omitempty"`
}

type rpcResp struct {
	N     int    `json:"n"`
	Error string `json:"error,omitempty"`
}

func (n *Node) rpcSubject(node uint64) string { return n.prefix + ".rpc." + hexID(node) }

// onRPC answers another node's request.
func (n *Node) onRPC(msg *nats.Msg) {
	defer n.survive("rpc")
	var req rpcReq
	var resp rpcResp
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if l := n.realms[wamp.URI(req.Realm)]; l == nil || l.r == nil {
		resp.Error = "no realm " + req.Realm
	} else {
		switch req.Op {
		case "kill_all":
			resp.N = l.r.KillAllLocal(wamp.URI(req.Reason), req.Msg)
		default:
			resp.Error = "unknown request " + req.Op
		}
	}
	b, _ := json.Marshal(resp)
	_ = msg.Respond(b)
}

// gather asks every live peer req and returns the answers that came
// within the operation timeout; a node that does not answer in time is
// left out (logged).
func (n *Node) gather(req rpcReq) []rpcResp {
	b, err := json.Marshal(req)
	if err != nil {
		return nil
	}
	peers := n.livePeers()
	out := make([]rpcResp, 0, len(peers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, err := n.nc.Request(n.rpcSubject(id), b, n.opTimeout())
			var resp rpcResp
			if err == nil {
				err = json.Unmarshal(msg.Data, &resp)
			}
			if err != nil || resp.Error != "" {
				n.log.Warn("a node did not answer a cluster request", "op", req.Op, "peer_id", hexID(id), "error", err, "answer", resp.Error)
				return
			}
			mu.Lock()
			out = append(out, resp)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// KillAll implements realm.Link.
func (l *Realm) KillAll(reason wamp.URI, msg string) int {
	total := 0
	for _, r := range l.n.gather(rpcReq{Op: "kill_all", Realm: string(l.name), Reason: string(reason), Msg: msg}) {
		total += r.N
	}
	return total
}
