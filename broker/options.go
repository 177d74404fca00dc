package broker

import (
	"github.com/switchboard/switchboard/wamp"
)

// pubOptions are the PUBLISH options the broker acts on. Unknown options
// are ignored, as the specification asks.
type pubOptions struct {
	ack        bool
	excludeMe  bool
	discloseMe bool
	retain     bool
	filter     filter
	// ppt is the payload passthru attributes (ppt_*, or Autobahn's enc_*).
	ppt wamp.Passthru
}

// parse reads d into o, which holds the defaults. Every option of the wrong
// type or value is an invalid_argument *wamp.Error naming the option. The
// dict is walked once rather than looked up key by key: publications with
// options are rare, but a dict of one key is the common case among them.
func (o *pubOptions) parse(d wamp.Dict) error {
	f := &o.filter
	for k, v := range d {
		var err error
		switch k {
		case "acknowledge":
			o.ack, err = boolOpt(k, v)
		case "exclude_me":
			o.excludeMe, err = boolOpt(k, v)
		case "disclose_me":
			o.discloseMe, err = boolOpt(k, v)
		case "retain":
			o.retain, err = boolOpt(k, v)
		case "exclude":
			err = f.exclude.parse(k, v)
		case "eligible":
			err = f.eligible.parse(k, v)
		case "exclude_authid":
			err = f.excludeAuthID.parse(k, v)
		case "eligible_authid":
			err = f.eligibleAuthID.parse(k, v)
		case "exclude_authrole":
			err = f.excludeAuthRole.parse(k, v)
		case "eligible_authrole":
			err = f.eligibleAuthRole.parse(k, v)
		default:
			if !wamp.IsPassthruKey(k) {
				continue
			}
			err = o.ppt.Set(k, v)
		}
		if err != nil {
			return err
		}
	}
	if !o.ppt.IsZero() {
		if err := o.ppt.Check(); err != nil {
			return err
		}
	}
	f.auth = f.excludeAuthID.on || f.eligibleAuthID.on || f.excludeAuthRole.on || f.eligibleAuthRole.on
	f.active = f.auth || f.exclude.on || f.eligible.on
	return nil
}

func boolOpt(key string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, wamp.NewError(wamp.ErrInvalidArgument, "option "+key+" must be a boolean")
	}
	return b, nil
}

// filter is the subscriber black/white-listing of one publication. A
// subscriber receives the event if and only if it is in every eligible
// list present and in no exclude list present (the specification's six
// rules); an eligible list that is present but empty admits nobody.
type filter struct {
	active bool // some list is present
	auth   bool // some authid or authrole list is present

	exclude, eligible                 idSet
	excludeAuthID, eligibleAuthID     strSet
	excludeAuthRole, eligibleAuthRole strSet
}

// allows reports whether p passes the lists.
func (f *filter) allows(p Peer) bool {
	if !f.active {
		return true
	}
	sid := p.SessionID()
	if f.eligible.on && !f.eligible.has(sid) || f.exclude.on && f.exclude.has(sid) {
		return false
	}
	if f.auth {
		authid, authrole := p.Auth()
		if f.eligibleAuthID.on && !f.eligibleAuthID.has(authid) ||
			f.excludeAuthID.on && f.excludeAuthID.has(authid) ||
			f.eligibleAuthRole.on && !f.eligibleAuthRole.has(authrole) ||
			f.excludeAuthRole.on && f.excludeAuthRole.has(authrole) {
			return false
		}
	}
	return true
}

// options rebuilds the PUBLISH options of the lists that are present, as
// parse reads them, or returns nil when there are none.
func (f *filter) options() wamp.Dict {
	if !f.active {
		return nil
	}
	d := make(wamp.Dict, 6)
	f.exclude.option(d, "exclude")
	f.eligible.option(d, "eligible")
	f.excludeAuthID.option(d, "exclude_authid")
	f.eligibleAuthID.option(d, "eligible_authid")
	f.excludeAuthRole.option(d, "exclude_authrole")
	f.eligibleAuthRole.option(d, "eligible_authrole")
	return d
}

// setThreshold is the list length above which membership uses a map: a
// short list is faster scanned, a long one against a wide fan-out would
// cost lists x subscribers comparisons.
const setThreshold = 16

// idSet is a list of session ids from PUBLISH options.
type idSet struct {
	on  bool
	ids []wamp.ID
	set map[wamp.ID]struct{}
}

func (s *idSet) parse(key string, v any) error {
	l, ok := v.([]any)
	if !ok {
		return wamp.NewError(wamp.ErrInvalidArgument, "option "+key+" must be a list of session ids")
	}
	s.on = true
	s.ids = make([]wamp.ID, 0, len(l))
	for _, e := range l {
		id, ok := wamp.AsID(e)
		if !ok {
			return wamp.NewError(wamp.ErrInvalidArgument, "option "+key+" must be a list of session ids (integers in [0, 2^53])")
		}
		s.ids = append(s.ids, id)
	}
	if len(s.ids) > setThreshold {
		s.set = make(map[wamp.ID]struct{}, len(s.ids))
		for _, id := range s.ids {
			s.set[id] = struct{}{}
		}
	}
	return nil
}

// option sets d[key] to the list, as decoded values, if it is present.
func (s *idSet) option(d wamp.Dict, key string) {
	if !s.on {
		return
	}
	l := make([]any, len(s.ids))
	for i, id := range s.ids {
		l[i] = uint64(id)
	}
	d[key] = l
}

func (s *idSet) has(id wamp.ID) bool {
	if s.set != nil {
		_, ok := s.set[id]
		return ok
	}
	for _, x := range s.ids {
		if x == id {
			return true
		}
	}
	return false
}

// strSet is a list of authids or authroles from PUBLISH options.
type strSet struct {
	on  bool
	s   []string
	set map[string]struct{}
}

func (s *strSet) parse(key string, v any) error {
	l, ok := v.([]any)
	if !ok {
		return wamp.NewError(wamp.ErrInvalidArgument, "option "+key+" must be a list of strings")
	}
	s.on = true
	s.s = make([]string, 0, len(l))
	for _, e := range l {
		str, ok := e.(string)
		if !ok {
			return wamp.NewError(wamp.ErrInvalidArgument, "option "+key+" must be a list of strings")
		}
		s.s = append(s.s, str)
	}
	if len(s.s) > setThreshold {
		s.set = make(map[string]struct{}, len(s.s))
		for _, x := range s.s {
			s.set[x] = struct{}{}
		}
	}
	return nil
}

// option sets d[key] to the list, as decoded values, if it is present.
func (s *strSet) option(d wamp.Dict, key string) {
	if !s.on {
		return
	}
	l := make([]any, len(s.s))
	for i, x := range s.s {
		l[i] = x
	}
	d[key] = l
}

func (s *strSet) has(x string) bool {
	if s.set != nil {
		_, ok := s.set[x]
		return ok
	}
	for _, y := range s.s {
		if y == x {
			return true
		}
	}
	return false
}

// CheckPublishOptions checks d as Publish would check PUBLISH.Options from
// a publisher, for options that are stored now and published later (a
// session's testament), when an error could no longer reach anyone. The
// error is a *wamp.Error: invalid_argument naming the option, or
// option_disallowed.disclose_me under the realm's never policy.
func (b *Broker) CheckPublishOptions(d wamp.Dict) error {
	var o pubOptions
	if err := o.parse(d); err != nil {
		return err
	}
	if o.discloseMe && b.cfg.Disclose == DiscloseNever {
		return wamp.NewError(ErrOptionDisallowedDiscloseMe, "this realm does not disclose publishers")
	}
	return nil
}
