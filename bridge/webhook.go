package bridge

import (
	"context"
	"net/http"
	"strconv"

	"github.com/switchboard/switchboard/wamp"
)

// Webhook publishes each POST to Path as an event on Topic, for services
// such as GitHub or Stripe that call a URL when something happens. The
// event has one positional argument, {"body": "<the body as text>",
// "headers": {"<name>": "<value>", ...}}, with the headers listed in
// Headers (those the request has). It is published as the bridge's own
// identity (Config.AuthID and Role); anyone who can reach the path can
// post, as such services sign in ways of their own, which subscribers
// check with the headers they get.
type Webhook struct {
	Path    string
	Topic   wamp.URI
	Headers []string
}

type webhook struct {
	b   *Bridge
	cfg Webhook
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := h.b
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		b.fail(w, refuse(http.StatusMethodNotAllowed, ErrMethodNotAllowed, r.Method+" is not allowed: use POST"))
		return
	}
	// Any content type: the body is passed on as text.
	r.Header.Del("Content-Type")
	body, p := b.readBody(w, r)
	if p != nil {
		b.fail(w, p)
		return
	}
	headers := make(map[string]any, len(h.cfg.Headers))
	for _, name := range h.cfg.Headers {
		if v := r.Header.Get(name); v != "" {
			headers[name] = v
		}
	}
	args, err := b.json.AppendValue(nil, []any{map[string]any{"body": string(body), "headers": headers}})
	if err != nil {
		b.fail(w, refuse(http.StatusBadRequest, ErrBadPayload, "cannot encode the webhook: "+err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.cfg.CallTimeout)
	defer cancel()
	peer := b.anon.peer()
	if err := peer.Ready(ctx); err != nil {
		b.fail(w, unavailable(err))
		return
	}
	id, err := peer.Publish(ctx, h.cfg.Topic, nil, args, nil)
	if err != nil {
		b.wampFail(w, nil, err)
		return
	}
	b.hooks.Add(1)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(strconv.AppendUint([]byte(`{"id":`), uint64(id), 10))
	_, _ = w.Write([]byte("}\n"))
}
