package nexus_test

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// TestAdvancedPubSub runs the advanced-profile pub/sub features with the
// nexus client over every transport x serializer pair: pattern-based
// subscriptions, black/white-listing, publisher identification, event
// retention and the errors for bad options.
func TestAdvancedPubSub(t *testing.T) {
	r := startRouter(t, nil)
	for _, kind := range transportKinds {
		for _, ser := range serializers {
			t.Run(kind+"/"+ser.name, func(t *testing.T) {
				t.Parallel()
				url := urlOf(t, r, kind)
				t.Run("features", func(t *testing.T) { testAdvFeatures(t, url, ser) })
				t.Run("prefix", func(t *testing.T) { testAdvPrefix(t, url, ser) })
				t.Run("wildcard", func(t *testing.T) { testAdvWildcard(t, url, ser) })
				t.Run("every_matching_subscription", func(t *testing.T) { testAdvEveryMatch(t, url, ser) })
				t.Run("blackwhite_listing", func(t *testing.T) { testAdvBlackWhite(t, url, ser) })
				t.Run("publisher_identification", func(t *testing.T) { testAdvDisclose(t, url, ser) })
				t.Run("retained", func(t *testing.T) { testAdvRetained(t, url, ser) })
				t.Run("bad_options", func(t *testing.T) { testAdvBadOptions(t, url, ser) })
			})
		}
	}
}

// advEvents subscribes c to each (topic, options) pair with one handler,
// so that events of all the subscriptions arrive on one channel in the
// order the router sent them.
func advEvents(t *testing.T, c *client.Client, subs ...any) <-chan *wamp.Event {
	t.Helper()
	ch := make(chan *wamp.Event, 1024)
	for i := 0; i < len(subs); i += 2 {
		topic, opts := subs[i].(string), subs[i+1].(wamp.Dict)
		if err := c.Subscribe(topic, func(e *wamp.Event) { ch <- e }, opts); err != nil {
			t.Fatalf("subscribe %s %v: %v", topic, opts, err)
		}
	}
	return ch
}

// advUntilMarker returns the events received before the one whose first
// argument is "marker". A marker published after other publications by the
// same session arrives after every event of theirs (WAMP ordering), so
// the events returned are all that were delivered.
func advUntilMarker(t *testing.T, ch <-chan *wamp.Event) []*wamp.Event {
	t.Helper()
	var got []*wamp.Event
	for {
		ev := receive(t, ch, "EVENT before the marker")
		if len(ev.Arguments) > 0 && ev.Arguments[0] == "marker" {
			return got
		}
		got = append(got, ev)
	}
}

func advPublish(t *testing.T, c *client.Client, topic string, opts wamp.Dict, args ...any) {
	t.Helper()
	o := wamp.Dict{"acknowledge": true}
	for k, v := range opts {
		o[k] = v
	}
	if err := c.Publish(topic, o, wamp.List(args), nil); err != nil {
		t.Fatalf("publish %s %v: %v", topic, opts, err)
	}
}

func testAdvFeatures(t *testing.T, url string, ser serializer) {
	c := connect(t, url, ser)
	feats, _ := wamp.AsDict(wamp.Dict(c.RealmDetails())["roles"])
	broker, _ := wamp.AsDict(feats["broker"])
	got, _ := wamp.AsDict(broker["features"])
	want := []string{"event_history", "event_retention", "pattern_based_subscription", "payload_passthru_mode",
		"payload_transparency", "publication_trustlevels", "publisher_exclusion",
		"publisher_identification", "session_meta_api", "subscriber_blackwhite_listing", "subscription_meta_api"}
	var names []string
	for k, v := range got {
		if v != true {
			t.Errorf("broker feature %s = %v, want true", k, v)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("WELCOME broker features %v, want exactly %v", names, want)
	}
	if !c.HasFeature("broker", "pattern_based_subscription") {
		t.Error("nexus does not see pattern_based_subscription")
	}
}

func testAdvPrefix(t *testing.T, url string, ser serializer) {
	base := uniq(t, "p")
	sub := connect(t, url, ser)
	pub := connect(t, url, ser)
	ch := advEvents(t, sub, base, wamp.Dict{"match": "prefix"})
	subID, _ := sub.SubscriptionID(base)
	for _, topic := range []string{base + ".a", base + "bc", base, base[:len(base)-1] + "q", "com.other"} {
		advPublish(t, pub, topic, nil, topic)
	}
	advPublish(t, pub, base+".z", nil, "marker")
	var topics []string
	for _, ev := range advUntilMarker(t, ch) {
		if ev.Subscription != subID {
			t.Errorf("EVENT on subscription %d, want %d", ev.Subscription, subID)
		}
		topic, _ := wamp.AsString(ev.Details["topic"])
		if len(ev.Arguments) != 1 || ev.Arguments[0] != topic {
			t.Errorf("EVENT details.topic %q for a publication to %v", topic, ev.Arguments)
		}
		topics = append(topics, topic)
	}
	if want := []string{base + ".a", base + "bc", base}; !slices.Equal(topics, want) {
		t.Errorf("prefix %s received %v, want %v (a string prefix: %sbc matches)", base, topics, want, base)
	}
}

func testAdvWildcard(t *testing.T, url string, ser serializer) {
	base := uniq(t, "w")
	sub := connect(t, url, ser)
	pub := connect(t, url, ser)
	ch := advEvents(t, sub, base+"..leaf", wamp.Dict{"match": "wildcard"})
	for _, topic := range []string{base + ".x.leaf", base + ".y.leaf", base + ".x.y.leaf", base + ".leaf", base + ".x.leafy", base + ".x.leaf.z"} {
		advPublish(t, pub, topic, nil, topic)
	}
	advPublish(t, pub, base+".m.leaf", nil, "marker")
	var topics []string
	for _, ev := range advUntilMarker(t, ch) {
		topic, _ := wamp.AsString(ev.Details["topic"])
		topics = append(topics, topic)
	}
	if want := []string{base + ".x.leaf", base + ".y.leaf"}; !slices.Equal(topics, want) {
		t.Errorf("wildcard %s..leaf received %v, want %v", base, topics, want)
	}
}

// testAdvEveryMatch: one publication reaches a session once per matching
// subscription, with the same publication id; only pattern events carry
// the topic.
func testAdvEveryMatch(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "e") + ".dev.temp"
	sub := connect(t, url, ser)
	pub := connect(t, url, ser)
	ch := advEvents(t, sub,
		topic, wamp.Dict{},
		topic[:len(topic)-len(".dev.temp")], wamp.Dict{"match": "prefix"},
		topic[:len(topic)-len("dev.temp")]+".temp", wamp.Dict{"match": "wildcard"})
	advPublish(t, pub, topic, nil, "x")
	advPublish(t, pub, topic, nil, "marker")
	evs := advUntilMarker(t, ch)
	if len(evs) != 3 {
		t.Fatalf("got %d events, want one per matching subscription (3)", len(evs))
	}
	subs := map[wamp.ID]bool{}
	withTopic := 0
	for _, ev := range evs {
		subs[ev.Subscription] = true
		if ev.Publication != evs[0].Publication {
			t.Errorf("publication ids %d and %d for one publication", ev.Publication, evs[0].Publication)
		}
		if _, ok := ev.Details["topic"]; ok {
			withTopic++
		}
	}
	if len(subs) != 3 || withTopic != 2 {
		t.Errorf("%d distinct subscriptions and %d events with details.topic, want 3 and 2", len(subs), withTopic)
	}
}

// testAdvBlackWhite: the router assigns authid = session id and authrole
// anonymous (no authentication yet), which the lists below use.
func testAdvBlackWhite(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "bw")
	pub := connect(t, url, ser)
	a, b, c := connect(t, url, ser), connect(t, url, ser), connect(t, url, ser)
	chans := map[*client.Client]<-chan *wamp.Event{}
	for _, s := range []*client.Client{a, b, c} {
		chans[s] = advEvents(t, s, topic, wamp.Dict{})
	}
	authid := func(s *client.Client) string { return strconv.FormatUint(uint64(s.ID()), 10) }
	cases := []struct {
		name string
		opts wamp.Dict
		want []*client.Client
	}{
		{"exclude", wamp.Dict{"exclude": wamp.List{b.ID()}}, []*client.Client{a, c}},
		{"eligible", wamp.Dict{"eligible": wamp.List{a.ID(), c.ID()}}, []*client.Client{a, c}},
		{"eligible_exclude", wamp.Dict{"eligible": wamp.List{a.ID(), c.ID()}, "exclude": wamp.List{c.ID()}}, []*client.Client{a}},
		{"exclude_authid", wamp.Dict{"exclude_authid": wamp.List{authid(a), authid(b)}}, []*client.Client{c}},
		{"eligible_authid", wamp.Dict{"eligible_authid": wamp.List{authid(b)}}, []*client.Client{b}},
		{"eligible_authrole", wamp.Dict{"eligible_authrole": wamp.List{"anonymous"}}, []*client.Client{a, b, c}},
		{"exclude_authrole", wamp.Dict{"exclude_authrole": wamp.List{"anonymous"}}, nil},
		{"eligible_authrole_other", wamp.Dict{"eligible_authrole": wamp.List{"admin"}}, nil},
	}
	for _, tc := range cases {
		advPublish(t, pub, topic, tc.opts, tc.name)
	}
	advPublish(t, pub, topic, nil, "marker")
	for s, ch := range chans {
		var got []string
		for _, ev := range advUntilMarker(t, ch) {
			got = append(got, ev.Arguments[0].(string))
		}
		var want []string
		for _, tc := range cases {
			if slices.Contains(tc.want, s) {
				want = append(want, tc.name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("session %d received %v, want %v", s.ID(), got, want)
		}
	}
}

func testAdvDisclose(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "id")
	sub := connect(t, url, ser)
	pub := connect(t, url, ser)
	ch := advEvents(t, sub, topic, wamp.Dict{}, topic[:len(topic)-3], wamp.Dict{"match": "prefix"})
	advPublish(t, pub, topic, wamp.Dict{"disclose_me": true}, "disclosed")
	advPublish(t, pub, topic, nil, "anonymous")
	advPublish(t, pub, topic, nil, "marker")
	evs := advUntilMarker(t, ch)
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4 (two publications, two subscriptions)", len(evs))
	}
	for _, ev := range evs {
		id, _ := wamp.AsID(ev.Details["publisher"])
		authid, _ := wamp.AsString(ev.Details["publisher_authid"])
		role, _ := wamp.AsString(ev.Details["publisher_authrole"])
		if ev.Arguments[0] == "disclosed" {
			if id != pub.ID() || authid != strconv.FormatUint(uint64(pub.ID()), 10) || role != "anonymous" {
				t.Errorf("disclose_me EVENT details %v, want publisher %d with its authid and authrole", ev.Details, pub.ID())
			}
		} else if id != 0 || authid != "" || role != "" {
			t.Errorf("EVENT without disclose_me discloses %v", ev.Details)
		}
	}
}

// testAdvRetained uses the raw client to subscribe: it sees that the
// retained EVENT follows SUBSCRIBED at once. (The nexus client registers
// its handler only after SUBSCRIBED has been handed to the subscribing
// goroutine, so it may drop an EVENT that comes right behind it.)
func testAdvRetained(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "r")
	pub := connect(t, url, ser)
	advPublish(t, pub, topic, wamp.Dict{"retain": true}, "old")
	advPublish(t, pub, topic, wamp.Dict{"retain": true, "disclose_me": true}, "kept")
	advPublish(t, pub, topic, nil, "not retained")

	raw := dialRaw(t, url, ser)
	raw.join()
	for _, c := range []struct {
		topic string
		opts  wamp.Dict
	}{
		{topic, wamp.Dict{"get_retained": true}},
		{topic[:len(topic)-2], wamp.Dict{"get_retained": true, "match": "prefix"}},
	} {
		req := raw.nextID()
		raw.send(&wamp.Subscribe{Request: req, Options: c.opts, Topic: wamp.URI(c.topic)})
		m := raw.recv()
		subd, ok := m.(*wamp.Subscribed)
		if !ok || subd.Request != req {
			t.Fatalf("after SUBSCRIBE %v got %v %+v, want SUBSCRIBED", c.opts, m.MessageType(), m)
		}
		m = raw.recv()
		ev, ok := m.(*wamp.Event)
		if !ok || ev.Subscription != subd.Subscription {
			t.Fatalf("after SUBSCRIBED got %v %+v, want the retained EVENT", m.MessageType(), m)
		}
		if !reflect.DeepEqual(ev.Arguments, wamp.List{"kept"}) || ev.Details["retained"] != true {
			t.Errorf("retained EVENT args %v details %v, want [kept] with retained true", ev.Arguments, ev.Details)
		}
		if id, _ := wamp.AsID(ev.Details["publisher"]); id != pub.ID() {
			t.Errorf("retained EVENT details %v: the publisher was disclosed when it was published", ev.Details)
		}
		if _, pattern := c.opts["match"]; pattern != (ev.Details["topic"] != nil) {
			t.Errorf("retained EVENT details %v: topic must be there for a pattern only", ev.Details)
		}
	}
	// Without get_retained: SUBSCRIBED, then only live events: one on the
	// new subscription, one on the prefix subscription above.
	other := raw.subscribe(topic + ".sub")
	advPublish(t, pub, topic+".sub", nil, "live")
	onOther := 0
	for range 2 {
		m := raw.recv()
		ev, ok := m.(*wamp.Event)
		if !ok || ev.Details["retained"] != nil || !reflect.DeepEqual(ev.Arguments, wamp.List{"live"}) {
			t.Fatalf("got %v %+v, want the live EVENT, not retained", m.MessageType(), m)
		}
		if ev.Subscription == other {
			onOther++
		}
	}
	if onOther != 1 {
		t.Errorf("%d live events on the subscription without get_retained, want 1", onOther)
	}
}

// testAdvBadOptions: every wrong option gets ERROR invalid_argument whose
// message names the option; the session stays usable.
func testAdvBadOptions(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "bad")
	pub := connect(t, url, ser)
	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true, "exclude": "me"}, nil, nil); err == nil || !strings.Contains(err.Error(), "wamp.error.invalid_argument") {
		t.Errorf("nexus publish with exclude \"me\": %v, want wamp.error.invalid_argument", err)
	}
	if err := pub.Subscribe(topic, func(*wamp.Event) {}, wamp.Dict{"match": "regex"}); err == nil || !strings.Contains(err.Error(), "wamp.error.invalid_argument") {
		t.Errorf("nexus subscribe with match regex: %v, want wamp.error.invalid_argument", err)
	}

	raw := dialRaw(t, url, ser)
	raw.join()
	for _, c := range []struct {
		typ    wamp.MessageType
		opts   wamp.Dict
		topic  string
		option string
		uri    wamp.URI
	}{
		{wamp.PUBLISH, wamp.Dict{"acknowledge": "yes"}, topic, "acknowledge", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"exclude_me": 0}, topic, "exclude_me", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"disclose_me": "please"}, topic, "disclose_me", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"retain": 1}, topic, "retain", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"exclude": wamp.List{"x"}}, topic, "exclude", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"eligible": 7}, topic, "eligible", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"exclude_authid": wamp.List{1}}, topic, "exclude_authid", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"eligible_authid": "alice"}, topic, "eligible_authid", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"exclude_authrole": wamp.Dict{}}, topic, "exclude_authrole", "wamp.error.invalid_argument"},
		{wamp.PUBLISH, wamp.Dict{"eligible_authrole": wamp.List{true}}, topic, "eligible_authrole", "wamp.error.invalid_argument"},
		{wamp.SUBSCRIBE, wamp.Dict{"match": "regex"}, topic, "match", "wamp.error.invalid_argument"},
		{wamp.SUBSCRIBE, wamp.Dict{"match": 2}, topic, "match", "wamp.error.invalid_argument"},
		{wamp.SUBSCRIBE, wamp.Dict{"get_retained": "yes"}, topic, "get_retained", "wamp.error.invalid_argument"},
		{wamp.SUBSCRIBE, wamp.Dict{"match": "prefix"}, topic + "..x", "", "wamp.error.invalid_uri"},
		{wamp.SUBSCRIBE, wamp.Dict{"match": "wildcard"}, topic + ". .x", "", "wamp.error.invalid_uri"},
	} {
		req := raw.nextID()
		if c.typ == wamp.PUBLISH {
			raw.send(&wamp.Publish{Request: req, Options: c.opts, Topic: wamp.URI(c.topic), Arguments: wamp.List{1}})
		} else {
			raw.send(&wamp.Subscribe{Request: req, Options: c.opts, Topic: wamp.URI(c.topic)})
		}
		m := raw.recv()
		e, ok := m.(*wamp.Error)
		if !ok || e.Type != c.typ || e.Request != req || e.Error != c.uri {
			t.Errorf("%v %v: got %v %+v, want ERROR %s", c.typ, c.opts, m.MessageType(), m, c.uri)
			continue
		}
		msg, _ := wamp.AsString(e.Details["message"])
		if !strings.Contains(msg, c.option) {
			t.Errorf("%v %v: error message %q does not name the option %s", c.typ, c.opts, msg, c.option)
		}
	}
	// Still served.
	advPublish(t, pub, topic, nil, "ok")
}
