package dealer

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

type internalAnswer struct {
	res Result
	err error
}

// callInternal starts CallInternal and returns where its answer will come.
func callInternal(ctx context.Context, d *Dealer, proc wamp.URI, args wamp.Payload) <-chan internalAnswer {
	ch := make(chan internalAnswer, 1)
	go func() {
		res, err := d.CallInternal(ctx, proc, args, wamp.Payload{})
		ch <- internalAnswer{res, err}
	}()
	return ch
}

// invocation waits for the callee's INVOCATION (the internal call runs on
// its own goroutine) and returns it.
func invocation(t *testing.T, p *fakepeer.Peer) *wamp.Message {
	t.Helper()
	var msgs []*wamp.Message
	testutil.Eventually(t, 10*time.Second, func() bool { msgs = p.Messages(); return len(msgs) > 0 }, "an INVOCATION for the callee")
	if len(msgs) != 1 || msgs[0].Type != wamp.INVOCATION {
		t.Fatalf("callee got %s, want one INVOCATION", describe(msgs))
	}
	return msgs[0]
}

func await(t *testing.T, ch <-chan internalAnswer) internalAnswer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("CallInternal did not return within 10s")
		return internalAnswer{}
	}
}

func TestCallInternal(t *testing.T) {
	d := New(Config{})
	callee := peer(2, canceling...)
	registerOpts(t, d, callee, 1, "{}", "com.example.auth")

	ch := callInternal(context.Background(), d, "com.example.auth", wamp.List("realm1", "alice"))
	inv := invocation(t, callee)
	if len(inv.Details) != 0 {
		t.Errorf("INVOCATION details %v: the router as caller discloses nothing", inv.Details)
	}
	if got := string(inv.Args.Raw); got != `["realm1","alice"]` {
		t.Errorf("INVOCATION args %s", got)
	}
	if err := yield(t, d, callee, inv.Request, "{}", `["frontend"]`); err != nil {
		t.Fatal(err)
	}
	a := await(t, ch)
	if a.err != nil || string(a.res.Args.Raw) != `["frontend"]` || a.res.Args.Ser != wamp.JSON {
		t.Fatalf("answer %s (%v), %v", a.res.Args.Raw, a.res.Args.Ser, a.err)
	}
	checkEmpty(t, d)

	// A callee ERROR comes back as a *wamp.Error with its message.
	ch = callInternal(context.Background(), d, "com.example.auth", wamp.Payload{})
	inv = invocation(t, callee)
	if err := d.Error(callee, fakepeer.Decode(t, `[8,68,`+itoa(inv.Request)+`,{"message":"go away"},"wamp.error.not_authorized"]`)); err != nil {
		t.Fatal(err)
	}
	a = await(t, ch)
	var we *wamp.Error
	if !errors.As(a.err, &we) || we.URI != wamp.ErrNotAuthorized || we.Msg != "go away" {
		t.Errorf("err = %v, want wamp.error.not_authorized: go away", a.err)
	}

	// No callee: the dealer's own error.
	a = await(t, callInternal(context.Background(), d, "com.example.nobody", wamp.Payload{}))
	if !errors.As(a.err, &we) || we.URI != wamp.ErrNoSuchProcedure {
		t.Errorf("err = %v, want no_such_procedure", a.err)
	}
	checkEmpty(t, d)
}

func itoa(id wamp.ID) string { return strconv.FormatUint(uint64(id), 10) }

// When ctx ends first the call is canceled: the callee hears INTERRUPT,
// its late answer is swallowed, and nothing is left pending.
func TestCallInternalCanceled(t *testing.T) {
	d := New(Config{})
	callee := peer(2, canceling...)
	registerOpts(t, d, callee, 1, "{}", "com.example.slow")
	ctx, cancel := context.WithCancel(context.Background())
	ch := callInternal(ctx, d, "com.example.slow", wamp.Payload{})
	inv := invocation(t, callee)
	cancel()
	a := await(t, ch)
	if !errors.Is(a.err, ErrInternalCanceled) || !errors.Is(a.err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInternalCanceled and context.Canceled", a.err)
	}
	m := one(t, callee, wamp.INTERRUPT)
	if m.Request != inv.Request || wamp.String(m.Details, "mode") != "killnowait" {
		t.Errorf("INTERRUPT %v %v", m, m.Details)
	}
	if err := yield(t, d, callee, inv.Request, "{}", `["late"]`); err != nil {
		t.Errorf("late YIELD after cancel: %v", err)
	}
	checkEmpty(t, d)
}

// Internal calls run concurrently and each gets its own answer.
func TestCallInternalConcurrent(t *testing.T) {
	d := New(Config{})
	callee := peer(2)
	registerOpts(t, d, callee, 1, "{}", "com.example.echo")
	const n = 8
	chans := make([]<-chan internalAnswer, n)
	for i := range n {
		chans[i] = callInternal(context.Background(), d, "com.example.echo", wamp.List(int64(i)))
	}
	var invs []*wamp.Message
	testutil.Eventually(t, 10*time.Second, func() bool {
		invs = append(invs, callee.Messages()...)
		return len(invs) >= n
	}, "%d INVOCATIONs", n)
	if len(invs) != n {
		t.Fatalf("%d INVOCATIONs, want %d", len(invs), n)
	}
	for _, inv := range invs {
		if err := yield(t, d, callee, inv.Request, "{}", string(inv.Args.Raw)); err != nil {
			t.Fatal(err)
		}
	}
	for i, ch := range chans {
		a := await(t, ch)
		if want := "[" + itoa(wamp.ID(i)) + "]"; a.err != nil || string(a.res.Args.Raw) != want {
			t.Errorf("call %d got %s, %v; want %s", i, a.res.Args.Raw, a.err, want)
		}
	}
	checkEmpty(t, d)
}

// A local procedure (the meta API) answers an internal call too.
func TestCallInternalLocal(t *testing.T) {
	d := New(Config{})
	if err := d.RegisterLocal("wamp.test.hello", func(p Peer, m *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		return wamp.List("hi", uint64(p.SessionID())), wamp.Payload{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	a := await(t, callInternal(context.Background(), d, "wamp.test.hello", wamp.Payload{}))
	if a.err != nil {
		t.Fatal(a.err)
	}
	if list, ok := a.res.Args.Value.([]any); !ok || len(list) != 2 || list[0] != "hi" || list[1] != uint64(0) {
		t.Errorf("answer %#v", a.res.Args)
	}
}
