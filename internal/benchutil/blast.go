package benchutil

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// BlastResult is what a storm's requests got.
type BlastResult struct {
	// Start is when the first request went out, End when the last answer
	// was read.
	Start, End time.Time
	// Accepted maps each incident an answer named to when the first 202
	// naming it was read.
	Accepted map[int64]time.Time
	Alerts   int // alerts in requests answered 202
	Errors   int
	FirstErr string // one of the errors, for the report
	Cut      bool   // stopped by the timeout or an interrupt
}

// Took is how long the requests took, first to last.
func (b BlastResult) Took() time.Duration { return b.End.Sub(b.Start) }

// Blast posts every body once to url (http://host:port/path, with auth as
// its Authorization header) from clients kept-alive connections, as fast
// as the server answers, and reads the incidents each 202 names (the
// webhook's {"incidents": [...]}); perBody[i] is how many alerts body i
// carries. A request that fails is not retried (its alerts may or may
// not be in). It stops at timeout or when ctx ends.
func Blast(ctx context.Context, url, auth string, bodies [][]byte, perBody []int, clients int, timeout time.Duration) BlastResult {
	host, path := SplitURL(url)
	type answer struct {
		at   time.Time
		body []byte
	}
	var (
		next    atomic.Int64
		cut     atomic.Bool
		mu      sync.Mutex
		answers []answer
		res     = BlastResult{Accepted: map[int64]time.Time{}}
		wg      sync.WaitGroup
	)
	res.Start = time.Now()
	deadline := res.Start.Add(timeout)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				conn  *RawConn
				buf   []byte
				local []answer
				errs  int
				alert int
				first string
			)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					break
				}
				if ctx.Err() != nil || time.Now().After(deadline) {
					cut.Store(true)
					break
				}
				if conn == nil {
					c, err := DialRaw(host)
					if err != nil {
						errs++
						first = err.Error()
						continue
					}
					c.Timeout = 30 * time.Second
					conn = c
				}
				buf = AppendRequest(buf[:0], host, path, auth, bodies[i])
				code, body, err := conn.RoundTripBody(buf, nil)
				if err != nil {
					errs++
					first = err.Error()
					conn.Close()
					conn = nil
					continue
				}
				if code != 202 {
					errs++
					first = fmt.Sprintf("HTTP %d: %.200s", code, body)
					continue
				}
				alert += perBody[i]
				local = append(local, answer{time.Now(), body})
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			answers = append(answers, local...)
			res.Errors += errs
			res.Alerts += alert
			if first != "" {
				res.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.End = time.Now()
	res.Cut = cut.Load()
	for _, a := range answers {
		var ans struct {
			Incidents []int64 `json:"incidents"`
		}
		if json.Unmarshal(a.body, &ans) != nil {
			continue
		}
		for _, id := range ans.Incidents {
			if t, ok := res.Accepted[id]; !ok || a.at.Before(t) {
				res.Accepted[id] = a.at
			}
		}
	}
	return res
}
