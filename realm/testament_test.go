package realm_test

import (
	"strings"
	"testing"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// TestTestamentPublishOptions: add_testament's publish_options are
// PUBLISH.Options (advanced/pubsub_testament.md), checked when the
// testament is added, since at publication nobody could be told.
func TestTestamentPublishOptions(t *testing.T) {
	r := newRealm(t, realm.Config{Name: "realm1", DisclosePublisher: "never"})
	p := join(t, r, wamp.JSON)
	for _, tc := range []struct {
		opts    map[string]any
		uri     wamp.URI
		mention string
	}{
		{map[string]any{"acknowledge": "yes"}, wamp.ErrInvalidArgument, "acknowledge"},
		{map[string]any{"exclude_me": 1}, wamp.ErrInvalidArgument, "exclude_me"},
		{map[string]any{"retain": "always"}, wamp.ErrInvalidArgument, "retain"},
		{map[string]any{"exclude": []any{"one"}}, wamp.ErrInvalidArgument, "exclude"},
		{map[string]any{"eligible_authrole": "admin"}, wamp.ErrInvalidArgument, "eligible_authrole"},
		{map[string]any{"disclose_me": true}, broker.ErrOptionDisallowedDiscloseMe, "disclose"},
	} {
		m := p.call("wamp.session.add_testament", []any{"com.example.will"}, map[string]any{"publish_options": tc.opts})
		if m.Type != wamp.ERROR || m.URI != tc.uri {
			t.Fatalf("publish_options %v: got %v %q, want ERROR %s", tc.opts, m, m.URI, tc.uri)
		}
		if msg := wamp.String(m.Details, "message"); !strings.Contains(msg, "publish_options") || !strings.Contains(msg, tc.mention) {
			t.Errorf("publish_options %v: message %q does not name the option", tc.opts, msg)
		}
	}

	// Valid options are kept and honoured: the testament reaches the
	// eligible role only; acknowledge is accepted and ignored.
	w := join(t, r, wamp.JSON)
	w.subscribe("com.example.will")
	p.mustCall("wamp.session.add_testament", []any{"com.example.will", []any{"filtered"}},
		map[string]any{"publish_options": map[string]any{"acknowledge": true, "eligible_authrole": []any{"nobody"}}})
	p.mustCall("wamp.session.add_testament", []any{"com.example.will", []any{"kept"}},
		map[string]any{"publish_options": map[string]any{"acknowledge": true, "exclude_me": false}})
	p.end()
	ev := w.event()
	if got := asList(value(t, ev.Args)); len(got) != 1 || got[0] != "kept" {
		t.Fatalf("testament EVENT args %v, want only the unfiltered one", got)
	}
}
