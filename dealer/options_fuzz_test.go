package dealer

import (
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/internal/fuzzopts"
	"github.com/switchboard/switchboard/wamp"
)

// The option fuzzers below feed arbitrary dicts (fuzzopts.Dicts) as the
// Options of CALL, REGISTER, CANCEL and YIELD, to the parsers and to the
// dealer's handlers. Each asserts: no panic; a parse either succeeds with
// values within their documented bounds or fails with an invalid_argument
// *wamp.Error; the handlers answer with the success message or an ERROR
// of a URI the options can cause, and report only protocol violations.
// testdata/fuzz/<FuzzName> holds more seeds.

// optionPeers are a callee of com.p and a caller that announce every
// feature, so that no option is refused for want of one.
func optionPeers(t *testing.T, d *Dealer) (caller, callee *fakepeer.Peer) {
	t.Helper()
	all := append([]string{"callee." + wamp.FeaturePassthru, "caller." + wamp.FeaturePassthru}, everyFeature...)
	caller, callee = peer(1, all...), peer(2, all...)
	d.Register(callee, &wamp.Message{Type: wamp.REGISTER, Request: 1, URI: "com.p"})
	if m := callee.Last(); m == nil || m.Type != wamp.REGISTERED {
		t.Fatalf("REGISTER: %v", m)
	}
	return caller, callee
}

// checkHandlerErr checks the error a handler returns.
func checkHandlerErr(t *testing.T, what string, d wamp.Dict, err error) {
	t.Helper()
	if err != nil && fuzzopts.ErrorURI(err) != wamp.ErrProtocolViolation {
		t.Fatalf("%s with options %v: %v, want nil or a protocol violation", what, d, err)
	}
}

// checkOptErr checks the error of a parser.
func checkOptErr(t *testing.T, what string, d wamp.Dict, err error) {
	t.Helper()
	if uri := fuzzopts.ErrorURI(err); err != nil && uri != wamp.ErrInvalidArgument {
		t.Fatalf("%s(%v): %v (URI %q), want invalid_argument", what, d, err, uri)
	}
}

func FuzzCallOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"timeout":1000,"receive_progress":true,"disclose_me":true}`,
		`{"timeout":0}`,
		`{"timeout":-1}`,
		`{"timeout":1.5}`,
		`{"timeout":9223372036854775807}`,
		`{"timeout":18446744073709551615}`,
		`{"timeout":"1000","progress":1}`,
		`{"progress":true,"receive_progress":false}`,
		`{"ppt_scheme":"mqtt","ppt_serializer":"json"}`,
		`{"enc_algo":"cryptobox","enc_serializer":"cbor"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range fuzzopts.Dicts(data) {
			o, err := parseCallOptions(opts)
			checkOptErr(t, "parseCallOptions", opts, err)
			if err == nil {
				ms, _ := wamp.AsInt(opts["timeout"])
				if o.timeout < 0 || o.timeout > time.Duration(maxTimeoutMS)*time.Millisecond ||
					o.timeout != time.Duration(ms)*time.Millisecond {
					t.Fatalf("parseCallOptions(%v): timeout %v", opts, o.timeout)
				}
				for k, v := range map[string]bool{"receive_progress": o.receiveProgress, "progress": o.progress, "disclose_me": o.discloseMe} {
					if want, _ := opts[k].(bool); v != want {
						t.Fatalf("parseCallOptions(%v): %s = %v", opts, k, v)
					}
				}
			}
			for _, policy := range []Disclosure{DiscloseOnRequest, DiscloseNever} {
				d := New(Config{Disclosure: policy})
				caller, callee := optionPeers(t, d)
				cerr := d.Call(caller, &wamp.Message{Type: wamp.CALL, Request: 5, Details: opts, URI: "com.p"})
				checkHandlerErr(t, "CALL", opts, cerr)
				inv := callee.Last()
				switch m := caller.Last(); {
				case m == nil && inv != nil && inv.Type == wamp.INVOCATION:
					if err != nil {
						t.Fatalf("CALL with %v invoked, though the options do not parse", opts)
					}
				case m != nil && m.Type == wamp.ERROR && m.Request == 5:
					switch m.URI {
					case wamp.ErrInvalidArgument, ErrDiscloseMeDisallowed, wamp.ErrFeatureNotSupported, wamp.ErrProtocolViolation:
					default:
						t.Fatalf("CALL with %v: ERROR %q", opts, m.URI)
					}
				default:
					t.Fatalf("CALL with %v: caller got %v, callee %v", opts, m, inv)
				}
				// Ends the calls and stops their timers.
				d.RemoveSession(caller.ID)
				d.RemoveSession(callee.ID)
			}
		}
	})
}

func FuzzRegisterOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"match":"prefix","invoke":"roundrobin"}`,
		`{"match":"wildcard","invoke":"random","disclose_caller":true}`,
		`{"match":"exact","invoke":"first"}`,
		`{"invoke":"last"}`,
		`{"invoke":"all"}`,
		`{"match":"regex"}`,
		`{"match":1,"invoke":true,"disclose_caller":"yes"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range fuzzopts.Dicts(data) {
			match, invoke, err := parseRegisterOptions(opts)
			checkOptErr(t, "parseRegisterOptions", opts, err)
			if err == nil {
				switch match {
				case wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard:
				default:
					t.Fatalf("parseRegisterOptions(%v): match %q", opts, match)
				}
				switch invoke {
				case InvokeSingle, InvokeRoundRobin, InvokeRandom, InvokeFirst, InvokeLast:
				default:
					t.Fatalf("parseRegisterOptions(%v): invoke %q", opts, invoke)
				}
			}
			for _, policy := range []Disclosure{DiscloseOnRequest, DiscloseNever} {
				d := New(Config{Disclosure: policy})
				// Twice, from two callees: a shared registration or a
				// refusal of the second.
				for id := wamp.ID(1); id <= 2; id++ {
					for _, uri := range []wamp.URI{"com.p", "com..p", "com."} {
						p := peer(id)
						d.Register(p, &wamp.Message{Type: wamp.REGISTER, Request: 9, Details: opts, URI: uri})
						switch m := p.Last(); {
						case m == nil:
							t.Fatalf("REGISTER %q %v: no answer", uri, opts)
						case m.Type == wamp.REGISTERED:
							if err != nil {
								t.Fatalf("REGISTER %q %v: REGISTERED, though the options do not parse", uri, opts)
							}
						case m.Type == wamp.ERROR:
							switch m.URI {
							case wamp.ErrInvalidArgument, wamp.ErrInvalidURI, ErrDiscloseMeDisallowed,
								wamp.ErrProcedureAlreadyExists, ErrDifferentInvocationPolicy:
							default:
								t.Fatalf("REGISTER %q %v: ERROR %q", uri, opts, m.URI)
							}
						default:
							t.Fatalf("REGISTER %q %v: answered %v", uri, opts, m)
						}
					}
				}
			}
		}
	})
}

func FuzzCancelOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"mode":"skip"}`,
		`{"mode":"kill"}`,
		`{"mode":"killnowait"}`,
		`{"mode":"abort"}`,
		`{"mode":3}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range fuzzopts.Dicts(data) {
			d := New(Config{})
			caller, callee := optionPeers(t, d)
			if err := d.Call(caller, &wamp.Message{Type: wamp.CALL, Request: 5, URI: "com.p"}); err != nil {
				t.Fatal(err)
			}
			inv := callee.Last()
			err := d.Cancel(caller, &wamp.Message{Type: wamp.CANCEL, Request: 5, Details: opts})
			checkHandlerErr(t, "CANCEL", opts, err)
			// An empty mode reads as none (wamp.OptString), as an empty
			// match does for REGISTER and SUBSCRIBE.
			mode, isString := opts["mode"].(string)
			valid := opts["mode"] == nil || isString && (mode == "" || mode == "skip" || mode == "kill" || mode == "killnowait")
			m := caller.Last()
			switch {
			case !valid:
				if m == nil || m.Type != wamp.ERROR || m.ErrType != wamp.CANCEL || m.URI != wamp.ErrInvalidArgument {
					t.Fatalf("CANCEL with %v: caller got %v, want ERROR invalid_argument", opts, m)
				}
			case mode == "kill":
				if i := callee.Last(); i == nil || i.Type != wamp.INTERRUPT || i.Request != inv.Request {
					t.Fatalf("CANCEL with %v: callee got %v, want INTERRUPT", opts, i)
				}
			default:
				if m == nil || m.Type != wamp.ERROR || m.ErrType != wamp.CALL || m.URI != wamp.ErrCanceled {
					t.Fatalf("CANCEL with %v: caller got %v, want ERROR canceled", opts, m)
				}
			}
			d.RemoveSession(caller.ID)
			d.RemoveSession(callee.ID)
		}
	})
}

func FuzzYieldOptions(f *testing.F) {
	fuzzopts.Seeds(f,
		`{}`,
		`{"progress":true}`,
		`{"progress":false}`,
		`{"progress":"yes"}`,
		`{"ppt_scheme":"wamp","ppt_serializer":"cbor","ppt_cipher":"xsalsa20poly1305","ppt_keyid":"k"}`,
		`{"ppt_scheme":"wamp"}`,
		`{"enc_algo":"xbr","enc_key":"k","enc_serializer":"opaque"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range fuzzopts.Dicts(data) {
			d := New(Config{})
			caller, callee := optionPeers(t, d)
			if err := d.Call(caller, &wamp.Message{Type: wamp.CALL, Request: 5, Details: wamp.Dict{"receive_progress": true}, URI: "com.p"}); err != nil {
				t.Fatal(err)
			}
			inv := callee.Last()
			err := d.Yield(callee, &wamp.Message{Type: wamp.YIELD, Request: inv.Request, Details: opts, Args: wamp.List(1)})
			checkHandlerErr(t, "YIELD", opts, err)
			m := caller.Last()
			switch {
			case m == nil:
				t.Fatalf("YIELD with %v: the caller got nothing", opts)
			case m.Type == wamp.RESULT && m.Request == 5:
				if _, perr := wamp.ParsePassthru(opts); perr != nil {
					t.Fatalf("YIELD with %v: RESULT, though its passthru options are bad: %v", opts, perr)
				}
			case m.Type == wamp.ERROR && m.Request == 5:
				switch m.URI {
				case wamp.ErrInvalidArgument, wamp.ErrFeatureNotSupported:
				default:
					t.Fatalf("YIELD with %v: ERROR %q", opts, m.URI)
				}
			default:
				t.Fatalf("YIELD with %v: caller got %v", opts, m)
			}
			d.RemoveSession(caller.ID)
			d.RemoveSession(callee.ID)
		}
	})
}
