package broker

import (
	"maps"
	"reflect"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/internal/fuzzopts"
	"github.com/switchboard/switchboard/wamp"
)

// FuzzPublishOptions feeds arbitrary PUBLISH options to the parser and to
// Publish: no panic; a parse either fails with invalid_argument or yields
// lists of session ids within [0, 2^53] that the filter rebuilds as it read
// them; Publish answers an acknowledged publication with PUBLISHED or an
// ERROR of the URIs the options can cause, and reports only protocol
// violations. testdata/fuzz/FuzzPublishOptions holds more seeds.
func FuzzPublishOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"acknowledge":true,"exclude_me":false,"disclose_me":true,"retain":true}`,
		`{"exclude":[1,2,9007199254740992],"eligible":[3]}`,
		`{"eligible":[],"exclude":[-1]}`,
		`{"eligible_authid":["a","b"],"exclude_authid":[],"exclude_authrole":["r"],"eligible_authrole":["x"]}`,
		`{"exclude_authrole":[1],"exclude":"1"}`,
		`{"ppt_scheme":"x_custom","ppt_serializer":"native","ppt_cipher":"c","ppt_keyid":"k"}`,
		`{"ppt_scheme":"wamp","ppt_serializer":"cbor","ppt_cipher":"aes256gcm"}`,
		`{"enc_algo":"cryptobox","enc_key":"k","enc_serializer":"json"}`,
		`{"enc_algo":"x_","ppt_scheme":"mqtt"}`,
		`{"acknowledge":1,"retain":"yes"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range fuzzopts.Dicts(data) {
			var o pubOptions
			err := o.parse(d)
			if err != nil {
				if uri := fuzzopts.ErrorURI(err); uri != wamp.ErrInvalidArgument {
					t.Fatalf("parse(%v): %v (URI %q), want invalid_argument", d, err, uri)
				}
			} else {
				checkFilter(t, d, &o.filter)
			}
			for _, disclose := range []string{DiscloseClient, DiscloseNever} {
				publishWith(t, d, disclose, err == nil)
			}
		}
	})
}

// checkFilter checks what parse made of the lists of d.
func checkFilter(t *testing.T, d wamp.Dict, fl *filter) {
	t.Helper()
	for _, s := range []*idSet{&fl.exclude, &fl.eligible} {
		for _, id := range s.ids {
			if id > wamp.MaxID {
				t.Fatalf("options %v: session id %d beyond 2^53", d, id)
			}
		}
	}
	lists := fl.exclude.on || fl.eligible.on || fl.excludeAuthID.on || fl.eligibleAuthID.on ||
		fl.excludeAuthRole.on || fl.eligibleAuthRole.on
	if fl.active != lists {
		t.Fatalf("options %v: filter active %v with lists present %v", d, fl.active, lists)
	}
	// The lists go to other nodes as options rebuilds them: parsed again,
	// they must be the same lists.
	var again pubOptions
	if err := again.parse(fl.options()); err != nil {
		t.Fatalf("options %v: rebuilt lists %v do not parse: %v", d, fl.options(), err)
	}
	if !reflect.DeepEqual(fl.options(), again.filter.options()) {
		t.Fatalf("options %v: lists %v parse back as %v", d, fl.options(), again.filter.options())
	}
}

// publishWith publishes to a broker with one subscriber, options d plus
// acknowledge, and checks the answer.
func publishWith(t *testing.T, d wamp.Dict, disclose string, parsed bool) {
	t.Helper()
	b := New(Config{Disclose: disclose})
	sub := fakepeer.New(2)
	b.Subscribe(sub, &wamp.Message{Type: wamp.SUBSCRIBE, Request: 1, URI: "com.t"})
	pub := fakepeer.New(1)
	pub.Features = map[string]bool{"publisher." + wamp.FeaturePassthru: true}
	opts := maps.Clone(d)
	if _, ok := opts["acknowledge"].(bool); ok || opts["acknowledge"] == nil {
		opts["acknowledge"] = true
	}
	err := b.PublishTrust(pub, &wamp.Message{Type: wamp.PUBLISH, Request: 7, Details: opts, URI: "com.t", Args: wamp.List(1)}, 0)
	if err != nil && fuzzopts.ErrorURI(err) != wamp.ErrProtocolViolation {
		t.Fatalf("Publish with %v: %v, want nil or a protocol violation", d, err)
	}
	m := pub.Last()
	switch {
	case m == nil:
		t.Fatalf("Publish with %v: no answer to an acknowledged PUBLISH", opts)
	case m.Type == wamp.PUBLISHED:
		if !parsed {
			t.Fatalf("Publish with %v: PUBLISHED, though the options do not parse", opts)
		}
	case m.Type == wamp.ERROR:
		switch m.URI {
		case wamp.ErrInvalidArgument, ErrOptionDisallowedDiscloseMe, wamp.ErrFeatureNotSupported:
		default:
			t.Fatalf("Publish with %v: ERROR %q", opts, m.URI)
		}
	default:
		t.Fatalf("Publish with %v: answered %v", opts, m)
	}
}

// FuzzSubscribeOptions feeds arbitrary SUBSCRIBE options to Subscribe:
// SUBSCRIBED only for a match policy the broker knows, else ERROR
// invalid_argument or invalid_uri.
func FuzzSubscribeOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"match":"prefix"}`,
		`{"match":"wildcard","get_retained":true}`,
		`{"match":"exact","get_retained":false}`,
		`{"match":"fuzzy"}`,
		`{"match":1,"get_retained":"yes"}`,
		`{"match":""}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range fuzzopts.Dicts(data) {
			for _, topic := range []wamp.URI{"com.t", "com..t", "com.", ""} {
				b := New(Config{})
				p := fakepeer.New(1)
				b.Subscribe(p, &wamp.Message{Type: wamp.SUBSCRIBE, Request: 3, Details: d, URI: topic})
				m := p.Last()
				switch {
				case m == nil:
					t.Fatalf("SUBSCRIBE %q %v: no answer", topic, d)
				case m.Type == wamp.SUBSCRIBED:
					mv, present := d["match"]
					match, isString := mv.(string)
					if _, err := parseMatch(match); err != nil || present && !isString {
						t.Fatalf("SUBSCRIBE %q %v: SUBSCRIBED with match %#v", topic, d, d["match"])
					}
					if m.ID == 0 || m.ID > wamp.MaxID {
						t.Fatalf("SUBSCRIBE %q %v: subscription id %d", topic, d, m.ID)
					}
				case m.Type == wamp.ERROR && (m.URI == wamp.ErrInvalidArgument || m.URI == wamp.ErrInvalidURI):
				default:
					t.Fatalf("SUBSCRIBE %q %v: answered %v %q", topic, d, m, m.URI)
				}
			}
		}
	})
}
