package benchutil

import (
	"flag"
	"fmt"
)

// DefaultUnset sets each named flag of the command line to its value
// unless the command line set it: what a -quick flag changes. It must be
// called after flag.Parse.
func DefaultUnset(values map[string]string) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range values {
		if set[name] {
			continue
		}
		if err := flag.Set(name, v); err != nil {
			return fmt.Errorf("-%s=%s: %w", name, v, err)
		}
	}
	return nil
}
