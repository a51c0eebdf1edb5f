package benchutil

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Missing stands for a latency that was never observed (a message not
// delivered within the deadline); it sorts after every real one, so a
// percentile that reaches it says so instead of hiding it.
const Missing = time.Duration(math.MaxInt64)

// Pct is the nearest-rank percentile p (0..1] of ds; Missing when ds is
// empty.
func Pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return Missing
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// MedianF is the median of vs (the lower of the middle two), NaN when
// vs is empty.
func MedianF(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// MedianI is the median of vs (the lower of the middle two), 0 when vs
// is empty.
func MedianI(vs []int) int {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// Show prints a latency in a unit that fits it, or absent for Missing.
func Show(d time.Duration, absent string) string {
	switch {
	case d == Missing:
		return absent
	case d < 0:
		return "-" + Show(-d, absent)
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}
