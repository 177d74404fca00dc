package nexus_test

import (
	"context"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// TestKwargsOnly: the nexus client sends null Args when a call, result or
// publication has only Kwargs; the router must take that for an absent
// list, not a protocol violation.
func TestKwargsOnly(t *testing.T) {
	r := startRouter(t, testConfig(t))
	for _, ser := range serializers {
		t.Run(ser.name, func(t *testing.T) {
			url := urlOf(t, r, "websocket")
			callee := connect(t, url, ser)
			proc := uniq(t, "kwonly")
			err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
				return client.InvokeResult{Kwargs: wamp.Dict{"echo": inv.ArgumentsKw["in"]}}
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			caller := connect(t, url, ser)
			res, err := call(t, caller, proc, nil, wamp.Dict{"in": "hello"})
			if err != nil {
				t.Fatalf("call with Kwargs only: %v", err)
			}
			if len(res.Arguments) != 0 || res.ArgumentsKw["echo"] != "hello" {
				t.Errorf("result args %v kwargs %v, want none and echo=hello", res.Arguments, res.ArgumentsKw)
			}

			topic := uniq(t, "kwonly.topic")
			events := eventChan(t, callee, topic, nil)
			if err := caller.Publish(topic, wamp.Dict{"acknowledge": true}, nil, wamp.Dict{"k": "v"}); err != nil {
				t.Fatalf("publish with Kwargs only: %v", err)
			}
			ev := receive(t, events, "event with Kwargs only")
			if ev.ArgumentsKw["k"] != "v" {
				t.Errorf("event kwargs %v, want k=v", ev.ArgumentsKw)
			}
		})
	}
}
