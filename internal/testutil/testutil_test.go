package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The series keys are what tests index the map with, so they must be
// spelled as client_golang writes them.
func TestParseMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"}, []string{"z", "a"})
	c.WithLabelValues(`q"\`+"\n", "x").Add(2)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "h"})
	g.Set(-1.5)
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: []float64{0.5, 1}}, []string{"realm"})
	h.WithLabelValues("r").Observe(0.7)
	reg.MustRegister(c, g, h)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]float64{
		`c_total{a="x",z="q\"\\\n"}`:            2,
		`g`:                                     -1.5,
		`h_seconds_bucket{realm="r",le="0.5"}`:  0,
		`h_seconds_bucket{realm="r",le="1"}`:    1,
		`h_seconds_bucket{realm="r",le="+Inf"}`: 1,
		`h_seconds_sum{realm="r"}`:              0.7,
		`h_seconds_count{realm="r"}`:            1,
	}
	if got := ParseMetrics(t, text.String()); !maps.Equal(got, want) {
		t.Errorf("ParseMetrics:\n got %v\nwant %v\nof\n%s", got, want, text.String())
	}
}

func TestPoll(t *testing.T) {
	var n atomic.Int32
	if !Poll(time.Minute, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("Poll gave up on a condition that held")
	}
	if Poll(0, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	// The last look is after the deadline: a condition that holds by then
	// counts, however slow the machine.
	var looks atomic.Int32
	if !Poll(0, func() bool { return looks.Add(1) == 2 }) {
		t.Fatal("Poll did not look again after its deadline")
	}
}

// A server certificate issued by a CA verifies against the CA's pool,
// and the pair from TLSConfigs completes a handshake on loopback.
func TestCerts(t *testing.T) {
	ca := NewCA(t, "test CA")
	leaf := ca.Issue(t, CertSpec{Hosts: []string{"127.0.0.1", "localhost"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost"}); err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	if _, err := tls.X509KeyPair(leaf.CertPEM(), leaf.KeyPEM(t)); err != nil {
		t.Fatalf("PEM pair: %v", err)
	}

	server, client := TLSConfigs(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			c.Close()
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

// Writers on several goroutines, and a reader alongside them, lose no
// bytes; run with -race to check the locking.
func TestBufferConcurrentWrites(t *testing.T) {
	const writers, writes = 8, 100
	line := []byte("0123456789\n")
	var b Buffer
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range writes {
				if n, err := b.Write(line); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v; want %d, nil", n, err, len(line))
					return
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	got := b.String()
	if want := writers * writes * len(line); len(got) != want {
		t.Errorf("buffer holds %d bytes, want %d", len(got), want)
	}
	if n := strings.Count(got, string(line)); n != writers*writes {
		t.Errorf("buffer holds %d whole lines, want %d", n, writers*writes)
	}
}
