// Package incident turns alerts into incidents: it routes each alert to a
// team, dedups it by fingerprint, groups it with its siblings, and runs the
// incident's lifecycle (triggered, acknowledged, resolved; unack, reopen).
// Every change commits in one transaction with its timeline entries, its
// timers and its outbox rows; nothing here knows about chat platforms.
package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/ingest"
)

// Status is an incident's lifecycle state.
type Status string

// The incident states.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// ParseStatus accepts the three status names.
func ParseStatus(s string) (Status, bool) {
	switch Status(s) {
	case StatusTriggered, StatusAcknowledged, StatusResolved:
		return Status(s), true
	}
	return "", false
}

// Incident is one incident as the API and the outbox show it.
type Incident struct {
	ID             int64           `json:"id"`
	Status         Status          `json:"status"`
	Title          string          `json:"title"`
	Team           string          `json:"team"`
	Severity       ingest.Severity `json:"severity"`
	AlertCount     int             `json:"alert_count"`
	FiringCount    int             `json:"firing_count"`
	Route          string          `json:"route"`
	Policy         string          `json:"escalation_policy"`
	GroupKey       string          `json:"group_key"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	PageAt         time.Time       `json:"page_at"`
	AcknowledgedAt *time.Time      `json:"acknowledged_at"`
	AcknowledgedBy string          `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time      `json:"resolved_at"`
	ResolvedBy     string          `json:"resolved_by,omitempty"`
	// Assignee is who the incident is assigned to, "" when nobody.
	Assignee string `json:"assignee,omitempty"`
	// ParentID is the storm incident this one joined (storm mode), 0 when
	// none: the storm has the room and does the paging.
	ParentID int64 `json:"parent_id,omitempty"`
	// Children counts the incidents of a storm incident, OpenChildren
	// those not resolved.
	Children     int `json:"children,omitempty"`
	OpenChildren int `json:"open_children,omitempty"`
}

// Alert is an alert as stored with its incident.
type Alert struct {
	ID          int64             `json:"id"`
	IncidentID  int64             `json:"incident_id"`
	Integration string            `json:"integration"`
	Fingerprint string            `json:"fingerprint"`
	Status      ingest.Status     `json:"status"`
	Severity    ingest.Severity   `json:"severity"`
	Summary     string            `json:"summary"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	SourceURL   string            `json:"source_url,omitempty"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at"`
	FirstSeenAt time.Time         `json:"first_seen_at"`
	LastSeenAt  time.Time         `json:"last_seen_at"`
}

// Event is one timeline entry.
type Event struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	AlertID *int64    `json:"alert_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// Detail is an incident with its alerts and timeline.
type Detail struct {
	Incident
	Alerts   []Alert `json:"alerts"`
	Timeline []Event `json:"timeline"`
}

// Timeline and outbox event kinds.
const (
	KindTriggered      = "incident.triggered"
	KindAcknowledged   = "incident.acknowledged"
	KindUnacknowledged = "incident.unacknowledged"
	KindResolved       = "incident.resolved"
	KindReopened       = "incident.reopened"
	KindAlertAdded     = "alert.added"
	KindAlertResolved  = "alert.resolved"
	KindAlertRefired   = "alert.refired"
	KindSeverityRaised = "incident.severity_raised"
	KindPaging         = "incident.paging"
	KindAssigned       = "incident.assigned"
	KindNotPaged       = "incident.not_paged"
	// KindStormJoined, on a storm incident's timeline, names an incident
	// that joined it; KindJoinedStorm, on the incident's own, names the
	// storm.
	KindStormJoined = "incident.storm_joined"
	KindJoinedStorm = "incident.joined_storm"
	// KindTriaged is the triage's summary, KindTriageAI its AI analysis
	// (package triage writes both).
	KindTriaged  = "incident.triaged"
	KindTriageAI = "incident.triage_ai"
)

// TimerPage is the timer kind that starts paging once alert_delay has
// passed. The on-call engine takes over from it.
const TimerPage = "page"

// ErrNotFound is returned for an incident id that does not exist.
var ErrNotFound = errors.New("incident not found")

// ConflictError refuses a transition that the incident's state does not
// allow, saying why in words a responder understands.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

func conflictf(format string, args ...any) error {
	return &ConflictError{Msg: fmt.Sprintf(format, args...)}
}

// EventPayload is the JSON body of every incident outbox event.
type EventPayload struct {
	Event  string    `json:"event"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
	// Paging names the people an escalation step pages, so chat rooms
	// can call them in (invite, add, mention) where the team works.
	Paging []string `json:"paging,omitempty"`
	// Lines, for consumers that show the latest state (chat rooms), are
	// every event of the incident in one transaction, in order, when
	// there were several: one update stands for them all, and the fields
	// above are the last one's.
	Lines    []EventLine `json:"lines,omitempty"`
	Incident Incident    `json:"incident"`
}

// EventLine is one event an update stands for.
type EventLine struct {
	Event  string   `json:"event"`
	Actor  string   `json:"actor"`
	Detail string   `json:"detail,omitempty"`
	Paging []string `json:"paging,omitempty"`
	// More counts events of this kind left out of the update (past the
	// first few alerts of a burst): told as a count.
	More int `json:"more,omitempty"`
}

func (p EventPayload) marshal() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		// Every field is a plain value; this cannot fail.
		panic(fmt.Sprintf("marshal event payload: %v", err))
	}
	return b
}
