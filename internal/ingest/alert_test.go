package ingest

import (
	"encoding/json"
	"testing"
)

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in     string
		want   Severity
		wantOK bool
	}{
		{"critical", SeverityCritical, true},
		{"CRITICAL", SeverityCritical, true},
		{"  Disaster\t", SeverityCritical, true},
		{"P1", SeverityCritical, true},
		{"sev1", SeverityCritical, true},
		{"error", SeverityError, true},
		{"High", SeverityError, true},
		{"major", SeverityError, true},
		{"warning", SeverityWarning, true},
		{"Average", SeverityWarning, true},
		{"minor", SeverityWarning, true},
		{"notice", SeverityNotice, true},
		{"Information", SeverityNotice, true},
		{"info", SeverityNotice, true},
		{"p5", SeverityNotice, true},
		{"none", SeverityNone, true},
		{"Not classified", SeverityNone, true},
		{"ok", SeverityNone, true},
		{"", SeverityNone, false},
		{"severe", SeverityNone, false},
		{"exception", SeverityNone, false},
		{"not  classified", SeverityNone, false},
		{"p6", SeverityNone, false},
	}
	for _, tt := range tests {
		got, ok := ParseSeverity(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for s := SeverityNone; s <= SeverityCritical; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v gave %v, %v", s, back, err)
		}
	}
	if got := Severity(9).String(); got != "severity(9)" {
		t.Errorf("String of out-of-range severity = %q", got)
	}
	var s Severity
	if err := json.Unmarshal([]byte(`"sev2"`), &s); err != nil || s != SeverityError {
		t.Errorf(`unmarshal "sev2" = %v, %v`, s, err)
	}
	if err := json.Unmarshal([]byte(`"bogus"`), &s); err == nil {
		t.Error(`unmarshal "bogus" succeeded`)
	}
}

func TestLabelsFingerprint(t *testing.T) {
	// Maps are built in different insertion orders on purpose.
	a := map[string]string{"alertname": "Down", "instance": "db1:9100", "job": "node"}
	b := map[string]string{}
	b["job"] = "node"
	b["instance"] = "db1:9100"
	b["alertname"] = "Down"

	fa := LabelsFingerprint(a)
	if fa != LabelsFingerprint(b) {
		t.Fatalf("fingerprint depends on insertion order")
	}
	for i := 0; i < 20; i++ { // map iteration order is randomized per range
		if LabelsFingerprint(a) != fa {
			t.Fatalf("fingerprint is not stable across calls")
		}
	}
	if len(fa) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", fa)
	}

	tests := []struct {
		name string
		x, y map[string]string
	}{
		{"value differs", map[string]string{"a": "1"}, map[string]string{"a": "2"}},
		{"name differs", map[string]string{"a": "1"}, map[string]string{"b": "1"}},
		// Without a separator these two would hash the same bytes.
		{"boundary moves", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}},
		{"split across pairs", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "bc", "": "d"}},
		{"extra empty label", map[string]string{"a": "1"}, map[string]string{"a": "1", "b": ""}},
	}
	for _, tt := range tests {
		if LabelsFingerprint(tt.x) == LabelsFingerprint(tt.y) {
			t.Errorf("%s: %v and %v share a fingerprint", tt.name, tt.x, tt.y)
		}
	}
	if LabelsFingerprint(nil) != LabelsFingerprint(map[string]string{}) {
		t.Error("nil and empty label sets differ")
	}
}

func TestFieldErrorText(t *testing.T) {
	if got := (&FieldError{Field: "alerts[1].labels", Msg: "bad"}).Error(); got != "alerts[1].labels: bad" {
		t.Errorf("got %q", got)
	}
	if got := (&FieldError{Msg: "body is empty"}).Error(); got != "body is empty" {
		t.Errorf("got %q", got)
	}
}
