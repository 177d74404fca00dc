package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/switchboard/switchboard/config"
)

// testOutbox is an outbox without a goroutine or NATS: the test calls
// flush and reads what would have been published.
func testOutbox(max int) (*outbox, *[][]byte) {
	var sent [][]byte
	o := &outbox{n: New(config.Cluster{Name: "t", Node: "a"}, nil), max: max, kick: make(chan struct{}, 1), done: make(chan struct{}),
		publish: func(b []byte) error { sent = append(sent, slices.Clone(b)); return nil }}
	o.space.L = &o.mu
	return o, &sent
}

func records(t *testing.T, msg []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	if err := eachRecord(msg, func(r []byte) { recs = append(recs, slices.Clone(r)) }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestOutboxBatches checks that what waits in an outbox goes as one NATS
// message holding every record in order, and that a lone record goes as
// a plain data message.
func TestOutboxBatches(t *testing.T) {
	o, sent := testOutbox(outboxMax)
	var want [][]byte
	for i := range 5 {
		rec := []byte(fmt.Sprintf("%c record %d", kindPub, i))
		want = append(want, rec)
		if !o.put(rec) {
			t.Fatal("put refused by an open outbox")
		}
	}
	o.flush()
	lone := []byte{kindPub, 'x'}
	o.put(lone)
	o.flush()
	o.flush() // nothing waits: nothing is sent
	if len(*sent) != 2 {
		t.Fatalf("%d messages published, want 2", len(*sent))
	}
	if (*sent)[0][0] != kindBatch {
		t.Fatalf("first message starts with %d, want kindBatch", (*sent)[0][0])
	}
	if got := records(t, (*sent)[0]); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("batch holds %q, want %q", got, want)
	}
	if !bytes.Equal((*sent)[1], lone) {
		t.Fatalf("lone record published as %q, want %q", (*sent)[1], lone)
	}
	if got := o.n.stats.out[kindPub].Load(); got != 6 {
		t.Fatalf("events out = %d, want 6", got)
	}
}

// TestOutboxBound checks that a record that does not fit waits for the
// next flush, that one larger than the bound goes alone, and that a
// closed outbox refuses records and frees a waiting publisher.
func TestOutboxBound(t *testing.T) {
	o, sent := testOutbox(64)
	big := bytes.Repeat([]byte{kindPub}, 200)
	if !o.put(big) {
		t.Fatal("a record larger than the bound was refused by an empty outbox")
	}
	put := make(chan bool)
	go func() { put <- o.put([]byte{kindPub, 1}) }()
	// The second put waits: the first record fills the outbox.
	o.flush()
	if !<-put {
		t.Fatal("put refused after a flush made room")
	}
	o.flush()
	if len(*sent) != 2 || !bytes.Equal((*sent)[0], big) || !bytes.Equal((*sent)[1], []byte{kindPub, 1}) {
		t.Fatalf("published %d messages %q", len(*sent), *sent)
	}

	o.put(big)
	go func() { put <- o.put([]byte{kindPub, 2}) }()
	o.close()
	if <-put {
		t.Fatal("a publisher waiting on a closed outbox had its record taken")
	}
	if o.put([]byte{kindPub, 3}) {
		t.Fatal("a closed outbox took a record")
	}
}

func TestEachRecordRejectsTruncatedBatch(t *testing.T) {
	b := []byte{kindBatch, 10, 'a', 'b'}
	if err := eachRecord(b, func([]byte) {}); err == nil {
		t.Fatal("a batch whose record runs past its end was accepted")
	}
}
