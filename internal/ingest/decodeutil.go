package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSummaryRunes bounds Alert.Summary: a summary ends up in chat messages
// and notification titles, where a runaway annotation would drown the rest.
const maxSummaryRunes = 500

// maxEchoRunes bounds how much of a rejected value an error message repeats,
// so a hostile body cannot make the 400 answer as large as itself.
const maxEchoRunes = 64

// jsonKind names the JSON type of a value from its first byte, for messages.
func jsonKind(b []byte) string {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// checkObjectBody rejects, before any decoding, bodies whose top-level value
// is not an object. encoding/json would silently accept "null" and report an
// array as a type error on the whole value, neither of which tells the sender
// what is wrong. what names the expected object in the message.
func checkObjectBody(body []byte, what string) error {
	switch kind := jsonKind(body); kind {
	case "object":
		return nil
	case "nothing":
		return &FieldError{Msg: "body is empty; want " + what}
	default:
		if !json.Valid(body) {
			// A syntax error says more than "got number" when the body is
			// not JSON at all, for example plain text starting with a digit.
			return syntaxOrWrap(json.Unmarshal(body, new(any)), what)
		}
		return &FieldError{Msg: "body must be " + what + ", got a JSON " + kind}
	}
}

// syntaxOrWrap turns a *json.SyntaxError into the client error for a body
// that is not JSON, and wraps anything else as a server-side failure.
func syntaxOrWrap(err error, what string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Msg: fmt.Sprintf("body is not valid JSON: %s (at byte offset %d)", se.Error(), byteOffset(se.Offset))}
	}
	return fmt.Errorf("ingest: decoding %s: %w", what, err)
}

// mapDecodeError turns an error of json.Unmarshal on a body into the error a
// decoder returns. prefix is prepended to the field path of type errors.
func mapDecodeError(err error, prefix, what string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return typeFieldError(te, prefix, te.Offset)
	}
	return syntaxOrWrap(err, what)
}

// stringMapFields are the fields decoded as map[string]string. encoding/json
// reports a bad value inside such a map with the map's own path and the
// element type, so the path names the map and the message names the rule.
var stringMapFields = map[string]bool{"labels": true, "annotations": true, "tags": true}

// typeFieldError converts a type mismatch into a FieldError whose Field is the
// path of the mismatch below prefix. offset is encoding/json's offset of the
// mismatch in the whole body, reported to help senders find it in a large
// body; a negative offset, meaning unknown, is left out of the message.
func typeFieldError(te *json.UnmarshalTypeError, prefix string, offset int64) *FieldError {
	field := joinPath(prefix, stripEmbedded(te.Field))
	last := field
	if i := strings.LastIndexAny(field, ".]"); i >= 0 {
		last = field[i+1:]
	}
	var msg string
	if te.Type != nil && te.Type.Kind() == reflect.String && stringMapFields[last] {
		msg = "values must be strings, got " + te.Value
	} else {
		msg = "expected " + jsonTypeName(te.Type) + ", got " + te.Value
	}
	if offset < 0 {
		return &FieldError{Field: field, Msg: msg}
	}
	return &FieldError{Field: field, Msg: fmt.Sprintf("%s (at byte offset %d)", msg, byteOffset(offset))}
}

// byteOffset turns encoding/json's error offsets, which count the bytes read
// when the error surfaced, into the 0-based position of the byte at fault:
// the unexpected character, the last byte of a mistyped scalar, or the
// opening bracket of a mistyped object or array.
func byteOffset(read int64) int64 {
	if read > 0 {
		return read - 1
	}
	return 0
}

// embeddedTypes are the Go types this package embeds in decoding structs.
// encoding/json names them in type error paths ("amEnvelope.alerts.amAlert.
// labels") although they are no part of the JSON. The paths hold only
// declared field names, none of which is one of these, so dropping them
// cannot remove a real key.
var embeddedTypes = map[string]bool{"amEnvelope": true, "amAlert": true}

// stripEmbedded removes embedded type names from a type error path.
func stripEmbedded(path string) string {
	parts := strings.Split(path, ".")
	kept := parts[:0]
	for _, p := range parts {
		if !embeddedTypes[p] {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

// jsonTypeName describes a Go type in JSON words.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "an object of strings"
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	default:
		return t.String()
	}
}

// joinPath appends a dotted field path to a prefix such as "alerts[2]" or
// "[3]".
func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

// indexPath formats "name[i].field"; name may be empty for top-level arrays.
func indexPath(name string, i int, field string) string {
	return joinPath(name+"["+strconv.Itoa(i)+"]", field)
}

// quoteShort quotes a rejected value for an error message, cut to a few runes.
func quoteShort(s string) string {
	return strconv.Quote(truncateRunes(s, maxEchoRunes))
}

// truncateRunes cuts s to at most n runes, marking the cut with an ellipsis
// so a reader knows there was more.
func truncateRunes(s string, n int) string {
	if len(s) <= n { // fast path: n bytes hold at most n runes
		return s
	}
	count := 0
	for i := range s {
		if count == n-1 {
			// i is where rune n starts; keep n-1 runes and the ellipsis if
			// more than one rune remains.
			if utf8.RuneCountInString(s[i:]) > 1 {
				return s[:i] + "…"
			}
			return s
		}
		count++
	}
	return s
}

// summaryText trims a summary candidate and enforces maxSummaryRunes.
func summaryText(s string) string {
	return truncateRunes(strings.TrimSpace(s), maxSummaryRunes)
}

// isHTTPURL reports whether s is an absolute http or https URL with a host,
// of at most MaxSourceURLBytes. Only such links are safe to render as
// clickable in chat, and a longer one would not open.
func isHTTPURL(s string) bool {
	// Cheap tests first: most non-URLs never reach url.Parse.
	if len(s) < len("http://x") || len(s) > MaxSourceURLBytes {
		return false
	}
	if !strings.EqualFold(s[:7], "http://") && !strings.EqualFold(s[:8], "https://") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

// firstHTTPURL returns the first candidate that isHTTPURL accepts, or "".
func firstHTTPURL(candidates ...string) string {
	for _, c := range candidates {
		if isHTTPURL(c) {
			return c
		}
	}
	return ""
}

// parseStatus maps the Alertmanager status words, ignoring case.
func parseStatus(s string) (Status, bool) {
	switch {
	case strings.EqualFold(s, "firing"):
		return StatusFiring, true
	case strings.EqualFold(s, "resolved"):
		return StatusResolved, true
	}
	return "", false
}

// severityFromLabels takes the first of the given labels that ParseSeverity
// understands; a sender's unknown word falls back to def rather than failing
// the whole webhook, since severities are free-form labels in most sources.
func severityFromLabels(labels map[string]string, def Severity, names ...string) Severity {
	for _, n := range names {
		if v, ok := labels[n]; ok {
			if s, ok := ParseSeverity(v); ok {
				return s
			}
		}
	}
	return def
}

// nonNilMap returns m, or a new empty map when m is nil, so that consumers
// can always write to Alert.Labels and Alert.Annotations.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return make(map[string]string)
	}
	return m
}

// jsonTime is an RFC 3339 timestamp that never fails decoding. encoding/json
// aborts on an Unmarshaler error without saying which field failed, so the
// bad text is kept and the decoder reports it with a proper field path.
type jsonTime struct {
	t   time.Time
	bad string // the rejected JSON text; empty when the value was valid
}

// UnmarshalJSON accepts an RFC 3339 string with any sub-second precision and
// offset; null and "" mean no time.
func (j *jsonTime) UnmarshalJSON(b []byte) error {
	*j = jsonTime{}
	if string(b) == "null" || string(b) == `""` {
		return nil
	}
	if err := j.t.UnmarshalJSON(b); err != nil {
		j.t = time.Time{}
		j.bad = string(b) // b aliases the body and must be copied to be kept
	}
	return nil
}

// check returns a FieldError for a timestamp that did not parse. The path
// is built only then, since it costs allocations on the hot path.
func (j *jsonTime) check(array string, i int, field string) error {
	if j.bad == "" {
		return nil
	}
	return &FieldError{Field: indexPath(array, i, field), Msg: "expected an RFC 3339 timestamp such as \"2024-01-02T15:04:05Z\", got " + truncateRunes(j.bad, maxEchoRunes)}
}

// scalarText renders a JSON string or number as text: a string unquoted, a
// number as written. null and absence give "". Other kinds are reported as
// not ok. Identifiers such as Grafana's orgId or Zabbix's event id arrive as
// either kind depending on the sender's template.
func scalarText(raw json.RawMessage) (string, bool) {
	switch jsonKind(raw) {
	case "nothing", "null":
		return "", true
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case "number":
		return string(bytes.TrimSpace(raw)), true
	}
	return "", false
}
