package config

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationRoundTrips(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 30 * time.Second: "30s", 5 * time.Minute: "5m", 90 * time.Second: "1m30s",
		time.Hour: "1h", 90 * time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s",
	} {
		b, err := yaml.Marshal(struct {
			D Duration `yaml:"d"`
		}{Duration(d)})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != "d: "+want+"\n" {
			t.Errorf("%v marshals as %q, want d: %s", d, got, want)
		}
		var back struct {
			D Duration `yaml:"d"`
		}
		if err := yaml.Unmarshal(b, &back); err != nil || back.D.Std() != d {
			t.Errorf("%v round-trips to %v (%v)", d, back.D.Std(), err)
		}
	}
}
