package chat

import (
	"sync"
	"time"
)

// Limit is a platform's pace for messages into one place: Burst at once,
// then one every Every. Within any span W it lets through at most
// Burst + W/Every messages; platforms' limits are chosen so that stays
// under what the platform allows.
type Limit struct {
	Every time.Duration
	Burst int
}

// Paced is a platform with rate limits of its own, which the deliverer
// keeps to rather than running into them: in an alert storm, 429s (and
// on Telegram, growing bans) would slow every room of every team.
type Paced interface {
	// PaceKey names the bucket a room's messages count against: the room
	// itself, or a Telegram group for all of its topics.
	PaceKey(room Room) string
	// Pace is each bucket's limit.
	Pace() Limit
}

// pacer holds one token bucket per key.
type pacer struct {
	limit Limit
	mu    sync.Mutex
	// buckets maps a key to the time its bucket is next empty-to-full
	// accounted from: the "theoretical arrival time" of a GCRA, which is
	// a token bucket kept as one instant.
	buckets map[string]time.Time
}

func newPacer(l Limit) *pacer {
	if l.Burst < 1 {
		l.Burst = 1
	}
	return &pacer{limit: l, buckets: map[string]time.Time{}}
}

// take spends a message's share of key's bucket at now, or says how long
// to wait until there is one (and spends nothing).
func (p *pacer) take(key string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	tat := p.buckets[key]
	if tat.Before(now) {
		tat = now
	}
	// A full bucket may run up to Burst-1 intervals ahead of now.
	allowed := now.Add(time.Duration(p.limit.Burst-1) * p.limit.Every)
	if tat.After(allowed) {
		return tat.Sub(allowed)
	}
	p.buckets[key] = tat.Add(p.limit.Every)
	if len(p.buckets) > 4096 {
		p.forget(now)
	}
	return 0
}

// forget drops buckets that are full again: they hold nothing a fresh
// bucket would not.
func (p *pacer) forget(now time.Time) {
	for k, tat := range p.buckets {
		if !tat.After(now) {
			delete(p.buckets, k)
		}
	}
}
