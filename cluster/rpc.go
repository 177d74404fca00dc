package cluster

import (
	"encoding/json"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// Requests between nodes (subject sb.<cluster>.rpc.<node>): what one node
// asks of every other and waits for, with a bounded wait (gather). Each
// node answers on a subscription of its own.

type rpcReq struct {
	Op     string   `json:"op"` // sessions, session, subscribers, kill, kill_all
	Realm  string   `json:"realm"`
	ID     uint64   `json:"id,omitempty"`    // session, subscribers
	Roles  []string `json:"roles,omitempty"` // sessions: the authroles asked for (none: all)
	All    bool     `json:"all,omitempty"`   // sessions: no role filter
	By     string   `json:"by,omitempty"`    // kill: session, authid or authrole
	Value  string   `json:"value,omitempty"` // kill
	Reason string   `json:"reason,omitempty"`
	Msg    string   `json:"msg,omitempty"`
}

type rpcResp struct {
	N       int            `json:"n,omitempty"`
	IDs     []uint64       `json:"ids,omitempty"`
	Details map[string]any `json:"details,omitempty"`
	Error   string         `json:"error,omitempty"`
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
		r := l.r
		switch req.Op {
		case "sessions":
			var filter map[string]bool
			if !req.All {
				filter = make(map[string]bool, len(req.Roles))
				for _, role := range req.Roles {
					filter[role] = true
				}
			}
			resp.IDs = ids64(r.LocalSessionIDs(filter))
		case "session":
			if s := r.LocalSession(wamp.ID(req.ID)); s != nil {
				resp.Details = realm.SessionDetails(s)
			}
		case "subscribers":
			resp.IDs = ids64(r.LocalSubscribers(wamp.ID(req.ID)))
		case "kill":
			resp.IDs = ids64(r.KillLocal(req.By, req.Value, 0, wamp.URI(req.Reason), req.Msg))
		case "kill_all":
			resp.N = r.KillAllLocal(wamp.URI(req.Reason), req.Msg)
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

func ids64(ids []wamp.ID) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

func gatherIDs(rs []rpcResp) []wamp.ID {
	var out []wamp.ID
	for _, r := range rs {
		for _, id := range r.IDs {
			out = append(out, wamp.ID(id))
		}
	}
	return out
}

// RemoteSessions implements realm.Link.
func (l *Realm) RemoteSessions(filter map[string]bool) []wamp.ID {
	req := rpcReq{Op: "sessions", Realm: string(l.name), All: filter == nil}
	for role := range filter {
		req.Roles = append(req.Roles, role)
	}
	return gatherIDs(l.n.gather(req))
}

// RemoteSession implements realm.Link.
func (l *Realm) RemoteSession(id wamp.ID) (map[string]any, bool) {
	for _, r := range l.n.gather(rpcReq{Op: "session", Realm: string(l.name), ID: uint64(id)}) {
		if r.Details != nil {
			return r.Details, true
		}
	}
	return nil, false
}

// RemoteSubscribers implements realm.Link.
func (l *Realm) RemoteSubscribers(sub wamp.ID) []wamp.ID {
	return gatherIDs(l.n.gather(rpcReq{Op: "subscribers", Realm: string(l.name), ID: uint64(sub)}))
}

// KillRemote implements realm.Link.
func (l *Realm) KillRemote(by, value string, reason wamp.URI, msg string) []wamp.ID {
	return gatherIDs(l.n.gather(rpcReq{Op: "kill", Realm: string(l.name), By: by, Value: value, Reason: string(reason), Msg: msg}))
}

// KillAll implements realm.Link.
func (l *Realm) KillAll(reason wamp.URI, msg string) int {
	total := 0
	for _, r := range l.n.gather(rpcReq{Op: "kill_all", Realm: string(l.name), Reason: string(reason), Msg: msg}) {
		total += r.N
	}
	return total
}
