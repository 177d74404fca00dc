package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterDelays(t *testing.T) {
	clk := newClock()
	l := NewLimiter(LimiterConfig{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 8 * time.Second, ForgetAfter: time.Hour, Now: clk.Now})
	const a, b = "192.0.2.1:1000", "192.0.2.2:1000"
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := l.Delay(a); got != w {
			t.Errorf("after %d failures: Delay = %v, want %v", i, got, w)
		}
		l.Failure(a)
		clk.Advance(time.Minute)
	}
	// Other ports of the same IP share the count; other IPs do not.
	if got := l.Delay("192.0.2.1:2000"); got != 8*time.Second {
		t.Errorf("same IP, other port: Delay = %v, want 8s", got)
	}
	if got := l.Delay(b); got != 0 {
		t.Errorf("other IP: Delay = %v, want 0", got)
	}
}

func TestLimiterForgets(t *testing.T) {
	clk := newClock()
	l := NewLimiter(LimiterConfig{FreeFailures: 1, BaseDelay: time.Second, ForgetAfter: 10 * time.Minute, Now: clk.Now})
	const a = "[2001:db8::1]:443"
	l.Failure(a)
	l.Failure(a)
	if got := l.Delay(a); got != time.Second {
		t.Fatalf("Delay = %v, want 1s", got)
	}
	clk.Advance(9 * time.Minute)
	if got := l.Delay(a); got != time.Second {
		t.Errorf("9 minutes later: Delay = %v, want 1s", got)
	}
	clk.Advance(time.Minute)
	if got := l.Delay(a); got != 0 {
		t.Errorf("10 minutes after the last failure: Delay = %v, want 0", got)
	}
	if l.Len() != 0 {
		t.Errorf("Len = %d after forgetting, want 0", l.Len())
	}
}

func TestLimiterBounded(t *testing.T) {
	clk := newClock()
	l := NewLimiter(LimiterConfig{FreeFailures: 1, MaxAddresses: 3, Now: clk.Now})
	for i := range 10 {
		addr := fmt.Sprintf("198.51.100.%d:1", i)
		l.Failure(addr)
		l.Failure(addr)
		clk.Advance(time.Second)
	}
	if l.Len() != 3 {
		t.Errorf("Len = %d, want the bound 3", l.Len())
	}
	if l.Delay("198.51.100.9:1") == 0 {
		t.Error("the most recent address was forgotten")
	}
	if l.Delay("198.51.100.0:1") != 0 {
		t.Error("the oldest address is still remembered past the bound")
	}
}

func TestLimiterNilAndUnix(t *testing.T) {
	var l *Limiter
	l.Failure("192.0.2.1:1")
	if l.Delay("192.0.2.1:1") != 0 || l.Len() != 0 {
		t.Error("a nil Limiter limits")
	}
	l = NewLimiter(LimiterConfig{FreeFailures: 1})
	for range 5 {
		l.Failure("@")
		l.Failure("")
	}
	if l.Delay("@") != 0 || l.Delay("") != 0 || l.Len() != 0 {
		t.Error("Unix socket peers (no address) are limited")
	}
}
