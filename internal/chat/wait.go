package chat

import "time"

// DoublingWait is the wait before the next try after n failures in a row
// (n from 1): first, doubled after each failure, never more than most.
// The listeners (Socket Mode, long polling, the Discord gateway) share it.
func DoublingWait(n int, first, most time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	w := first
	for i := 1; i < n && w < most; i++ {
		w *= 2
	}
	return min(w, most)
}
