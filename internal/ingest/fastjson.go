package ingest

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"
)

// unmarshal decodes body into v, which must point to a zero value. It tries
// the JSON v2 decoder first, about twice as fast as encoding/json on
// webhook bodies (BenchmarkUnmarshalPaths), and on any error decodes again
// with encoding/json, whose errors the field paths and messages of
// FieldError are built from.
//
// The two agree on every body v2 accepts (TestUnmarshalPathsAgree and the
// fuzz targets check it): v2 is the stricter one (it refuses invalid UTF-8
// and duplicate names, which encoding/json accepts), and its matching of
// names is made case-insensitive like encoding/json's.
func unmarshal[T any](body []byte, v *T) error {
	if jsonv2.Unmarshal(body, v, jsonv2.MatchCaseInsensitiveNames(true)) == nil {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(body, v)
}

// unmarshalV1 is the encoding/json path alone, for tests.
func unmarshalV1[T any](body []byte, v *T) error { return json.Unmarshal(body, v) }
