package attempts

import (
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
)

func TestLimiterShutsOutAfterBurstAndLetsOneBackPerEvery(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	l := New(Policy{Burst: 3, Every: time.Minute}, clk.Now)

	for i := 1; i <= 3; i++ {
		if _, ok := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused before the burst was used", i)
		}
		if shut := l.Fail("a"); shut != (i == 3) {
			t.Fatalf("Fail #%d reported shut out = %v", i, shut)
		}
	}
	wait, ok := l.Allow("a")
	if ok || wait != time.Minute {
		t.Fatalf("after 3 failures: Allow = %v, %v; want refused for 1m", wait, ok)
	}
	if _, ok := l.Allow("b"); !ok {
		t.Fatal("another client is refused for a's failures")
	}

	clk.Advance(30 * time.Second)
	if wait, ok := l.Allow("a"); ok || wait != 30*time.Second {
		t.Fatalf("half-way: Allow = %v, %v; want refused for 30s", wait, ok)
	}
	clk.Advance(30 * time.Second)
	if _, ok := l.Allow("a"); !ok {
		t.Fatal("after Every, one attempt is allowed again")
	}
	if !l.Fail("a") {
		t.Fatal("the one earned-back attempt failing shuts the client out again")
	}
	if _, ok := l.Allow("a"); ok {
		t.Fatal("allowed right after failing its earned-back attempt")
	}

	clk.Advance(3 * time.Minute)
	for i := 0; i < 2; i++ {
		l.Fail("a")
	}
	if _, ok := l.Allow("a"); !ok {
		t.Fatal("a drained bucket is a fresh burst: 2 failures of 3 refused")
	}
}

func TestLimiterForgetsClientsPastItsBound(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	l := New(Policy{Burst: 1, Every: time.Hour}, clk.Now)
	l.Fail("first")
	for i := 0; i < maxClients+10; i++ {
		clk.Advance(time.Millisecond)
		l.Fail("c" + strconv.Itoa(i))
	}
	if n := len(l.clients); n > maxClients {
		t.Fatalf("%d clients remembered, bound is %d", n, maxClients)
	}
	if _, ok := l.clients["first"]; ok {
		t.Fatal("the least recently seen client was kept while the table was full")
	}
	if _, ok := l.Allow("c" + strconv.Itoa(maxClients+9)); ok {
		t.Fatal("the newest client's failure was forgotten")
	}
}

func TestClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5123", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5123", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy names the client", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's own claim left of the proxy's is ignored", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.2.3:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"header split over lines", "10.1.2.3:80", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"garbage stops at the last good hop", "10.1.2.3:80", []string{"198.51.100.1, nonsense"}, "10.1.2.3"},
		{"trusted proxy without a header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 counts by /64", "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:443", nil, "203.0.113.7"},
		{"trusted loopback proxy over IPv6", "[::1]:8080", []string{"2001:db8::9"}, "2001:db8::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := Client(r, trusted); got != tt.want {
				t.Errorf("Client = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", time.Minute: "60"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
