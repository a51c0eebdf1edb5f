package oncall

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/store"
)

// Service is the on-call directory: the configured schedules with the
// overrides made at run time, which live in the store.
type Service struct {
	store *store.Store
	clock clock.Clock
	// dir is the people, teams and configuration in force; Reload swaps
	// it whole, so a reader sees one configuration or the next.
	dir atomic.Pointer[directory]

	pub Publisher

	keyMu sync.Mutex
	key   []byte

	mu        sync.RWMutex
	schedules map[string]*Schedule
	// base are the schedules as configured, before run-time layer edits.
	base   map[string]*Schedule
	client *http.Client
	// reloading serializes Reload and RefreshImports, which both replace
	// base.
	reloading sync.Mutex
}

// directory is one configuration's people and teams, by name.
type directory struct {
	people map[string]config.Person
	teams  map[string]config.Team
	cfg    *config.Config
}

func newDirectory(cfg *config.Config) *directory {
	d := &directory{people: map[string]config.Person{}, teams: map[string]config.Team{}, cfg: cfg}
	for _, p := range cfg.People {
		d.people[p.Name] = p
	}
	for _, t := range cfg.Teams {
		d.teams[t.Name] = t
	}
	return d
}

// d is the directory in force.
func (s *Service) d() *directory { return s.dir.Load() }

// RefreshImports reads the calendars of imported layers again. On any
// error the schedules keep the shifts they had, and the error says why.
func (s *Service) RefreshImports(ctx context.Context) error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	return s.rebuild(ctx, s.d().cfg)
}

// Reload puts cfg in force: its people and teams, and its schedules
// rebuilt (imported layers read again) with their run-time edits and
// overrides. A schedule cfg no longer defines is dropped. On an error
// nothing changes.
func (s *Service) Reload(ctx context.Context, cfg *config.Config) error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	if err := s.rebuild(ctx, cfg); err != nil {
		return err
	}
	s.dir.Store(newDirectory(cfg))
	return nil
}

// rebuild builds cfg's schedules and swaps them in; the caller holds
// reloading.
func (s *Service) rebuild(ctx context.Context, cfg *config.Config) error {
	fresh, err := SchedulesFromConfig(cfg.Schedules)
	if err != nil {
		return err
	}
	if err := ImportLayers(ctx, fresh, cfg, s.client, s.clock.Now()); err != nil {
		return err
	}
	built := map[string]*Schedule{}
	for name, base := range fresh {
		sc, err := s.build(ctx, name, base)
		if err != nil {
			return err
		}
		built[name] = sc
	}
	s.mu.Lock()
	s.base, s.schedules = fresh, built
	s.mu.Unlock()
	return nil
}

// HasURLImports reports whether any layer is imported from a URL, which
// needs refreshing.
func (s *Service) HasURLImports() bool {
	for _, sc := range s.d().cfg.Schedules {
		for _, l := range sc.Layers {
			if l.ICal != nil && l.ICal.URL != "" {
				return true
			}
		}
	}
	return false
}

// ErrUnknown is returned for a schedule, team or person that does not exist.
var ErrUnknown = errors.New("not found")

// InvalidError is a request the caller must fix, with the field at fault.
type InvalidError struct{ Field, Msg string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

// overrideHistory is how far back overrides stay loaded, so the final
// schedule of the recent past still shows them.
const overrideHistory = 35 * 24 * time.Hour

// NewService builds the schedules of cfg and loads their overrides.
func NewService(ctx context.Context, st *store.Store, c clock.Clock, cfg *config.Config) (*Service, error) {
	scheds, err := SchedulesFromConfig(cfg.Schedules)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if err := ImportLayers(ctx, scheds, cfg, client, c.Now()); err != nil {
		return nil, err
	}
	s := &Service{store: st, clock: c, schedules: map[string]*Schedule{}, base: scheds, client: client}
	s.dir.Store(newDirectory(cfg))
	for name, sc := range scheds {
		s.schedules[name] = sc
	}
	for name := range scheds {
		if err := s.reload(ctx, name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// reload rebuilds a schedule from its configuration, the latest run-time
// edit of each layer, and its live overrides, and swaps it in.
func (s *Service) reload(ctx context.Context, name string) error {
	s.mu.RLock()
	base := s.base[name]
	s.mu.RUnlock()
	if base == nil {
		return fmt.Errorf("schedule %q: %w", name, ErrUnknown)
	}
	next, err := s.build(ctx, name, base)
	if err != nil {
		return err
	}
	s.mu.Lock()
	// A reload that swapped the configuration meanwhile built its own.
	if s.base[name] == base {
		s.schedules[name] = next
	}
	s.mu.Unlock()
	return nil
}

// build makes a schedule from its configured base, the latest run-time
// edit of each layer, and its live overrides.
func (s *Service) build(ctx context.Context, name string, base *Schedule) (*Schedule, error) {
	layers, err := s.editedLayers(ctx, name, base.Layers)
	if err != nil {
		return nil, err
	}
	since := s.clock.Now().Add(-overrideHistory).UnixMilli()
	rows, err := s.store.Read().QueryContext(ctx, `SELECT id, kind, user_name, replaces, start_at, end_at
		FROM schedule_overrides WHERE schedule = ? AND deleted_at IS NULL AND end_at > ? ORDER BY id`, name, since)
	if err != nil {
		return nil, fmt.Errorf("load overrides of %s: %w", name, err)
	}
	defer rows.Close()
	var list []Override
	for rows.Next() {
		var o Override
		var start, end int64
		if err := rows.Scan(&o.ID, &o.Kind, &o.User, &o.Replaces, &start, &end); err != nil {
			return nil, fmt.Errorf("load overrides of %s: %w", name, err)
		}
		o.Start, o.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load overrides of %s: %w", name, err)
	}
	return NewSchedule(name, base.Zone, layers, list)
}

// Schedule returns a schedule by name.
func (s *Service) Schedule(name string) (*Schedule, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sc, ok := s.schedules[name]
	return sc, ok
}

// Schedules returns every schedule, by name.
func (s *Service) Schedules() []*Schedule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Schedule, 0, len(s.schedules))
	for _, sc := range s.schedules {
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// People returns every configured person, by name.
func (s *Service) People() []config.Person {
	out := make([]config.Person, 0, len(s.d().people))
	for _, p := range s.d().people {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Person returns a configured person.
func (s *Service) Person(name string) (config.Person, bool) {
	p, ok := s.d().people[name]
	return p, ok
}

// TeamOnCall is who is on call for a team now and what comes next.
type TeamOnCall struct {
	Team     string    `json:"team"`
	Schedule string    `json:"schedule"`
	Users    []string  `json:"on_call"`
	Until    time.Time `json:"until"`
	// Next lists the coming handoffs: from each Start, Users are on call.
	Next []Segment `json:"next_handoffs"`
}

// handoffHorizon bounds how far ahead handoffs are looked for.
const handoffHorizon = 35 * 24 * time.Hour

// TeamOnCall answers who is on call for team at the clock's now.
func (s *Service) TeamOnCall(team string, next int) (TeamOnCall, error) {
	t, ok := s.d().teams[team]
	if !ok {
		return TeamOnCall{}, fmt.Errorf("team %q: %w", team, ErrUnknown)
	}
	out := TeamOnCall{Team: team, Schedule: t.Schedule, Users: []string{}, Next: []Segment{}}
	sc, ok := s.Schedule(t.Schedule)
	if !ok {
		return out, nil // a team without a schedule has nobody on call
	}
	now := s.clock.Now()
	if u := sc.OnCall(now); u != nil {
		out.Users = u
	}
	final := sc.Final(now, now.Add(handoffHorizon))
	if len(final) > 0 {
		out.Until = final[0].End
		rest := final[1:]
		out.Next = rest[:min(next, len(rest))]
	}
	return out, nil
}

// NewOverride is what AddOverride takes.
type NewOverride struct {
	Kind     OverrideKind
	User     string
	Replaces string
	Start    time.Time
	End      time.Time
	Note     string
}

// AddOverride records an override on a schedule and returns it with its
// id. The schedule answers with it as soon as this returns.
func (s *Service) AddOverride(ctx context.Context, schedule string, n NewOverride, actor string) (Override, error) {
	if _, ok := s.Schedule(schedule); !ok {
		return Override{}, fmt.Errorf("schedule %q: %w", schedule, ErrUnknown)
	}
	switch n.Kind {
	case Add, Remove, Replace:
	default:
		return Override{}, &InvalidError{"kind", fmt.Sprintf("%q is not add, remove or replace", n.Kind)}
	}
	if _, ok := s.d().people[n.User]; !ok {
		return Override{}, &InvalidError{"user", fmt.Sprintf("%q is not a known person", n.User)}
	}
	if n.Replaces != "" {
		if n.Kind != Replace {
			return Override{}, &InvalidError{"replaces", "only a replace override replaces someone"}
		}
		if _, ok := s.d().people[n.Replaces]; !ok {
			return Override{}, &InvalidError{"replaces", fmt.Sprintf("%q is not a known person", n.Replaces)}
		}
	}
	if n.Start.IsZero() || n.End.IsZero() {
		return Override{}, &InvalidError{"start", "start and end are required"}
	}
	if !n.End.After(n.Start) {
		return Override{}, &InvalidError{"end", "must be after start"}
	}
	now := s.clock.Now()
	if !n.End.After(now) {
		return Override{}, &InvalidError{"end", "is in the past; an override changes what is to come"}
	}
	var id int64
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`INSERT INTO schedule_overrides (schedule, kind, user_name, replaces, start_at, end_at, created_at, created_by, note)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, schedule, n.Kind, n.User, n.Replaces,
			n.Start.UnixMilli(), n.End.UnixMilli(), now.UnixMilli(), actor, n.Note)
		if err != nil {
			return fmt.Errorf("insert override: %w", err)
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Override{}, err
	}
	if err := s.reload(ctx, schedule); err != nil {
		return Override{}, err
	}
	return Override{ID: id, Kind: n.Kind, User: n.User, Replaces: n.Replaces,
		Start: n.Start.Truncate(time.Millisecond).UTC(), End: n.End.Truncate(time.Millisecond).UTC()}, nil
}

// DeleteOverride withdraws an override. Its row stays, marked deleted,
// for the record.
func (s *Service) DeleteOverride(ctx context.Context, schedule string, id int64, actor string) error {
	if _, ok := s.Schedule(schedule); !ok {
		return fmt.Errorf("schedule %q: %w", schedule, ErrUnknown)
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE schedule_overrides SET deleted_at = ?, deleted_by = ?
			WHERE id = ? AND schedule = ? AND deleted_at IS NULL`, s.clock.Now().UnixMilli(), actor, id, schedule)
		if err != nil {
			return fmt.Errorf("delete override: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("override %d of %s: %w", id, schedule, ErrUnknown)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.reload(ctx, schedule)
}

// Teams returns the configured team names, sorted.
func (s *Service) Teams() []string {
	out := make([]string, 0, len(s.d().teams))
	for n := range s.d().teams {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
