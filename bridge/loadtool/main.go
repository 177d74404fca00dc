// Command loadtool posts to the HTTP bridge's /publish from concurrent
// keep-alive connections for a while and prints the requests per second
// (a small "hey" for the bridge, with nothing to install).
//
//	go run ./bridge/loadtool -url http://127.0.0.1:8080/publish -c 32 -d 5s
//
// With -key and -secret each request is signed; with -batch N each request
// carries N publications (a batch, docs/web.md).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/bridge"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/publish", "the bridge's publish URL")
	conns := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "how long to run")
	topic := flag.String("topic", "com.example.load", "topic to publish on")
	key := flag.String("key", "", "sign with this key")
	secret := flag.String("secret", "", "the key's secret")
	batch := flag.Int("batch", 0, "publications per request, as a batch (0: one, not as a batch)")
	flag.Parse()

	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	one := fmt.Sprintf(`{"topic": %q, "args": ["hello", 1], "kwargs": {"k": true}}`, *topic)
	body := []byte(one)
	perRequest := 1
	if *batch > 0 {
		perRequest = *batch
		body = []byte("[" + strings.TrimSuffix(strings.Repeat(one+",", *batch), ",") + "]")
	}
	var ok, failed, nonce atomic.Uint64
	// Nonces are remembered by the router: a second run must not start
	// where the first did.
	nonce.Store(rand.Uint64N(1 << 52))
	var firstErr atomic.Value
	end := time.Now().Add(*dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				u := *url
				if *key != "" {
					n := nonce.Add(1)
					u += "?" + bridge.SignQuery(*key, *secret, n, n, time.Now(), body)
				}
				resp, err := client.Post(u, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status+" "+string(b))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("%d requests, %d failed in %v: %.0f req/s, %.0f publications/s (%d connections, %d per request)\n",
		ok.Load(), failed.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(),
		float64(ok.Load())*float64(perRequest)/elapsed.Seconds(), *conns, perRequest)
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "first failure:", e)
		os.Exit(1)
	}
}
