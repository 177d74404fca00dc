package router

import (
	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/metrics"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// realmLink returns the cluster link of a realm, or nil (an untyped nil:
// the realm tests the interface) for a node alone.
func (r *Router) realmLink(name wamp.URI) realm.Link {
	if r.node == nil {
		return nil
	}
	return r.node.Link(name)
}

func (r *Router) attachLink(name wamp.URI, rl *realm.Realm) {
	if r.node != nil {
		r.node.Link(name).Attach(rl)
	}
}

func (r *Router) startCluster() error {
	if r.node == nil {
		return nil
	}
	return r.node.Start()
}

// stopCluster leaves the cluster, after the local sessions have left so
// that the other nodes hear of it.
func (r *Router) stopCluster() {
	if r.node != nil {
		r.node.Close()
	}
}

// Cluster returns the router's cluster node, nil for a node alone.
func (r *Router) Cluster() *cluster.Node { return r.node }

// addClusterReadyCheck makes /readyz fail while a clustered node is not
// linked: NATS down, or not yet synchronised with the nodes it knows.
func (r *Router) addClusterReadyCheck() {
	if r.node != nil {
		r.AddReadyCheck("cluster", r.node.LinkErr)
	}
}

// setClusterMetrics exports the cluster node's counters through m.
func (r *Router) setClusterMetrics(m *metrics.Metrics) {
	if r.node != nil {
		m.SetCluster(r.node.Stats)
	}
}
