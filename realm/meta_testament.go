package realm

import (
	"fmt"

	"github.com/switchboard/switchboard/wamp"
)

// Testaments (advanced/pubsub_testament.md): events a session leaves
// behind, published when it goes.

// testament is one event a session asked to have published when it goes.
type testament struct {
	topic   wamp.URI
	options wamp.Dict
	args    wamp.Payload
	kwargs  wamp.Payload
}

// publish builds the PUBLISH of the testament.
func (t testament) publish() *wamp.Message {
	e := t.export()
	return e.Message()
}

// export is the testament as the cluster keeps it.
func (t testament) export() Testament {
	e := Testament{Topic: t.topic, Options: t.options}
	e.Args, _ = t.args.Value.([]any)
	if d, ok := t.kwargs.Value.(map[string]any); ok {
		e.Kwargs = d
	}
	return e
}

func testamentScope(kwargs map[string]any) (int, error) {
	v, ok := kwargs["scope"]
	if !ok {
		return 1, nil
	}
	switch v {
	case "detached":
		return 0, nil
	case "destroyed":
		return 1, nil
	}
	return 0, badArg("scope must be \"detached\" or \"destroyed\"")
}

// maxTestaments bounds one session's testaments, so that a client cannot
// make the router hold unbounded memory for it.
const maxTestaments = 64

func (r *Realm) addTestament(caller wamp.ID, args []any, kwargs map[string]any) error {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return err
	}
	// Checked as the broker will check it at publication, when it is too
	// late to tell anyone.
	if !wamp.ValidURI(wamp.URI(topic), r.strict, false) || wamp.URI(topic).Reserved() {
		return wamp.NewError(wamp.ErrInvalidURI, fmt.Sprintf("invalid testament topic %q", topic))
	}
	t := testament{topic: wamp.URI(topic)}
	if len(args) > 1 && args[1] != nil {
		l, ok := args[1].([]any)
		if !ok {
			return badArg("argument 2 (args) must be a list")
		}
		t.args = wamp.Payload{Value: l}
	}
	if len(args) > 2 && args[2] != nil {
		d, ok := args[2].(map[string]any)
		if !ok {
			return badArg("argument 3 (kwargs) must be a dict")
		}
		t.kwargs = wamp.Payload{Value: d}
	}
	if v, ok := kwargs["publish_options"]; ok {
		d, ok := v.(map[string]any)
		if !ok {
			return badArg("publish_options must be a dict")
		}
		// advanced/pubsub_testament.md: the options are PUBLISH.Options.
		// Checked now, since a bad one at publication would be answered
		// to a session that is gone.
		if err := r.broker.CheckPublishOptions(d); err != nil {
			we := wamp.AsError(err, wamp.ErrInvalidArgument)
			return wamp.NewError(we.URI, "publish_options: "+we.Msg)
		}
		t.options = d
	}
	scope, err := testamentScope(kwargs)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.sessions[caller]
	if m == nil {
		r.mu.Unlock()
		return wamp.NewError(wamp.ErrNoSuchSession, "the calling session has left")
	}
	if len(m.testaments[scope]) >= maxTestaments {
		r.mu.Unlock()
		return badArg("at most %d testaments per scope", maxTestaments)
	}
	m.testaments[scope] = append(m.testaments[scope], t)
	r.mu.Unlock()
	r.linkTestaments(caller)
	return nil
}

func (r *Realm) flushTestaments(caller wamp.ID, _ []any, kwargs map[string]any) error {
	scope, err := testamentScope(kwargs)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.sessions[caller]
	if m != nil {
		m.testaments[scope] = nil
	}
	r.mu.Unlock()
	if m != nil {
		r.linkTestaments(caller)
	}
	return nil
}
