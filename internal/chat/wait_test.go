package chat

import (
	"testing"
	"time"
)

func TestDoublingWait(t *testing.T) {
	cases := []struct {
		n           int
		first, most time.Duration
		want        time.Duration
	}{
		{0, time.Second, time.Minute, time.Second},
		{1, time.Second, time.Minute, time.Second},
		{2, time.Second, time.Minute, 2 * time.Second},
		{7, time.Second, time.Minute, time.Minute},
		{1 << 30, time.Second, time.Minute, time.Minute}, // no overflow
		{3, 5 * time.Second, 5 * time.Minute, 20 * time.Second},
		{8, 5 * time.Second, 5 * time.Minute, 5 * time.Minute},
	}
	for _, c := range cases {
		if got := DoublingWait(c.n, c.first, c.most); got != c.want {
			t.Errorf("DoublingWait(%d, %s, %s) = %s, want %s", c.n, c.first, c.most, got, c.want)
		}
	}
}
