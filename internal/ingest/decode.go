package ingest

import (
	"fmt"
	"sort"
	"time"
)

// Options carries what a decoder needs beyond the body.
type Options struct {
	// DefaultSeverity applies when the source gives no severity.
	DefaultSeverity Severity
	// Now stamps alerts that say they are resolved but carry no end time,
	// and firing alerts with no start time.
	Now time.Time
}

// A decoderFunc decodes one webhook body. It returns *FieldError for every
// client mistake and never panics.
type decoderFunc func(body []byte, opts Options) (Batch, error)

var decoders = map[string]decoderFunc{
	"alertmanager": decodeAlertmanager,
	"grafana":      decodeGrafana,
	"zabbix":       decodeZabbix,
	"generic":      decodeGeneric,
}

// Formats lists the webhook formats Decode understands, sorted.
func Formats() []string {
	out := make([]string, 0, len(decoders))
	for f := range decoders {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// KnownFormat reports whether Decode understands format.
func KnownFormat(format string) bool {
	_, ok := decoders[format]
	return ok
}

// Decode turns a webhook body of the given format into alerts. Every alert
// it returns has a fingerprint, a status, a summary and non-nil label and
// annotation maps, and is within the limits of one alert (MaxLabelsPerAlert
// and the rest): a body with an alert over one is refused whole with a
// *FieldError that names the limit, the field and the alert.
func Decode(format string, body []byte, opts Options) (Batch, error) {
	d, ok := decoders[format]
	if !ok {
		return Batch{}, fmt.Errorf("unknown webhook format %q", format)
	}
	b, err := d(body, opts)
	if err != nil {
		return Batch{}, err
	}
	// Checked here, on what every decoder returns, so that no source
	// escapes them and all are held to the same numbers.
	if err := b.checkLimits(); err != nil {
		return Batch{}, err
	}
	return b, nil
}
