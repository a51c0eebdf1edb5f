package scenario

import (
	"testing"
	"time"
)

// changes wakes whoever waits for a fake's state to change: the fake
// calls notify, holding its lock, after each change.
type changes struct{ ch chan struct{} }

func newChanges() changes { return changes{ch: make(chan struct{})} }

// notify wakes every wait; call it with the fake's lock held.
func (c *changes) notify() {
	close(c.ch)
	c.ch = make(chan struct{})
}

// waitChange fails t unless check reports ok within d. check looks at the
// fake (locking as its condition needs) and returns the channel to wait
// on before looking again: the one current when it looked, so no change
// in between is missed.
func waitChange(t testing.TB, what string, d time.Duration, check func() (ok bool, changed <-chan struct{})) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		ok, changed := check()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}
