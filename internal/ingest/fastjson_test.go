package ingest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// fastAndSlowAgree decodes body with both paths of unmarshal and reports a
// difference when v2 accepted the body.
func fastAndSlowAgree[T any](t testing.TB, body []byte) {
	var fast, slow T
	if jsonv2.Unmarshal(body, &fast, jsonv2.MatchCaseInsensitiveNames(true)) != nil {
		return // the slow path decides alone
	}
	if err := unmarshalV1(body, &slow); err != nil {
		t.Fatalf("v2 accepted a body encoding/json refuses (%v): %q", err, body)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("v2 and encoding/json disagree on %q:\nv2: %+v\nv1: %+v", body, fast, slow)
	}
}

func TestUnmarshalPathsAgree(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.json")
	shared, _ := filepath.Glob("../../../shared/fixtures/*/*.json")
	files = append(files, shared...)
	if len(files) < 10 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	extra := []string{
		`{"ALERTS":[{"Status":"firing","LABELS":{"a":"b"}}]}`,
		`{"alerts":[{"labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00+02:00"}],"truncatedAlerts":3}`,
		`{"alerts":[],"status":null,"labels":null}`,
		`{"alerts":[{"labels":{}},{"labels":null},{"status":"firing"}]}`,
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, string(b))
	}
	for _, body := range extra {
		fastAndSlowAgree[amEnvelope[amAlert]](t, []byte(body))
		fastAndSlowAgree[grafanaBody](t, []byte(body))
	}
}

func BenchmarkUnmarshalPaths(b *testing.B) {
	body := amBenchBody(10)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env amEnvelope[amAlert]
			if err := unmarshalV1(body, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v2-first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env amEnvelope[amAlert]
			if err := unmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
}
