package config

import (
	"strings"
	"time"
)

// MarshalYAML writes d as Parse reads it, in its shortest form: "5m",
// "1h30m", "0s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String is d in Go duration syntax without trailing zero units.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
