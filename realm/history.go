package realm

import (
	"time"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
)

// historyQuery reads the filters of wamp.subscription.get_events
// (advanced/pubsub_event_history.md) from its keyword arguments; limit is
// read by the caller, which also takes it positionally. Keywords the
// specification does not name are ignored, as unknown options are.
func historyQuery(kwargs map[string]any) (broker.HistoryQuery, error) {
	var q broker.HistoryQuery
	if v, ok := kwargs["reverse"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return q, badArg("reverse must be a boolean")
		}
		q.Reverse = b
	}
	for _, x := range [...]struct {
		key string
		t   *time.Time
	}{{"from_time", &q.FromTime}, {"after_time", &q.AfterTime}, {"before_time", &q.BeforeTime}, {"until_time", &q.UntilTime}} {
		v, ok := kwargs[x.key]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return q, badArg("%s must be an RFC 3339 timestamp string", x.key)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, badArg("%s %q is no RFC 3339 timestamp", x.key, s)
		}
		*x.t = t
	}
	for _, x := range [...]struct {
		key string
		id  *wamp.ID
	}{
		{"from_publication", &q.FromPublication}, {"after_publication", &q.AfterPublication},
		{"before_publication", &q.BeforePublication}, {"until_publication", &q.UntilPublication},
	} {
		v, ok := kwargs[x.key]
		if !ok || v == nil {
			continue
		}
		id, ok := wamp.AsID(v)
		if !ok || id == 0 {
			return q, badArg("%s must be a publication id (a positive integer)", x.key)
		}
		*x.id = id
	}
	if v, ok := kwargs["topic"]; ok && v != nil {
		s, ok := v.(string)
		if !ok || !wamp.ValidURI(wamp.URI(s), false, false) {
			return q, badArg("topic must be a topic URI")
		}
		q.Topic = wamp.URI(s)
	}
	return q, nil
}
