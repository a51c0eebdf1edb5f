package config

import "testing"

func TestLevenshtein(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"bob", "bob", 0},
		{"", "bob", 3},
		{"bbo", "bob", 2},
		{"ops", "opss", 1},
		{"kitten", "sitting", 3},
		{"zoë", "zoe", 1}, // runes, not bytes
	}
	for _, c := range cases {
		if got := levenshtein(c.a, c.b); got != c.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	known := []string{"alice", "bob", "Carol", "ops", "ops-default"}
	cases := []struct{ name, want string }{
		{"bbo", ` (did you mean "bob"?)`},
		{"carol", ` (did you mean "Carol"?)`}, // case alone
		{"ALICE", ` (did you mean "alice"?)`}, // case beats distance
		{"ops-defualt", ` (did you mean "ops-default"?)`},
		{"op", ` (did you mean "ops"?)`},
		{"zed", ""}, // nothing within 2
		{"q", ""},   // one edit is the whole name
		{"bob", ""}, // known: nothing to suggest
		{"", ""},
	}
	for _, c := range cases {
		if got := didYouMean(c.name, known); got != c.want {
			t.Errorf("didYouMean(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
