// Package attempts limits failed authentication attempts per client: the
// console's sign-in, the REST API's bearer tokens and the monitoring
// webhooks' tokens. A client that keeps presenting wrong credentials is
// refused for a while, whatever it sends, so guessing a token online costs
// hours per handful of guesses; a client that authenticates is never
// counted.
//
// Each client has a bucket of Burst failures that refills at one per
// Every: a person who mistypes a token a few times never notices, a
// script guessing tokens gets Burst tries and then one per Every.
package attempts

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Policy is how many failures a client may have in a row (Burst) and how
// fast it earns one back (one per Every).
type Policy struct {
	Burst int
	Every time.Duration
}

// maxClients bounds the clients remembered, so a flood from many addresses
// cannot grow memory without end. Past it, clients whose buckets are full
// again are forgotten first, then the least recently seen.
const maxClients = 10000

// Limiter counts failures per client key. It is safe for concurrent use.
type Limiter struct {
	policy Policy
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	// failures is how many failures are still held against the client
	// at seen; it drains at one per Every.
	failures float64
	seen     time.Time
}

// New returns a limiter with policy, telling time with now (the bot's
// injected clock).
func New(policy Policy, now func() time.Time) *Limiter {
	if policy.Burst < 1 {
		policy.Burst = 1
	}
	if policy.Every <= 0 {
		policy.Every = time.Minute
	}
	return &Limiter{policy: policy, now: now, clients: map[string]*bucket{}}
}

// drained is how many failures b still holds at t.
func (l *Limiter) drained(b *bucket, t time.Time) float64 {
	f := b.failures - float64(t.Sub(b.seen))/float64(l.policy.Every)
	if f < 0 {
		return 0
	}
	return f
}

// Allow reports whether key may try to authenticate now; when it may not,
// wait is how long until it may try once more (for Retry-After).
func (l *Limiter) Allow(key string) (wait time.Duration, ok bool) {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		return 0, true
	}
	f := l.drained(b, t)
	if over := f - float64(l.policy.Burst-1); over > 0 {
		return time.Duration(over * float64(l.policy.Every)), false
	}
	return 0, true
}

// Fail records a failed attempt by key and reports whether key has now
// used its allowance (its next attempt will be refused), so the caller
// can log the moment a client is shut out once rather than every refusal.
func (l *Limiter) Fail(key string) (shutOut bool) {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= maxClients {
			l.evict(t)
		}
		b = &bucket{}
		l.clients[key] = b
	}
	b.failures = l.drained(b, t) + 1
	b.seen = t
	return b.failures > float64(l.policy.Burst-1)
}

// evict forgets every client with nothing held against it, or, when all
// still have failures, the one seen longest ago.
func (l *Limiter) evict(t time.Time) {
	var oldest string
	var oldestSeen time.Time
	for k, b := range l.clients {
		if l.drained(b, t) == 0 {
			delete(l.clients, k)
			continue
		}
		if oldest == "" || b.seen.Before(oldestSeen) {
			oldest, oldestSeen = k, b.seen
		}
	}
	if len(l.clients) >= maxClients {
		delete(l.clients, oldest)
	}
}

// Client names who sent r, for counting its failures: the peer address,
// or, when the peer is one of the trusted proxies, the address the proxy
// says it forwarded for (the right-most X-Forwarded-For entry that is not
// itself a trusted proxy; the left ones are the client's own claim).
// IPv6 addresses count by their /64, which one host usually holds whole.
func Client(r *http.Request, trusted []netip.Prefix) string {
	addr := peer(r.RemoteAddr)
	if addr.IsValid() && isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a garbled entry: stop at the last address known good
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if !addr.IsValid() {
		return r.RemoteAddr
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func peer(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// RetryAfter formats wait as a Retry-After header value: whole seconds,
// rounded up, at least 1.
func RetryAfter(wait time.Duration) string {
	s := int64((wait + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
