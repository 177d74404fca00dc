package wamp

import "testing"

func TestValidURI(t *testing.T) {
	cases := []struct {
		uri                 URI
		loose, strict, wild bool
	}{
		{"com.example.topic", true, true, true},
		{"com.Example.Topic", true, false, true},
		{"com.example-x.top!c", true, false, true},
		{"", false, false, false},
		{"com..topic", false, false, true},
		{".com", false, false, true},
		{"com.", false, false, true},
		{"com.ex ample", false, false, false},
		{"com.ex#ample", false, false, false},
		{"com.ex\tample", false, false, false},
		{"a", true, true, true},
	}
	for _, c := range cases {
		if got := ValidURI(c.uri, false, false); got != c.loose {
			t.Errorf("ValidURI(%q, loose) = %v, want %v", c.uri, got, c.loose)
		}
		if got := ValidURI(c.uri, true, false); got != c.strict {
			t.Errorf("ValidURI(%q, strict) = %v, want %v", c.uri, got, c.strict)
		}
		if got := ValidURI(c.uri, false, true); got != c.wild {
			t.Errorf("ValidURI(%q, loose, empty) = %v, want %v", c.uri, got, c.wild)
		}
	}
}

func TestGlobalIDRange(t *testing.T) {
	for i := 0; i < 10000; i++ {
		if id := GlobalID(); id < 1 || id > MaxID {
			t.Fatalf("GlobalID() = %d, out of [1, 2^53]", id)
		}
	}
}

func TestIDGenWraps(t *testing.T) {
	var g IDGen
	if id := g.Next(); id != 1 {
		t.Fatalf("first id = %d, want 1", id)
	}
	g.n.Store(MaxID - 1)
	if id := g.Next(); id != MaxID {
		t.Fatalf("id = %d, want 2^53", id)
	}
	if id := g.Next(); id != 1 {
		t.Fatalf("id after 2^53 = %d, want 1", id)
	}
}

func TestLayoutsCoverTypes(t *testing.T) {
	for _, ty := range []Type{HELLO, WELCOME, ABORT, CHALLENGE, AUTHENTICATE, GOODBYE, ERROR,
		PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE, UNSUBSCRIBED, EVENT, CALL, CANCEL,
		RESULT, REGISTER, REGISTERED, UNREGISTER, UNREGISTERED, INVOCATION, INTERRUPT, YIELD} {
		if !ty.Known() {
			t.Errorf("%v has no layout", ty)
		}
		if ty.String() == "" || ty.String()[0] == 'T' {
			t.Errorf("%d has no name", ty)
		}
	}
	if Type(7).Known() || Type(0).Known() {
		t.Error("unknown types report Known")
	}
}
