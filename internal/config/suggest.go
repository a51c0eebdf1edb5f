package config

import (
	"fmt"
	"strings"
)

// didYouMean returns ` (did you mean "x"?)` naming the known name closest
// to name, or "" when none is close. A name that differs only in case wins
// outright; otherwise the nearest within an edit distance of 2, and closer
// than the name is long, so that "q" is not "corrected" to "p". Ties go to
// the name defined first, so the hint does not change from run to run.
func didYouMean(name string, known []string) string {
	if s := closest(name, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func closest(name string, known []string) string {
	if name == "" {
		return ""
	}
	for _, k := range known {
		if k != name && strings.EqualFold(k, name) {
			return k
		}
	}
	best, bestDist := "", 3
	for _, k := range known {
		if k == name {
			continue
		}
		if d := levenshtein(name, k); d < bestDist && d < len([]rune(name)) {
			best, bestDist = k, d
		}
	}
	return best
}

// levenshtein is the number of single-rune insertions, deletions and
// substitutions that turn a into b. Names are short, so the two-row
// dynamic programme is plenty.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
