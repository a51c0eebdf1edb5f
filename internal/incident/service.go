package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/ingest"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// Publisher enqueues an event for delivery in the caller's transaction.
type Publisher interface {
	// Wants reports whether anyone may receive events of kind, WantsEach
	// whether a consumer that takes every event (not only the latest
	// state) may.
	Wants(kind string) bool
	WantsEach(kind string) bool
	Publish(tx *store.Tx, e outbox.Event) error
	// PublishEach and PublishLatest split a burst: each event to the
	// consumers that take every one, one standing for the burst to those
	// that show the latest state.
	PublishEach(tx *store.Tx, e outbox.Event) error
	PublishLatest(tx *store.Tx, e outbox.Event) error
}

// Options configure a Service.
type Options struct {
	// ReopenWindow: an alert that fires again this soon after its incident
	// resolved reopens the incident; later it opens a new one.
	ReopenWindow time.Duration
	// TimerArmed, if set, is called after a transaction that armed a timer
	// commits, to wake the timer loop.
	TimerArmed func()
	// PagingStarted, if set, runs in the transaction in which an
	// incident's alert_delay ends with the incident still triggered: the
	// escalation engine starts there.
	PagingStarted func(tx *store.Tx, inc Incident) error
	Logger        *slog.Logger
}

// Service is the incident domain: ingest and lifecycle commands.
type Service struct {
	store *store.Store
	clock clock.Clock
	// router is the routes in force; SetRouter swaps them.
	router atomic.Pointer[Router]
	pub    Publisher
	opts   Options
	known  *stateCache
}

// NewService wires the incident domain.
func NewService(s *store.Store, c clock.Clock, r *Router, pub Publisher, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	svc := &Service{store: s, clock: c, pub: pub, opts: opts, known: newStateCache()}
	svc.router.Store(r)
	return svc
}

// SetRouter puts new routes in force: alerts taken after it returns are
// routed by r. Incidents already open keep their route, team and policy.
func (s *Service) SetRouter(r *Router) { s.router.Store(r) }

// Result counts what Ingest did with each alert.
type Result struct {
	// New alerts joined an incident (opening it, or reopening it).
	New int `json:"new"`
	// Updated alerts were already known and still firing.
	Updated int `json:"updated"`
	// Resolved alerts stopped firing.
	Resolved int `json:"resolved"`
	// Refired alerts fired again while their incident was still open.
	Refired int `json:"refired"`
	// Ignored alerts changed nothing: a resolve of an alert that is not
	// firing, or of one never seen.
	Ignored int `json:"ignored"`
	// Incidents lists the incidents the alerts belong to, in first-seen
	// order, without repeats.
	Incidents []int64 `json:"incidents"`
	// Opened counts incidents created by this call.
	Opened int `json:"opened"`
}

func (r *Result) touch(id int64) {
	for _, x := range r.Incidents {
		if x == id {
			return
		}
	}
	r.Incidents = append(r.Incidents, id)
}

// prepared is an alert with everything computed that does not need the
// database, so the single writer does only SQL.
type prepared struct {
	ingest.Alert
	route       *Route
	groupKey    string
	labels      string
	annotations string
	hash        uint64
	// incidentID is the incident the alert ended up in, once written.
	incidentID int64
}

func (s *Service) prepare(alerts []ingest.Alert) []prepared {
	// One body is routed by one version of the routes.
	router := s.router.Load()
	out := make([]prepared, len(alerts))
	for i, a := range alerts {
		p := &out[i]
		p.Alert = a
		p.route = router.Route(a.Labels)
		p.Severity = min(a.Severity, p.route.SeverityMax)
		p.groupKey = p.route.GroupKey(&a)
		p.hash = p.digest()
	}
	return out
}

// encode renders the label and annotation maps for the database; only
// alerts that will be written need it.
func (p *prepared) encode() error {
	lb, err := json.Marshal(p.Labels)
	if err != nil {
		return fmt.Errorf("encode labels of %s: %w", p.Fingerprint, err)
	}
	an, err := json.Marshal(p.Annotations)
	if err != nil {
		return fmt.Errorf("encode annotations of %s: %w", p.Fingerprint, err)
	}
	p.labels, p.annotations = string(lb), string(an)
	return nil
}

// Ingest records alerts from integration and returns once they, and every
// incident change they cause, are committed to disk.
func (s *Service) Ingest(ctx context.Context, integration string, alerts []ingest.Alert) (Result, error) {
	prep := s.prepare(alerts)
	// Repeats that would change nothing are answered from what the last
	// commit left; only the rest go to the writer.
	var res Result
	now := s.clock.Now()
	pending := prep[:0:0]
	for i := range prep {
		p := &prep[i]
		st, ok := s.known.get(alertKey{integration, p.Fingerprint})
		if !ok || !st.unchanged(p, now) {
			if err := p.encode(); err != nil {
				return Result{}, err
			}
			pending = append(pending, *p)
			continue
		}
		if p.Status == ingest.StatusFiring {
			res.Updated++
			res.touch(st.incidentID)
		} else {
			res.Ignored++
		}
	}
	if len(pending) == 0 {
		return res, nil
	}
	var written Result
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		written = Result{}
		now := s.clock.Now()
		for i := range pending {
			p := &pending[i]
			if err := s.ingestOne(tx, now, integration, p, &written); err != nil {
				return fmt.Errorf("alert %s: %w", p.Fingerprint, err)
			}
		}
		tx.AfterCommit(func() {
			for i := range pending {
				p := &pending[i]
				s.known.put(alertKey{integration, p.Fingerprint},
					alertState{status: p.Status, digest: p.hash, incidentID: p.incidentID, writtenAt: now})
			}
		})
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("ingest %d alerts from %s: %w", len(alerts), integration, err)
	}
	res.New += written.New
	res.Updated += written.Updated
	res.Resolved += written.Resolved
	res.Refired += written.Refired
	res.Ignored += written.Ignored
	res.Opened += written.Opened
	for _, id := range written.Incidents {
		res.touch(id)
	}
	return res, nil
}

func (s *Service) ingestOne(tx *store.Tx, now time.Time, integration string, p *prepared, res *Result) error {
	var (
		alertID     int64
		alertStatus ingest.Status
		incID       int64
		incStatus   Status
		incSeverity ingest.Severity
	)
	err := tx.QueryRow(`SELECT a.id, a.status, i.id, i.status, i.severity
		FROM alerts a JOIN incidents i ON i.id = a.incident_id
		WHERE a.integration = ? AND a.fingerprint = ?
		ORDER BY a.id DESC LIMIT 1`, integration, p.Fingerprint).
		Scan(&alertID, &alertStatus, &incID, &incStatus, &incSeverity)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("look up alert: %w", err)
	}
	if found {
		p.incidentID = incID
	}
	if found && incStatus != StatusResolved {
		res.touch(incID)
		return s.updateOpen(tx, now, integration, p, res, alertID, alertStatus, incID, incSeverity)
	}
	if p.Status == ingest.StatusResolved {
		// A resolve for an alert we have no firing record of: nothing to
		// undo. It may be the echo of a person's resolve, or an alert that
		// fired before this database existed.
		res.Ignored++
		return nil
	}

	// A firing alert that belongs to no open incident: join its group's
	// open incident, else reopen the group's recent one, else open one.
	// The alerts of one request mostly share their groups: once found, a
	// group's open incident is remembered for the rest of the transaction.
	groups := openGroupsOf(tx)
	g, known := groups[p.groupKey]
	target, sev := g.id, g.severity
	if !known {
		var err error
		if target, sev, err = s.openIncidentOf(tx, p.groupKey); err != nil {
			return err
		}
	}
	opened := false
	if target == 0 {
		if target, sev, err = s.reopenRecent(tx, now, integration, p); err != nil {
			return err
		}
	}
	var storm int64
	pageNow := false
	if target == 0 {
		if storm, err = s.stormOf(tx, now, p); err != nil {
			return err
		}
		if storm != 0 {
			target, err = s.joinStorm(tx, now, p, storm)
		} else {
			target, pageNow, err = s.open(tx, now, p)
		}
		if err != nil {
			return err
		}
		opened = true
		res.Opened++
	}
	res.touch(target)
	p.incidentID = target
	if found && incID == target {
		// The alert's own incident reopened: its row fires again.
		return s.updateOpen(tx, now, integration, p, res, alertID, alertStatus, incID, sev)
	}
	res.New++
	if err := s.attach(tx, now, integration, p, target, sev, opened); err != nil {
		return err
	}
	groups[p.groupKey] = openGroup{id: target, severity: max(sev, p.Severity)}
	if storm != 0 {
		return s.recordJoin(tx, now, target, storm, p.Summary)
	}
	if pageNow {
		return s.pageNow(tx, now, target)
	}
	return nil
}

// pageNow starts a new incident's paging in the transaction that opened
// it: behind a storm's thousands of due timers, its first page would wait
// its turn. If paging fails, the alert is still taken: its changes are
// undone and a page timer retries them, as it would after alert_delay.
func (s *Service) pageNow(tx *store.Tx, now time.Time, id int64) error {
	err := tx.Try(func() error { return s.startPaging(tx, now, id) })
	if err == nil {
		return nil
	}
	s.opts.Logger.Warn("start paging of a new incident; a timer retries it", "incident", id, "err", err)
	return s.armPage(tx, now, id, now)
}

// updateOpen handles a known alert whose incident is still open.
func (s *Service) updateOpen(tx *store.Tx, now time.Time, integration string, p *prepared, res *Result,
	alertID int64, was ingest.Status, incID int64, incSeverity ingest.Severity) error {
	ms := now.UnixMilli()
	switch {
	case p.Status == ingest.StatusFiring && was == ingest.StatusFiring:
		res.Updated++
		if _, err := tx.Exec(`UPDATE alerts SET last_seen_at = ?, summary = ?, annotations = ?, severity = ?, source_url = ? WHERE id = ?`,
			ms, p.Summary, p.annotations, p.Severity, p.SourceURL, alertID); err != nil {
			return fmt.Errorf("update alert: %w", err)
		}
		if p.Severity > incSeverity {
			return s.raiseSeverity(tx, now, integration, incID, incSeverity, p.Severity)
		}
		return nil

	case p.Status == ingest.StatusResolved && was == ingest.StatusFiring:
		res.Resolved++
		if _, err := tx.Exec(`UPDATE alerts SET status = 'resolved', ends_at = ?, last_seen_at = ? WHERE id = ?`,
			p.EndsAt.UnixMilli(), ms, alertID); err != nil {
			return fmt.Errorf("resolve alert: %w", err)
		}
		var firing int
		if err := tx.QueryRow(`UPDATE incidents SET firing_count = firing_count - 1, updated_at = ? WHERE id = ? RETURNING firing_count`,
			ms, incID).Scan(&firing); err != nil {
			return fmt.Errorf("count firing alerts: %w", err)
		}
		if err := s.record(tx, now, incID, KindAlertResolved, integration, &alertID, p.Summary); err != nil {
			return err
		}
		if firing > 0 {
			return nil
		}
		return s.autoResolve(tx, now, incID, integration)

	case p.Status == ingest.StatusFiring && was == ingest.StatusResolved:
		res.Refired++
		if _, err := tx.Exec(`UPDATE alerts SET status = 'firing', ends_at = NULL, starts_at = ?, last_seen_at = ?, summary = ?, annotations = ?, severity = ? WHERE id = ?`,
			p.StartsAt.UnixMilli(), ms, p.Summary, p.annotations, p.Severity, alertID); err != nil {
			return fmt.Errorf("refire alert: %w", err)
		}
		if _, err := tx.Exec(`UPDATE incidents SET firing_count = firing_count + 1, updated_at = ? WHERE id = ?`, ms, incID); err != nil {
			return fmt.Errorf("count firing alerts: %w", err)
		}
		if err := s.record(tx, now, incID, KindAlertRefired, integration, &alertID, p.Summary); err != nil {
			return err
		}
		if p.Severity > incSeverity {
			return s.raiseSeverity(tx, now, integration, incID, incSeverity, p.Severity)
		}
		return nil

	default: // resolved again: nothing changes
		res.Ignored++
		return nil
	}
}

func (s *Service) raiseSeverity(tx *store.Tx, now time.Time, actor string, incID int64, from, to ingest.Severity) error {
	clear(openGroupsOf(tx)) // a remembered severity may be the old one
	if _, err := tx.Exec(`UPDATE incidents SET severity = ?, updated_at = ? WHERE id = ?`, to, now.UnixMilli(), incID); err != nil {
		return fmt.Errorf("raise severity: %w", err)
	}
	return s.record(tx, now, incID, KindSeverityRaised, actor, nil, from.String()+" -> "+to.String())
}

// openIncidentOf returns the open incident of a group and its severity,
// or 0.
func (s *Service) openIncidentOf(tx *store.Tx, groupKey string) (int64, ingest.Severity, error) {
	var id int64
	var sev ingest.Severity
	err := tx.QueryRow(`SELECT id, severity FROM incidents WHERE group_key = ? AND status != 'resolved'`, groupKey).Scan(&id, &sev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("find open incident of group: %w", err)
	}
	return id, sev, nil
}

// reopenRecent reopens the group's incident if it resolved within the
// reopen window, and returns its id and severity, or 0.
func (s *Service) reopenRecent(tx *store.Tx, now time.Time, integration string, p *prepared) (int64, ingest.Severity, error) {
	if s.opts.ReopenWindow <= 0 {
		return 0, 0, nil
	}
	var id int64
	var sev ingest.Severity
	err := tx.QueryRow(`SELECT id, severity FROM incidents WHERE group_key = ? AND status = 'resolved' AND resolved_at >= ?
		ORDER BY resolved_at DESC LIMIT 1`, p.groupKey, now.Add(-s.opts.ReopenWindow).UnixMilli()).Scan(&id, &sev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("find recently resolved incident: %w", err)
	}
	pageAt := now.Add(p.route.AlertDelay)
	if err := s.reopen(tx, now, id, integration, pageAt,
		fmt.Sprintf("%s fired again within %s of the resolve", p.Summary, s.opts.ReopenWindow)); err != nil {
		return 0, 0, err
	}
	return id, sev, nil
}

// pageTime is when an incident opened by a may first page: once the alert
// has fired for the route's alert_delay, but never before now (an alert
// that started before it reached us) nor later than now+delay (a sender
// whose clock runs ahead).
func pageTime(now, startsAt time.Time, delay time.Duration) time.Time {
	t := startsAt.Add(delay)
	if t.Before(now) {
		return now
	}
	if late := now.Add(delay); t.After(late) {
		return late
	}
	return t
}

// open opens p's incident and says whether its paging starts now (no
// alert_delay left to wait): then the caller starts it, once the alert is
// attached, in the same transaction. Later paging waits on a timer.
func (s *Service) open(tx *store.Tx, now time.Time, p *prepared) (int64, bool, error) {
	ms := now.UnixMilli()
	pageAt := pageTime(now, p.StartsAt, p.route.AlertDelay)
	res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, created_at, updated_at, page_at)
		VALUES (?, ?, ?, ?, ?, ?, 'triggered', ?, ?, ?)`,
		p.groupKey, p.route.Name, p.route.Team, p.route.Policy, p.Summary, p.Severity, ms, ms, pageAt.UnixMilli())
	if err != nil {
		return 0, false, fmt.Errorf("open incident: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, false, fmt.Errorf("open incident: %w", err)
	}
	if !pageAt.After(now) {
		return id, true, nil
	}
	return id, false, s.armPage(tx, now, id, pageAt)
}

func (s *Service) armPage(tx *store.Tx, now time.Time, id int64, at time.Time) error {
	if err := timer.Arm(tx, TimerPage, id, at, "", now); err != nil {
		return err
	}
	if s.opts.TimerArmed != nil {
		tx.AfterCommit(s.opts.TimerArmed)
	}
	return nil
}

// attach adds a new firing alert row to incident incID, whose severity
// was sev.
func (s *Service) attach(tx *store.Tx, now time.Time, integration string, p *prepared, incID int64, sev ingest.Severity, opened bool) error {
	ms := now.UnixMilli()
	res, err := tx.Exec(`INSERT INTO alerts (incident_id, integration, fingerprint, status, severity, summary, labels, annotations,
		source_url, starts_at, first_seen_at, last_seen_at) VALUES (?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?, ?, ?)`,
		incID, integration, p.Fingerprint, p.Severity, p.Summary, p.labels, p.annotations, p.SourceURL,
		p.StartsAt.UnixMilli(), ms, ms)
	if err != nil {
		return fmt.Errorf("insert alert: %w", err)
	}
	alertID, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert alert: %w", err)
	}
	if _, err := tx.Exec(`UPDATE incidents SET alert_count = alert_count + 1, firing_count = firing_count + 1,
		severity = MAX(severity, ?), updated_at = ? WHERE id = ?`, p.Severity, ms, incID); err != nil {
		return fmt.Errorf("count alerts: %w", err)
	}
	if opened {
		return s.record(tx, now, incID, KindTriggered, integration, &alertID, p.Summary)
	}
	if err := s.record(tx, now, incID, KindAlertAdded, integration, &alertID, p.Summary); err != nil {
		return err
	}
	if p.Severity > sev {
		return s.record(tx, now, incID, KindSeverityRaised, integration, nil, sev.String()+" -> "+p.Severity.String())
	}
	return nil
}

// openGroup is a group's open incident, as this transaction left it.
type openGroup struct {
	id       int64
	severity ingest.Severity
}

type openGroupsSlot struct{}

// openGroupsOf returns the groups whose open incident this transaction
// found or made, by group key.
func openGroupsOf(tx *store.Tx) map[string]openGroup {
	return tx.Local(openGroupsSlot{}, func() any { return map[string]openGroup{} }).(map[string]openGroup)
}

// autoResolve resolves an incident whose last firing alert resolved.
func (s *Service) autoResolve(tx *store.Tx, now time.Time, incID int64, actor string) error {
	clear(openGroupsOf(tx)) // the group has no open incident now
	ms := now.UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET status = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?`,
		ms, actor, ms, incID); err != nil {
		return fmt.Errorf("resolve incident: %w", err)
	}
	if err := s.stopPaging(tx, now, incID, actor); err != nil {
		return err
	}
	if err := s.record(tx, now, incID, KindResolved, actor, nil, "all alerts resolved"); err != nil {
		return err
	}
	return s.closedInStorm(tx, now, incID)
}

// closedInStorm counts a resolved incident out of its storm, if it is in
// one.
func (s *Service) closedInStorm(tx *store.Tx, now time.Time, incID int64) error {
	storm, err := parentOf(tx, incID)
	if err != nil || storm == 0 {
		return err
	}
	return s.childClosed(tx, now, storm)
}

// stopPaging cancels an incident's timers, and notes when the incident
// ended before its alert_delay let anyone be paged.
func (s *Service) stopPaging(tx *store.Tx, now time.Time, incID int64, actor string) error {
	pending, err := timer.Cancel(tx, incID, TimerPage)
	if err != nil {
		return err
	}
	if _, err := timer.Cancel(tx, incID); err != nil {
		return err
	}
	if pending > 0 {
		return s.record(tx, now, incID, KindNotPaged, actor, nil, "ended before its alert delay passed; nobody was paged")
	}
	return nil
}

// reopen moves a resolved incident back to triggered and arms paging.
func (s *Service) reopen(tx *store.Tx, now time.Time, id int64, actor string, pageAt time.Time, detail string) error {
	ms := now.UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET status = 'triggered', resolved_at = NULL, resolved_by = NULL,
		acknowledged_at = NULL, acknowledged_by = NULL, page_at = ?, updated_at = ? WHERE id = ?`,
		pageAt.UnixMilli(), ms, id); err != nil {
		return fmt.Errorf("reopen incident %d: %w", id, err)
	}
	// An incident of a storm that is still open comes back into it,
	// paged through it; one of a storm already over pages on its own.
	inStorm := false
	if storm, err := parentOf(tx, id); err != nil {
		return err
	} else if storm != 0 {
		if inStorm, err = s.childReopened(tx, now, id, storm); err != nil {
			return err
		}
	}
	if !inStorm {
		if err := s.armPage(tx, now, id, pageAt); err != nil {
			return err
		}
	}
	return s.record(tx, now, id, KindReopened, actor, nil, detail)
}

// record appends a timeline entry and publishes it with a snapshot of the
// incident as it is now, inside tx.
func (s *Service) record(tx *store.Tx, now time.Time, incID int64, kind, actor string, alertID *int64, detail string) error {
	return s.recordPaging(tx, now, incID, kind, actor, alertID, detail, nil)
}

// recordPaging is record with the people the entry pages named in the
// published event.
func (s *Service) recordPaging(tx *store.Tx, now time.Time, incID int64, kind, actor string, alertID *int64, detail string, paging []string) error {
	res, err := tx.Exec(`INSERT INTO timeline (incident_id, at, kind, actor, alert_id, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		incID, now.UnixMilli(), kind, actor, alertID, detail)
	if err != nil {
		return fmt.Errorf("append %s to timeline: %w", kind, err)
	}
	evID, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("append %s to timeline: %w", kind, err)
	}
	if s.pub == nil || !s.pub.Wants(kind) {
		return nil
	}
	if s.pub.WantsEach(kind) {
		if err := s.publishEach(tx, now, incID, evID, kind, actor, detail, paging); err != nil {
			return err
		}
	}
	s.gather(tx, incID, evID, EventLine{Event: kind, Actor: actor, Detail: detail, Paging: paging},
		kind == KindTriggered || kind == KindReopened)
	return nil
}
