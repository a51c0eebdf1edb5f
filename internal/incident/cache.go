package incident

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/ingest"
)

// lastSeenResolution bounds how stale an alert's last_seen_at may be: a
// repeat of an unchanged alert is written at most this often.
const lastSeenResolution = time.Minute

// stateCache remembers, per alert, what the database last committed for
// it, so a repeat that would change nothing (Alertmanager resends every
// alert of a group on each notification) is answered without a write.
// It is only ever a shortcut: an entry is set after its transaction
// commits, a miss goes to the database, and anything that changes alerts
// behind ingest's back (a manual resolve) drops the entries it touches.
type stateCache struct {
	seed   maphash.Seed
	shards [16]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[alertKey]alertState
}

type alertKey struct{ integration, fingerprint string }

type alertState struct {
	status     ingest.Status
	digest     uint64
	incidentID int64
	writtenAt  time.Time
}

// maxPerShard bounds memory; a full shard is simply emptied.
const maxPerShard = 1 << 16

func newStateCache() *stateCache {
	c := &stateCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[alertKey]alertState)
	}
	return c
}

func (c *stateCache) shard(k alertKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.fingerprint)%uint64(len(c.shards))]
}

func (c *stateCache) get(k alertKey) (alertState, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	st, ok := sh.m[k]
	sh.mu.Unlock()
	return st, ok
}

func (c *stateCache) put(k alertKey, st alertState) {
	sh := c.shard(k)
	sh.mu.Lock()
	if len(sh.m) >= maxPerShard {
		clear(sh.m)
	}
	sh.m[k] = st
	sh.mu.Unlock()
}

// dropIncident forgets every alert of an incident. It scans the cache,
// which is fine for what calls it: a person resolving an incident.
func (c *stateCache) dropIncident(id int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			if st.incidentID == id {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// digestSeed is fixed for the process: digests are compared only within it.
var digestSeed = maphash.MakeSeed()

// digest hashes what an update of a firing alert would write, so an
// unchanged repeat is recognised without encoding anything. Annotations
// are summed entry by entry, so their order does not matter.
func (p *prepared) digest() uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	for _, s := range [...]string{p.Summary, p.SourceURL, p.groupKey} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(byte(p.Severity))
	sum := h.Sum64()
	for k, v := range p.Annotations {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(v)
		sum += h.Sum64()
	}
	return sum
}

// unchanged reports whether writing p would change nothing that matters
// now: same status, and for a firing alert the same content and a
// last_seen_at fresh enough.
func (st alertState) unchanged(p *prepared, now time.Time) bool {
	if st.status != p.Status {
		return false
	}
	if p.Status == ingest.StatusResolved {
		return true
	}
	return st.digest == p.hash && now.Sub(st.writtenAt) < lastSeenResolution
}
