package console

import "time"

// Backend is the node as the console sees it. Package router implements
// it; tests use a fake. Its methods are called from HTTP handlers, any
// number at once.
type Backend interface {
	// Counters returns the node's cumulative counters. It is called once
	// per rate sample and must be cheap.
	Counters() Counters
	// State returns the realms, at most maxSessions sessions of each, and
	// the cluster link.
	State(maxSessions int) State
	// Kill closes the session id of realm with GOODBYE wamp.close.killed
	// and reason as its message, or returns ErrNotFound.
	Kill(realm string, id uint64, reason string) error
	// Reload rereads the config file and applies it, as SIGHUP does.
	Reload() error
	// Config returns the config in effect; the console shows it with its
	// secrets masked (Mask).
	Config() any
	// Started returns when the node started serving; zero before.
	Started() time.Time
}

// Counters are a node's cumulative counts since it started. Each rate
// chart of the page is the difference of two readings over their
// interval.
type Counters struct {
	// MetricsDisabled: the node counts nothing (metrics.enabled false);
	// the rates stay at zero.
	MetricsDisabled bool   `json:"metrics_disabled,omitempty"`
	EventsPublished uint64 `json:"events_published"`
	EventsDelivered uint64 `json:"events_delivered"`
	EventsDropped   uint64 `json:"events_dropped"`
	Calls           uint64 `json:"calls"`
	SessionsOpened  uint64 `json:"sessions_opened"`
	SessionsClosed  uint64 `json:"sessions_closed"`
	BytesIn         uint64 `json:"bytes_in"`
	BytesOut        uint64 `json:"bytes_out"`
}

// series lists the rates the page charts, in the order of Counters.
var series = []string{"events_published", "events_delivered", "events_dropped", "calls",
	"sessions_opened", "sessions_closed", "bytes_in", "bytes_out"}

func (c *Counters) values() [8]uint64 {
	return [8]uint64{c.EventsPublished, c.EventsDelivered, c.EventsDropped, c.Calls,
		c.SessionsOpened, c.SessionsClosed, c.BytesIn, c.BytesOut}
}

// State is what the page shows of the node besides rates and config.
type State struct {
	Realms []Realm `json:"realms"`
	// Cluster is nil for a node alone.
	Cluster *Cluster `json:"cluster"`
}

// Realm is one realm of the node.
type Realm struct {
	Name string `json:"name"`
	// SessionCount counts every local session; Sessions may hold fewer
	// (State's maxSessions).
	SessionCount  int            `json:"session_count"`
	Sessions      []Session      `json:"sessions"`
	Subscriptions []Subscription `json:"subscriptions"`
	Registrations []Registration `json:"registrations"`
	PendingCalls  int            `json:"pending_calls"`
}

// Session is one local session.
type Session struct {
	ID         uint64    `json:"id"`
	AuthID     string    `json:"authid"`
	AuthRole   string    `json:"authrole"`
	AuthMethod string    `json:"authmethod"`
	Transport  string    `json:"transport"`
	Serializer string    `json:"serializer"`
	Remote     string    `json:"remote"`
	Joined     time.Time `json:"joined"`
	// Queue is the depth of its outbound queue now, in messages.
	Queue int `json:"queue"`
	// Dropped counts the events dropped for it (slow consumer).
	Dropped uint64 `json:"dropped"`
}

// Subscription is one subscription with its local subscribers.
type Subscription struct {
	ID          uint64 `json:"id"`
	URI         string `json:"uri"`
	Match       string `json:"match"`
	Subscribers int    `json:"subscribers"`
}

// Registration is one registration with its callees.
type Registration struct {
	ID      uint64 `json:"id"`
	URI     string `json:"uri"`
	Match   string `json:"match"`
	Invoke  string `json:"invoke"`
	Callees int    `json:"callees"`
}

// Cluster is the node's cluster link.
type Cluster struct {
	Name      string `json:"name"`
	Node      string `json:"node"`
	Connected bool   `json:"nats_connected"`
	Linked    bool   `json:"linked"`
	// Reason says why the node is not linked, "" when it is.
	Reason string `json:"not_linked_reason,omitempty"`
	// RTT is the last NATS round trip in seconds.
	RTT             float64  `json:"nats_rtt_seconds"`
	Members         []Member `json:"members"`
	EventsForwarded uint64   `json:"events_forwarded"`
	EventsReceived  uint64   `json:"events_received"`
	Disconnects     uint64   `json:"disconnects"`
	Reconnects      uint64   `json:"reconnects"`
	SendFailures    uint64   `json:"send_failures"`
	// LastFailure is the last reason the node was seen not linked, and
	// when; empty if it never was while someone watched.
	LastFailure   string    `json:"last_failure,omitempty"`
	LastFailureAt time.Time `json:"last_failure_at,omitzero"`
}

// Member is one node of the cluster.
type Member struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Self     bool   `json:"self"`
	Alive    bool   `json:"alive"`
	Synced   bool   `json:"synced"`
	Sessions int    `json:"sessions"`
}
