package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// testNow is the receive time the tests pass in Options.Now.
var testNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testOpts uses notice as the default severity because no fixture maps to
// it, so a test can tell "fell back to the default" from "parsed".
var testOpts = Options{DefaultSeverity: SeverityNotice, Now: testNow}

// sharedFixturesDir is the team's fixture collection, which holds payloads
// whose licenses keep them out of this repository. It sits next to the
// module checkout, three levels above this package.
var sharedFixturesDir = filepath.Join("..", "..", "..", "shared", "fixtures")

// fixtureFormats are the fixture folders this package has decoders for.
var fixtureFormats = []string{"alertmanager", "grafana", "zabbix"}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requireSharedFixtures skips the test when the shared collection is absent,
// as on a clone of this repository alone.
func requireSharedFixtures(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sharedFixturesDir); err != nil {
		t.Skipf("shared fixtures not available at %s: %v", sharedFixturesDir, err)
	}
}

// fixtureFiles lists the JSON fixtures of one format under root.
func fixtureFiles(t testing.TB, root, format string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, format, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// addFuzzSeeds seeds a fuzz target with every fixture of every format, from
// testdata and from the shared collection when present: bodies of the other
// formats are good near-misses for each decoder.
func addFuzzSeeds(f *testing.F, extra ...string) {
	for _, root := range []string{"testdata", sharedFixturesDir} {
		for _, format := range fixtureFormats {
			for _, file := range fixtureFiles(f, root, format) {
				f.Add(readFile(f, file))
			}
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkDecodeResult asserts what every decoder promises for any input: a
// client error is a *FieldError, and every alert of a successful decode is
// complete and consistent.
func checkDecodeResult(t *testing.T, b Batch, err error) {
	t.Helper()
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("error is %T, not *FieldError: %v", err, err)
		}
		if fe.Msg == "" {
			t.Fatalf("FieldError without a message: %#v", fe)
		}
		return
	}
	if b.Truncated < 0 || b.Ignored < 0 {
		t.Fatalf("negative counts: Truncated=%d Ignored=%d", b.Truncated, b.Ignored)
	}
	for i, a := range b.Alerts {
		switch {
		case a.Fingerprint == "":
			t.Fatalf("alert %d: empty fingerprint", i)
		case a.Status != StatusFiring && a.Status != StatusResolved:
			t.Fatalf("alert %d: status %q", i, a.Status)
		case a.Labels == nil || a.Annotations == nil:
			t.Fatalf("alert %d: nil map: labels=%v annotations=%v", i, a.Labels, a.Annotations)
		case a.Severity > SeverityCritical:
			t.Fatalf("alert %d: severity %d out of range", i, a.Severity)
		case a.Status == StatusResolved && a.EndsAt.IsZero():
			t.Fatalf("alert %d: resolved without EndsAt", i)
		case a.Status == StatusFiring && !a.EndsAt.IsZero():
			t.Fatalf("alert %d: firing with EndsAt %v", i, a.EndsAt)
		case a.StartsAt.IsZero():
			t.Fatalf("alert %d: zero StartsAt", i)
		case a.Summary == "":
			t.Fatalf("alert %d: empty summary", i)
		case utf8.RuneCountInString(a.Summary) > maxSummaryRunes:
			t.Fatalf("alert %d: summary of %d runes", i, utf8.RuneCountInString(a.Summary))
		case a.SourceURL != "" && !isHTTPURL(a.SourceURL):
			t.Fatalf("alert %d: source URL %q is not an http(s) URL", i, a.SourceURL)
		}
	}
}

// wantFieldError asserts that err is a *FieldError on field whose message
// contains every fragment.
func wantFieldError(t *testing.T, err error, field string, fragments ...string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v (%T), want *FieldError on %q", err, err, field)
	}
	if fe.Field != field {
		t.Errorf("FieldError.Field = %q, want %q (message: %s)", fe.Field, field, fe.Msg)
	}
	for _, frag := range fragments {
		if !strings.Contains(fe.Msg, frag) {
			t.Errorf("FieldError.Msg = %q, want it to contain %q", fe.Msg, frag)
		}
	}
}

// want describes the expected normalized alert. Zero-valued time strings
// have meanings: StartsAt "" is testNow, EndsAt "" is zero and "now" is
// testNow.
type want struct {
	Fingerprint string
	Status      Status
	Severity    Severity
	Summary     string
	SourceURL   string
	StartsAt    string
	EndsAt      string
	// Labels and Annotations, when non-nil, must match exactly.
	Labels      map[string]string
	Annotations map[string]string
}

func parseWantTime(t *testing.T, s string, empty time.Time) time.Time {
	t.Helper()
	switch s {
	case "":
		return empty
	case "now":
		return testNow
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time in test table: %v", err)
	}
	return v
}

// checkAlerts compares decoded alerts with the expectations, in order.
func checkAlerts(t *testing.T, got []Alert, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d alerts, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		a := got[i]
		if a.Fingerprint != w.Fingerprint {
			t.Errorf("alert %d: Fingerprint = %q, want %q", i, a.Fingerprint, w.Fingerprint)
		}
		if a.Status != w.Status {
			t.Errorf("alert %d: Status = %q, want %q", i, a.Status, w.Status)
		}
		if a.Severity != w.Severity {
			t.Errorf("alert %d: Severity = %v, want %v", i, a.Severity, w.Severity)
		}
		if a.Summary != w.Summary {
			t.Errorf("alert %d: Summary = %q, want %q", i, a.Summary, w.Summary)
		}
		if a.SourceURL != w.SourceURL {
			t.Errorf("alert %d: SourceURL = %q, want %q", i, a.SourceURL, w.SourceURL)
		}
		if ws := parseWantTime(t, w.StartsAt, testNow); !a.StartsAt.Equal(ws) {
			t.Errorf("alert %d: StartsAt = %v, want %v", i, a.StartsAt, ws)
		}
		if we := parseWantTime(t, w.EndsAt, time.Time{}); !a.EndsAt.Equal(we) {
			t.Errorf("alert %d: EndsAt = %v, want %v", i, a.EndsAt, we)
		}
		if w.Labels != nil && !equalMaps(a.Labels, w.Labels) {
			t.Errorf("alert %d: Labels = %v, want %v", i, a.Labels, w.Labels)
		}
		if w.Annotations != nil && !equalMaps(a.Annotations, w.Annotations) {
			t.Errorf("alert %d: Annotations = %v, want %v", i, a.Annotations, w.Annotations)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
