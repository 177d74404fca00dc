package bridge_test

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/config"
)

// BenchmarkBridgePublish measures POST /publish end to end: HTTP/1.1 with
// keep-alive connections from 32 concurrent clients (b.RunParallel, 16
// per core here), JSON checks, the bridge's session, the realm and broker,
// PUBLISHED back. It reports requests per second. The load generator runs
// in the same process, so it shares the CPUs with the router.
//
//	go test -run XXX -bench BridgePublish -benchtime 5s ./bridge/
func BenchmarkBridgePublish(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) { benchPublish(b, signed) })
	}
}

func benchPublish(b *testing.B, signed bool) {
	cfg := loopback()
	cfg.Keys = []config.BridgeKey{{Key: "bench", Secret: &config.Secret{Plain: "bench-secret"}}}
	n := start(b, cfg, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := []byte(`{"topic": "com.example.bench", "args": ["hello", 1], "kwargs": {"k": true}}`)
	var nonce atomic.Uint64
	var failed atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			url := n.base + "/publish"
			if signed {
				v := nonce.Add(1)
				url += "?" + bridge.SignQuery("bench", "bench-secret", v, v, time.Now(), body)
			}
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
