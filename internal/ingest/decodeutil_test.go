package ingest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeRegistry(t *testing.T) {
	if got, want := Formats(), []string{"alertmanager", "generic", "grafana", "zabbix"}; !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	for _, f := range Formats() {
		if !KnownFormat(f) {
			t.Errorf("KnownFormat(%q) = false", f)
		}
	}
	if KnownFormat("pagerduty") {
		t.Error(`KnownFormat("pagerduty") = true`)
	}
	// An unknown format is the caller's configuration error, not the
	// sender's, so it must not look like a 400.
	_, err := Decode("pagerduty", []byte(`{}`), testOpts)
	var fe *FieldError
	if err == nil || errors.As(err, &fe) {
		t.Errorf("unknown format: err = %v", err)
	}
}

func TestTruncateRunes(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"äöü", 3, "äöü"}, // 6 bytes but 3 runes: no cut
		{"äöüß", 3, "äö…"},
		{"日本語テキスト", 4, "日本語…"},
	}
	for _, tt := range tests {
		got := truncateRunes(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if utf8.RuneCountInString(got) > tt.n || !utf8.ValidString(got) {
			t.Errorf("truncateRunes(%q, %d) = %q breaks the limit", tt.in, tt.n, got)
		}
	}
	long := strings.Repeat("€", maxSummaryRunes)
	if summaryText(long) != long {
		t.Error("a summary of exactly the limit was cut")
	}
}

func TestIsHTTPURL(t *testing.T) {
	tests := map[string]bool{
		"http://localhost:9090/graph?g0.expr=up": true,
		"https://example.com":                    true,
		"HTTP://EXAMPLE.COM/x":                   true,
		"http://[::1]:3000/":                     true,
		"":                                       false,
		"my.prometheusserver.url":                false,
		"http://":                                false,
		"http://:9093":                           false,
		"https:///path":                          false,
		"ftp://example.com/":                     false,
		"javascript:alert(1)":                    false,
		"//example.com/x":                        false,
		"http://exa mple.com/":                   false,
		"http://example.com/\x00":                false,
	}
	for in, want := range tests {
		if got := isHTTPURL(in); got != want {
			t.Errorf("isHTTPURL(%q) = %v, want %v", in, got, want)
		}
	}
}
