package cluster

import (
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Kill implements realm.Link: the node of session sid closes it, as
// wamp.session.kill would there. Like any data message it is lost if the
// node is cut off; the caller of the kill is not told.
func (l *Realm) Kill(node uint64, sid wamp.ID, reason wamp.URI, msg string) {
	m := wamp.Message{Type: wamp.GOODBYE, URI: reason}
	if msg != "" {
		m.Details = wamp.Dict{"message": msg}
	}
	if err := l.n.sendData(node, kindKill, sid, l.name, &m); err != nil {
		l.n.log.Debug("kill for another node not sent", "session", uint64(sid), "error", err)
	}
}

// killLocal closes a local session another node's meta API killed.
func (l *Realm) killLocal(sid wamp.ID, m *wamp.Message) {
	if s := l.r.LocalSession(sid); s != nil {
		s.Goodbye(m.URI, wamp.String(m.Details, "message"))
	}
}

// Testaments implements realm.Link.
func (l *Realm) Testaments(s *session.Session, ts []realm.Testament) {
	l.n.tst.set(l.name, s, ts)
}
