package ingest

import (
	"encoding/json"
	"errors"
	"strings"
)

// zabbixBody is the union of the two Zabbix shapes the bot accepts. Fields
// whose presence selects the shape are pointers, so that a present but
// empty value can be told from an absent one.
type zabbixBody struct {
	// Grafana OnCall's Zabbix media script.
	AlertUID    json.RawMessage `json:"alert_uid"`
	Title       *string         `json:"title"`
	State       *string         `json:"state"`
	Message     string          `json:"message"`
	UpstreamURL string          `json:"link_to_upstream_details"`

	// The common Zabbix webhook media type.
	Hostname *string         `json:"hostname"`
	Trigger  *string         `json:"trigger"`
	Status   *string         `json:"status"`
	Item     string          `json:"item"`
	Link     string          `json:"link"`
	EventID  json.RawMessage `json:"event_id"`
	EventID2 json.RawMessage `json:"eventid"`

	// Both shapes.
	Severity string `json:"severity"`
}

// zabbixJSONHint is appended to syntax errors: the common cause is a media
// script that pastes the trigger name into a JSON template unescaped.
const zabbixJSONHint = `; if the Zabbix subject or message contains a quote, a backslash or a line break, the media script must JSON-escape it`

// decodeZabbix decodes a Zabbix notification into one alert. It accepts
// Grafana OnCall's Zabbix JSON ({"alert_uid","title","state","message",
// "image_url","link_to_upstream_details"}) and the common Zabbix media-type
// JSON ({"hostname","severity","status","item","trigger","link"} with an
// optional "event_id" or "eventid"). The shape is chosen by the keys present,
// alert_uid first.
func decodeZabbix(body []byte, opts Options) (Batch, error) {
	const what = `a Zabbix notification: a JSON object with "alert_uid" (Grafana OnCall) or "hostname" and "trigger" (Zabbix media type)`
	if err := checkObjectBody(body, what); err != nil {
		return Batch{}, addZabbixHint(err)
	}
	var z zabbixBody
	if err := json.Unmarshal(body, &z); err != nil {
		return Batch{}, addZabbixHint(mapDecodeError(err, "", what))
	}
	switch {
	case jsonKind(z.AlertUID) != "nothing" && jsonKind(z.AlertUID) != "null":
		return z.onCallBatch(opts)
	case z.Hostname != nil || z.Trigger != nil:
		return z.mediaTypeBatch(opts)
	case z.Title != nil || z.State != nil:
		return Batch{}, &FieldError{Field: "alert_uid", Msg: "missing; Grafana OnCall's Zabbix format needs a non-empty alert_uid"}
	default:
		return Batch{}, &FieldError{Field: "alert_uid", Msg: `missing, and so are "hostname" and "trigger"; the body must be ` + what}
	}
}

// addZabbixHint extends the "not valid JSON" error with the likely cause.
func addZabbixHint(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Field == "" && strings.HasPrefix(fe.Msg, "body is not valid JSON") {
		return &FieldError{Msg: fe.Msg + zabbixJSONHint}
	}
	return err
}

// onCallBatch converts the Grafana OnCall shape.
func (z *zabbixBody) onCallBatch(opts Options) (Batch, error) {
	uid, ok := scalarText(z.AlertUID)
	if !ok {
		return Batch{}, &FieldError{Field: "alert_uid", Msg: "expected a string, got " + jsonKind(z.AlertUID)}
	}
	if strings.TrimSpace(uid) == "" {
		return Batch{}, &FieldError{Field: "alert_uid", Msg: "must not be empty"}
	}
	status := StatusFiring
	if z.State != nil {
		switch strings.ToLower(strings.TrimSpace(*z.State)) {
		case "alerting", "problem":
		case "ok", "resolved":
			status = StatusResolved
		default:
			return Batch{}, &FieldError{Field: "state", Msg: `want "alerting" or "ok", got ` + quoteShort(*z.State)}
		}
	}
	title := ""
	if z.Title != nil {
		title = *z.Title
	}
	labels := map[string]string{"source": "zabbix"}
	if title != "" {
		labels["alertname"] = title
	}
	if z.Severity != "" {
		labels["severity"] = z.Severity
	}
	annotations := make(map[string]string, 1)
	if z.Message != "" {
		annotations["message"] = z.Message
	}
	return zabbixBatch(zabbixOnCallShape, Alert{
		Fingerprint: uid,
		Status:      status,
		Summary:     summaryText(title),
		Labels:      labels,
		Annotations: annotations,
		SourceURL:   firstHTTPURL(z.UpstreamURL),
	}, z.Severity, opts), nil
}

// mediaTypeBatch converts the Zabbix media-type shape.
func (z *zabbixBody) mediaTypeBatch(opts Options) (Batch, error) {
	status := StatusFiring
	if z.Status != nil {
		switch strings.ToLower(strings.TrimSpace(*z.Status)) {
		case "problem":
		case "resolved", "ok":
			status = StatusResolved
		default:
			return Batch{}, &FieldError{Field: "status", Msg: `want "PROBLEM", "RESOLVED" or "OK", got ` + quoteShort(*z.Status)}
		}
	}
	var host, trigger string
	if z.Hostname != nil {
		host = *z.Hostname
	}
	if z.Trigger != nil {
		trigger = *z.Trigger
	}

	// Zabbix repeats the problem's event id in its recovery message, so the
	// id pairs a problem with its resolve. Without one, host and trigger
	// name identify the problem well enough.
	fp, fpMember := "", ""
	for _, f := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"event_id", z.EventID}, {"eventid", z.EventID2}} {
		id, ok := scalarText(f.raw)
		if !ok {
			return Batch{}, &FieldError{Field: f.name, Msg: "expected a string or a number, got " + jsonKind(f.raw)}
		}
		if fp == "" && strings.TrimSpace(id) != "" {
			fp, fpMember = id, f.name
		}
	}
	if fp == "" && strings.TrimSpace(host) == "" && strings.TrimSpace(trigger) == "" {
		return Batch{}, &FieldError{Field: "trigger", Msg: "missing; a trigger name, a hostname or an event id is needed to tell problems apart"}
	}
	if fp == "" {
		fp = LabelsFingerprint(map[string]string{"hostname": host, "trigger": trigger})
	}

	labels := map[string]string{"source": "zabbix"}
	for k, v := range map[string]string{"hostname": host, "trigger": trigger, "severity": z.Severity} {
		if v != "" {
			labels[k] = v
		}
	}
	annotations := make(map[string]string, 1)
	if z.Item != "" {
		annotations["item"] = z.Item
	}
	summary := summaryText(trigger)
	if summary == "" {
		summary = summaryText(z.Item)
	}
	if summary == "" && host != "" {
		summary = summaryText("problem on " + host)
	}
	sh := zabbixMediaTypeShape
	sh.fingerprint = fpMember
	return zabbixBatch(sh, Alert{
		Fingerprint: fp,
		Status:      status,
		Summary:     summary,
		Labels:      labels,
		Annotations: annotations,
		SourceURL:   firstHTTPURL(z.Link),
	}, z.Severity, opts), nil
}

// zabbixOnCallShape and zabbixMediaTypeShape say where each shape's alert
// takes its parts from. The media type's fingerprint is event_id or
// eventid, whichever the body gave.
var (
	zabbixOnCallShape = shape{single: true,
		labelMembers:      map[string]string{"alertname": "title", "severity": "severity"},
		annotationMembers: map[string]string{"message": "message"}, fingerprint: "alert_uid"}
	zabbixMediaTypeShape = shape{single: true,
		labelMembers:      map[string]string{"hostname": "hostname", "trigger": "trigger", "severity": "severity"},
		annotationMembers: map[string]string{"item": "item"}}
)

// zabbixBatch fills what both shapes share: the severity, the times (Zabbix
// sends none the bot can rely on) and the summary of last resort.
func zabbixBatch(sh shape, a Alert, severity string, opts Options) Batch {
	a.Severity = opts.DefaultSeverity
	if s, ok := ParseSeverity(severity); ok {
		a.Severity = s
	}
	if a.Summary == "" {
		a.Summary = summaryText("alert " + a.Fingerprint)
	}
	a.StartsAt = opts.Now
	if a.Status == StatusResolved {
		a.EndsAt = opts.Now
	}
	return Batch{Alerts: []Alert{a}, shape: sh}
}
